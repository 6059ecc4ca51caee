import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';
import {JobEmitter} from '../../source/chunker/emitter.js';
import type {AnomalyEvent, CageEvent} from '../../source/chunker/events.js';
import {attachDetectors} from '../../source/telemetry/detectors.js';

const MiB = 2 ** 20;
const settings = {slowChunkFactor: 4, stallSeconds: 10, collapseFactor: 0.2};

function setup(options: Partial<Parameters<typeof attachDetectors>[1]> = {}) {
	const emitter = new JobEmitter('job-1', () => Date.now());
	const events: CageEvent[] = [];
	emitter.pipe(event => events.push(event));
	const stop = attachDetectors(emitter, {settings, ...options});
	const anomalies = () => events.filter((event): event is AnomalyEvent => event.type === 'anomaly');
	const start = (size: number | null = 1000 * MiB) =>
		emitter.send({type: 'job:start', kind: 'encrypt', source: 'in', output: 'out', size, chunkSize: MiB, chunks: 1000, chunksDone: 0, bytesDone: 0, jobs: 1, pid: 1, resumed: false});
	let bytes = 0;
	const chunk = async (id: number, ms: number) => {
		emitter.send({type: 'chunk:start', chunk: id, start: id * MiB, size: MiB, attempt: 1});
		for (let step = 1; step <= 10; step++) {
			await vi.advanceTimersByTimeAsync(ms / 10);
			emitter.send({type: 'chunk:progress', chunk: id, bytes: (MiB * step) / 10, bytesDone: bytes + (MiB * step) / 10});
		}

		bytes += MiB;
		emitter.send({type: 'chunk:done', chunk: id, start: id * MiB, size: MiB, durationMs: ms, attempt: 1, bytesDone: bytes});
		await Promise.resolve();
	};

	return {emitter, events, stop, anomalies, start, chunk};
}

