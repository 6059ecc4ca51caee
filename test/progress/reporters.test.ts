import {describe, expect, it} from 'vitest';
import type {CageEvent} from '../../source/chunker/events.js';
import {plainReporter} from '../../source/progress/reporters.js';
import {applyEvent, createDashboardState, selectedJob, settledBytes} from '../../source/telemetry/reducer.js';
import {batchWithSkip} from '../telemetry/synthetic.js';

const MiB = 1024 * 1024;

function lines(events: Array<Record<string, unknown>>, options: Parameters<typeof plainReporter>[1] = {}): string[] {
	let text = '';
	const sink = plainReporter({write: (chunk: string) => (text += chunk)}, options);
	let seq = 0;
	for (const event of events) sink({job: 'j', seq: seq++, ...event} as unknown as CageEvent);
	return text.trim().split('\n');
}

describe('plain progress lines', () => {
	const start = {type: 'job:start', kind: 'encrypt', source: '/d/big', output: '/d/big.age', size: 800 * MiB, chunkSize: 16 * MiB, chunks: 50, jobs: 2, pid: 1, ts: 0};

	it('a fresh job: its bytes, time and rate', () => {
		const out = lines([{...start, chunksDone: 0, bytesDone: 0, resumed: false}, {type: 'job:done', outcome: 'completed', bytesDone: 800 * MiB, durationMs: 2000, ts: 2000}]);
		expect(out.at(-1)).toBe('completed: 800 MiB in 2.0s (400 MiB/s)');
	});

	it('a lock or unlock batch is called so, with the file\'s own names, or its directory in place', () => {
		const one = lines([{...start, kind: 'encrypt', inPlace: 'lock', items: 1, chunkSize: 0, chunks: 0, chunksDone: 0, bytesDone: 0, resumed: false}, {type: 'chunk:done', chunk: 0, start: 0, size: MiB, durationMs: 1, attempt: 1, bytesDone: MiB, item: 0, ts: 2000}]);
		expect(one[0]).toBe('lock /d/big -> /d/big.age: 800 MiB, 1 file(s), 2 job(s)');
		expect(one[1]).toMatch(/^lock: /);
		const many = lines([{...start, kind: 'decrypt', inPlace: 'unlock', source: '/d', output: '/d', items: 3, chunkSize: 0, chunks: 0, chunksDone: 0, bytesDone: 0, resumed: false}]);
		expect(many[0]).toBe('unlock /d (in place, each FILE.age -> FILE): 800 MiB, 3 file(s), 2 job(s)');
	});

	it('a resumed job: the total, and what this run did in its time at its rate', () => {
		const out = lines([{...start, chunksDone: 37, bytesDone: 592 * MiB, resumed: true}, {type: 'job:done', outcome: 'completed', bytesDone: 800 * MiB, durationMs: 500, ts: 500}]);
		expect(out[0]).toContain('(resuming at chunk 37/50, 592 MiB done)');
		expect(out.at(-1)).toBe('completed: 800 MiB (208 MiB in this run) in 0.5s (416 MiB/s)');
	});

	it('the live rate and the end line\'s agree: both leave out pauses and the set-up before job:start', () => {
		const out = lines([
			{...start, chunksDone: 0, bytesDone: 0, resumed: false, ts: 1000},
			{type: 'chunk:progress', chunk: 0, bytes: 100 * MiB, bytesDone: 100 * MiB, ts: 2000},
			{type: 'job:paused', bytesDone: 100 * MiB, ts: 2000},
			{type: 'job:resumed', bytesDone: 100 * MiB, ts: 3000},
			{type: 'chunk:progress', chunk: 1, bytes: 100 * MiB, bytesDone: 200 * MiB, ts: 4000},
			// durationMs counts the 300 ms of header and workers before job:start too.
			{type: 'job:done', outcome: 'completed', bytesDone: 200 * MiB, durationMs: 3300, ts: 4000},
		]);
		// 200 MiB in the 2 s the job ran (3 s since job:start, less the 1 s paused).
		expect(out.at(-2)).toBe('encrypt:  25.0%  200 MiB / 800 MiB  100 MiB/s');
		expect(out.at(-1)).toBe('completed: 200 MiB in 3.3s (100 MiB/s)');
	});

	describe('a failure is said once', () => {
		const block = 'block 40 failed authentication: the block was modified, or the file is corrupt or cut short';
		const whole = '/d/big.age: block 40 (byte 2622149 of the file, plaintext bytes from 2621440, in chunk 2 of this job) failed authentication: the file is damaged, truncated, has trailing data or was tampered with; nothing was written to /d/big';
		const failure = [
			{...start, kind: 'decrypt', chunksDone: 0, bytesDone: 0, resumed: false},
			{type: 'chunk:failed', chunk: 1, start: 16 * MiB, size: 16 * MiB, attempt: 1, willRetry: true, error: 'disk hiccup', code: 'EIO', ts: 100},
			{type: 'chunk:failed', chunk: 2, start: 32 * MiB, size: 16 * MiB, attempt: 1, willRetry: false, error: block, code: 'EAUTH', ts: 200},
			{type: 'anomaly', severity: 'error', code: 'auth-failed', message: block, chunk: 2, ts: 200},
			{type: 'job:done', outcome: 'failed', bytesDone: 32 * MiB, durationMs: 1000, error: whole, ts: 1000},
		];

		it('in a log (cage watch), by the end line; a retried chunk keeps its line', () => {
			const out = lines(failure);
			expect(out.slice(1)).toEqual(['chunk 1 failed (attempt 1, retrying): disk hiccup', 'decrypt:   4.0%  32.0 MiB / 800 MiB  32.0 MiB/s', `failed: 32.0 MiB in 1.0s (32.0 MiB/s): ${whole}`]);
		});

		it('in a session, by the session after the job: the end line gives the outcome only', () => {
			const out = lines(failure, {endError: false});
			expect(out.at(-1)).toBe('failed: 32.0 MiB in 1.0s (32.0 MiB/s)');
			expect(out.join('\n')).not.toContain('failed authentication');
		});

		it('in a batch, by the file\'s line', () => {
			const batch = [
				{...start, kind: 'decrypt', chunks: 0, chunkSize: 0, items: 2, chunksDone: 0, bytesDone: 0, resumed: false},
				{type: 'item:start', item: 0, items: 2, path: '/d/big.age', output: '/d/big', size: 400 * MiB, chunkSize: 16 * MiB, chunks: 25, ts: 0},
				{type: 'chunk:failed', chunk: 2, start: 32 * MiB, size: 16 * MiB, attempt: 1, willRetry: false, error: block, code: 'EAUTH', item: 0, ts: 200},
				{type: 'anomaly', severity: 'error', code: 'auth-failed', message: block, chunk: 2, item: 0, ts: 200},
				{type: 'item:skipped', item: 0, path: '/d/big.age', reason: `failed: ${whole}`, ts: 200},
				{type: 'anomaly', severity: 'error', code: 'item-failed', message: whole, item: 0, ts: 200},
			];
			expect(lines(batch).filter(line => line.includes('failed authentication'))).toEqual([`[1] skipped /d/big.age: failed: ${whole}`]);
		});
	});

	describe('a batch with a file the user skipped', () => {
		it('counts the skipped file settled, as the dashboard does: the percentage never steps back, and agrees with the dashboard\'s', () => {
			let text = '';
			const sink = plainReporter({write: (chunk: string) => (text += chunk)}, {intervalMs: 0});
			const state = createDashboardState();
			const percents: string[] = [];
			for (const event of batchWithSkip().events) {
				const before = text.length;
				sink(event);
				const job = selectedJob(applyEvent(state, event))!;
				const shown = /^encrypt: +([\d.]+)%/m.exec(text.slice(before))?.[1];
				if (shown === undefined) continue;
				expect(shown).toBe(((settledBytes(job) / job.size!) * 100).toFixed(1));
				percents.push(shown);
			}

			expect(percents.map(Number)).toEqual(percents.map(Number).toSorted((a, b) => a - b));
			expect(percents.at(-1)).toBe('100.0');
		});

		it('says the bytes skipped apart from the bytes done', () => {
			const out = lines(batchWithSkip().events.map(({job: _job, seq: _seq, ...event}) => event));
			expect(out).toContain('[2] skipped /data/1: skipped by user');
			expect(out.at(-2)).toBe('encrypt: 100.0%  8.00 MiB / 12.0 MiB, 4.00 MiB skipped  3.6 MiB/s');
			expect(out.at(-1)).toBe('completed: 8.00 MiB in 2.2s (3.6 MiB/s), 2 file(s) done, 1 skipped (4.00 MiB)');
		});
	});
});