describe('anomaly detectors', () => {
	beforeEach(() => {
		vi.useFakeTimers({now: 1_700_000_000_000});
	});

	afterEach(() => {
		vi.useRealTimers();
	});

	it('slow-chunk: flags a chunk over slowChunkFactor x the running median, after a few chunks', async () => {
		const {start, chunk, anomalies, stop, events} = setup();
		start();
		for (let id = 0; id < 6; id++) await chunk(id, 500);
		expect(anomalies()).toHaveLength(0);
		await chunk(6, 1900); // 3.8x: not slow
		expect(anomalies()).toHaveLength(0);
		await chunk(7, 2500); // 5x
		const found = anomalies();
		expect(found).toHaveLength(1);
		expect(found[0]).toMatchObject({severity: 'warn', code: 'slow-chunk', chunk: 7});
		expect(found[0]!.message).toContain('chunk 7');
		// The anomaly follows the event that caused it, in seq order.
		const index = events.indexOf(found[0]!);
		expect(events[index - 1]).toMatchObject({type: 'chunk:done', chunk: 7});
		expect(found[0]!.seq).toBe(events[index - 1]!.seq + 1);
		stop();
	});

	it('slow-chunk: does not judge before minChunks, nor chunks in flight across a pause', async () => {
		const {start, chunk, anomalies, emitter, stop} = setup();
		start();
		await chunk(0, 500);
		await chunk(1, 5000); // only one chunk before: no median yet
		for (let id = 2; id < 6; id++) await chunk(id, 500);
		emitter.send({type: 'chunk:start', chunk: 6, start: 6 * MiB, size: MiB, attempt: 1});
		emitter.send({type: 'job:paused', bytesDone: 6 * MiB});
		await vi.advanceTimersByTimeAsync(30_000);
		emitter.send({type: 'job:resumed', bytesDone: 6 * MiB});
		emitter.send({type: 'chunk:done', chunk: 6, start: 6 * MiB, size: MiB, durationMs: 30_500, attempt: 1, bytesDone: 7 * MiB});
		await Promise.resolve();
		expect(anomalies().filter(anomaly => anomaly.code === 'slow-chunk')).toHaveLength(0);
		stop();
	});

	it('stall: no progress for stallSeconds while running raises one warning; paused time does not count', async () => {
		const {start, chunk, anomalies, emitter, stop} = setup();
		start();
		await chunk(0, 500);
		emitter.send({type: 'job:paused', bytesDone: MiB});
		await vi.advanceTimersByTimeAsync(60_000);
		expect(anomalies()).toHaveLength(0);
		emitter.send({type: 'job:resumed', bytesDone: MiB});
		await vi.advanceTimersByTimeAsync(9000);
		expect(anomalies()).toHaveLength(0);
		await vi.advanceTimersByTimeAsync(2000);
		expect(anomalies().map(anomaly => anomaly.code)).toEqual(['stall']);
		await vi.advanceTimersByTimeAsync(30_000);
		expect(anomalies()).toHaveLength(1);
		// Progress re-arms it.
		await chunk(1, 500);
		await vi.advanceTimersByTimeAsync(11_000);
		expect(anomalies().filter(anomaly => anomaly.code === 'stall')).toHaveLength(2);
		stop();
	});

	it('throughput-collapse: a sustained drop under collapseFactor x average raises one warning', async () => {
		const {start, chunk, anomalies, stop} = setup({collapseWindowMs: 5000, collapseWarmupMs: 10_000});
		start();
		let id = 0;
		for (; id < 120; id++) await chunk(id, 100); // 12 s at 10 MiB/s
		expect(anomalies()).toHaveLength(0);
		for (let end = id + 3; id < end; id++) await chunk(id, 4000); // 0.25 MiB/s for 12 s
		const collapse = anomalies().filter(anomaly => anomaly.code === 'throughput-collapse');
		expect(collapse).toHaveLength(1);
		expect(collapse[0]!.message).toMatch(/under 20% of the average/);
		stop();
	});

	it('throughput-collapse: a brief dip does not count', async () => {
		const {start, chunk, anomalies, stop} = setup({collapseWindowMs: 5000, collapseWarmupMs: 10_000});
		start();
		let id = 0;
		for (; id < 120; id++) await chunk(id, 100);
		await chunk(id++, 3000);
		for (let end = id + 60; id < end; id++) await chunk(id, 100);
		expect(anomalies().filter(anomaly => anomaly.code === 'throughput-collapse')).toHaveLength(0);
		stop();
	});

	it('source-changed: polls the source file and reports a change once', async () => {
		vi.useRealTimers();
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-detect-'));
		try {
			const file = path.join(dir, 'source.bin');
			fs.writeFileSync(file, 'a'.repeat(1000));
			const {start, anomalies, stop} = setup({sourcePath: file, pollMs: 30});
			start();
			await new Promise(resolve => setTimeout(resolve, 120));
			expect(anomalies()).toHaveLength(0);
			fs.appendFileSync(file, 'more');
			const deadline = Date.now() + 5000;
			while (anomalies().length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20));
			expect(anomalies()).toHaveLength(1);
			expect(anomalies()[0]).toMatchObject({severity: 'error', code: 'source-changed'});
			expect(anomalies()[0]!.message).toContain('size 1000 -> 1004');
			fs.appendFileSync(file, 'again');
			await new Promise(resolve => setTimeout(resolve, 120));
			expect(anomalies()).toHaveLength(1);
			stop();
		} finally {
			fs.rmSync(dir, {recursive: true, force: true});
		}
	});

	it('stops at job:done: no timers left, nothing raised afterwards', async () => {
		const {start, chunk, anomalies, emitter} = setup();
		start();
		await chunk(0, 500);
		emitter.send({type: 'job:done', outcome: 'completed', bytesDone: MiB, durationMs: 500});
		expect(vi.getTimerCount()).toBe(0);
		await vi.advanceTimersByTimeAsync(60_000);
		expect(anomalies()).toHaveLength(0);
	});
});
