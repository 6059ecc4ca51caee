import {describe, expect, it} from 'vitest';
import {applyEvent, createDashboardState, reduceEvents, selectedJob, selectJob, settledBytes} from '../../source/telemetry/reducer.js';
import {bucketChunks} from '../../source/telemetry/buckets.js';
import {ChunkState} from '../../source/telemetry/state.js';
import {maxChunks} from '../../source/chunker/plan.js';
import {batchWithSkip, EventScript} from './synthetic.js';

const MiB = 2 ** 20;

describe('reducer', () => {
	it('follows a job from start to done: state, bytes, chunk states and counts', () => {
		const script = new EventScript();
		script.start({size: 3 * MiB, chunks: 3});
		script.chunk(1, MiB, 500, script.chunk(0, MiB, 500, 0));
		script.send({type: 'chunk:start', chunk: 2, start: 2 * MiB, size: MiB, attempt: 1});
		const mid = reduceEvents(script.events);
		const job = selectedJob(mid)!;
		expect(job.kind).toBe('encrypt');
		expect(job.state).toBe('running');
		expect(job.bytesDone).toBe(2 * MiB);
		expect([...job.chunks.subarray(0, 3)]).toEqual([ChunkState.done, ChunkState.done, ChunkState.running]);
		expect(job.chunkCounts).toEqual([0, 1, 2, 0, 0]);

		script.wait(500);
		script.send({type: 'chunk:done', chunk: 2, start: 2 * MiB, size: MiB, durationMs: 500, attempt: 1, bytesDone: 3 * MiB});
		script.send({type: 'job:done', outcome: 'completed', bytesDone: 3 * MiB, durationMs: 1500});
		const end = selectedJob(reduceEvents(script.events))!;
		expect(end.state).toBe('done');
		expect(end.chunkCounts[ChunkState.done]).toBe(3);
		expect(end.etaMs).toBe(0);
		expect(end.ending).toEqual({outcome: 'completed', durationMs: 1500});
	});

	it('a stream of known size (a file encrypted to stdout, chunks 0) counts the file\'s chunks, not those started so far', () => {
		const script = new EventScript();
		script.start({size: 96 * MiB, chunkSize: MiB, chunks: 0, output: null});
		let bytes = 0;
		for (let id = 0; id < 23; id++) bytes = script.chunk(id, MiB, 10, bytes);
		script.send({type: 'chunk:start', chunk: 23, start: 23 * MiB, size: MiB, attempt: 1});
		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.chunkCount).toBe(96);
		expect(job.chunkCounts).toEqual([72, 1, 23, 0, 0]);
		// A stream of unknown size still grows with what it starts.
		const unknown = new EventScript();
		unknown.start({size: null, chunkSize: MiB, chunks: 0, output: null});
		unknown.chunk(0, MiB, 10, 0);
		expect(selectedJob(reduceEvents(unknown.events))!.chunkCount).toBe(1);
	});

	it('a batch file resumed from its own checkpoint: its done chunks show done, and its done bytes are not this run\'s', () => {
		const script = new EventScript();
		script.start({items: 2, chunks: 0, chunkSize: 0, size: 101 * MiB, bytesDone: MiB, resumed: true});
		script.send({type: 'item:start', item: 1, items: 2, path: '/d/big', output: '/d/big.age', size: 100 * MiB, chunkSize: 10 * MiB, chunks: 10, chunksDone: 6, bytesDone: 60 * MiB});
		let job = selectedJob(reduceEvents(script.events))!;
		expect(job.chunkCounts[ChunkState.done]).toBe(6);
		expect(job.startBytes).toBe(61 * MiB);
		expect(job.bytesDone).toBe(61 * MiB);
		script.wait(1000);
		script.send({type: 'chunk:done', chunk: 9, start: 90 * MiB, size: 10 * MiB, durationMs: 1000, attempt: 1, bytesDone: 100 * MiB, item: 1});
		script.send({type: 'item:done', item: 1, path: '/d/big', bytes: 100 * MiB, durationMs: 1000});
		script.send({type: 'job:done', outcome: 'completed', bytesDone: 101 * MiB, durationMs: 1000, itemsDone: 2, itemsSkipped: 0});
		job = selectedJob(reduceEvents(script.events))!;
		expect(job.bytesDone - job.startBytes).toBe(40 * MiB);
		expect(job.throughput.average).toBeCloseTo(40 * MiB, -3);
	});

	it('computes throughput from event timestamps: current, average, peak, ETA', () => {
		const script = new EventScript();
		script.start({size: 100 * MiB, chunks: 100});
		let bytes = 0;
		// 10 chunks of 1 MiB at 100 ms each: 10 MiB/s.
		for (let id = 0; id < 10; id++) bytes = script.chunk(id, MiB, 100, bytes);
		const job = selectedJob(reduceEvents(script.events))!;
		const rate = 10 * MiB;
		expect(job.throughput.current).toBeCloseTo(rate, -3);
		expect(job.throughput.average).toBeCloseTo(rate, -3);
		expect(job.throughput.peak).toBeCloseTo(rate, -3);
		expect(job.throughput.peak).toBeGreaterThanOrEqual(job.throughput.average * 0.999);
		// 90 MiB to go at 10 MiB/s.
		expect(job.etaMs).toBeCloseTo(9000, -2);
		expect(job.throughput.history.length).toBe(1);
	});

	it('the sliding window forgets old speed; the average does not', () => {
		const script = new EventScript();
		script.start({size: 1000 * MiB, chunks: 1000});
		let bytes = 0;
		for (let id = 0; id < 20; id++) bytes = script.chunk(id, MiB, 100, bytes); // 2 s at 10 MiB/s
		for (let id = 20; id < 30; id++) bytes = script.chunk(id, MiB, 1000, bytes); // 10 s at 1 MiB/s
		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.throughput.current).toBeCloseTo(MiB, -3);
		expect(job.throughput.average).toBeCloseTo((30 * MiB) / 12, -3);
		expect(job.throughput.peak).toBeCloseTo(10 * MiB, -4);
		expect(job.throughput.history.length).toBe(12);
	});

	it('pauses stop the rate and are excluded from the average', () => {
		const script = new EventScript();
		script.start({size: 100 * MiB, chunks: 100});
		let bytes = 0;
		for (let id = 0; id < 10; id++) bytes = script.chunk(id, MiB, 100, bytes);
		script.send({type: 'job:paused', bytesDone: bytes});
		script.wait(60_000);
		const paused = selectedJob(reduceEvents(script.events))!;
		expect(paused.state).toBe('paused');
		expect(paused.throughput.current).toBe(0);
		script.send({type: 'job:resumed', bytesDone: bytes});
		for (let id = 10; id < 20; id++) bytes = script.chunk(id, MiB, 100, bytes);
		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.state).toBe('running');
		expect(job.pausedMs).toBe(60_000);
		expect(job.throughput.average).toBeCloseTo(10 * MiB, -3);
		// The pause shows in the sparkline as zeros.
		expect(job.throughput.history.filter(value => value === 0).length).toBeGreaterThanOrEqual(59);
	});

	it('has no ETA for a stream (size null) and grows its chunk array as chunks appear', () => {
		const script = new EventScript();
		script.start({size: null, chunks: 0, source: null, output: null});
		let bytes = 0;
		for (let id = 0; id < 200; id++) bytes = script.chunk(id, 64 * 1024, 100, bytes);
		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.etaMs).toBeNull();
		expect(job.chunkCount).toBe(200);
		expect(job.chunkCounts[ChunkState.done]).toBe(200);
		expect(job.chunks.length).toBeGreaterThanOrEqual(200);
	});

	it('marks failed, retried and skipped chunks, and frees abandoned running chunks at the end', () => {
		const script = new EventScript();
		script.start({size: 4 * MiB, chunks: 4, jobs: 2});
		script.send({type: 'chunk:start', chunk: 0, start: 0, size: MiB, attempt: 1});
		script.send({type: 'chunk:start', chunk: 1, start: MiB, size: MiB, attempt: 1});
		script.send({type: 'chunk:failed', chunk: 0, start: 0, size: MiB, attempt: 1, willRetry: true, error: 'EIO', code: 'EIO'});
		expect(selectedJob(reduceEvents(script.events))!.chunks[0]).toBe(ChunkState.failed);
		script.send({type: 'chunk:start', chunk: 0, start: 0, size: MiB, attempt: 2});
		script.send({type: 'chunk:skipped', chunk: 1, start: MiB, size: MiB, reason: 'skipped by user'});
		script.send({type: 'job:done', outcome: 'interrupted', bytesDone: 0, durationMs: 10, checkpoint: '/data/out.age.checkpoint.json'});
		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.state).toBe('interrupted');
		expect([...job.chunks.subarray(0, 4)]).toEqual([ChunkState.pending, ChunkState.skipped, ChunkState.pending, ChunkState.pending]);
		expect(job.chunkCounts).toEqual([3, 0, 0, 0, 1]);
		expect(job.ending?.checkpoint).toBe('/data/out.age.checkpoint.json');
	});

	it('a resumed job starts with its committed chunks done', () => {
		const script = new EventScript();
		script.start({chunks: 10, size: 10 * MiB, chunksDone: 4, bytesDone: 4 * MiB, resumed: true});
		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.resumed).toBe(true);
		expect(job.chunkCounts[ChunkState.done]).toBe(4);
		expect(job.startBytes).toBe(4 * MiB);
		expect([...job.chunks.subarray(0, 5)]).toEqual([2, 2, 2, 2, 0]);
	});

	it('tracks batch items: current file, done, skipped, total, and a fresh chunk plan per file', () => {
		const script = new EventScript();
		script.start({items: 3, chunks: 2, size: 5 * MiB});
		script.send({type: 'item:start', item: 0, items: 3, path: '/data/a', output: '/data/a.age', size: 2 * MiB, chunkSize: MiB, chunks: 2});
		let bytes = script.chunk(0, MiB, 100, 0);
		bytes = script.chunk(1, MiB, 100, bytes);
		script.send({type: 'item:done', item: 0, path: '/data/a', bytes: 2 * MiB, durationMs: 200});
		script.send({type: 'item:skipped', item: 1, path: '/data/b', reason: 'exists'});
		script.send({type: 'item:start', item: 2, items: 3, path: '/data/c', output: '/data/c.age', size: 3 * MiB, chunkSize: MiB, chunks: 3});
		script.chunk(0, MiB, 100, bytes);
		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.batch).toMatchObject({total: 3, done: 1, skipped: 1, failed: 0, current: {index: 2, path: '/data/c', size: 3 * MiB}});
		expect(job.batch!.files.map(file => file.state)).toEqual(['done', 'skipped', 'running']);
		expect(job.source).toBe('/data/c');
		expect(job.chunkCount).toBe(3);
		expect(job.chunkCounts).toEqual([2, 0, 1, 0, 0]);
	});

	it('counts batch bytes across items: chunk events count within their item, as the engine sends them', () => {
		const script = new EventScript();
		script.start({items: 2, chunks: 0, size: 5 * MiB});
		script.send({type: 'item:start', item: 0, items: 2, path: '/data/a', output: '/data/a.age', size: 2 * MiB, chunkSize: MiB, chunks: 2});
		script.wait(100);
		script.send({type: 'chunk:done', chunk: 0, start: 0, size: MiB, durationMs: 100, attempt: 1, bytesDone: MiB, item: 0});
		script.wait(100);
		script.send({type: 'chunk:done', chunk: 1, start: MiB, size: MiB, durationMs: 100, attempt: 1, bytesDone: 2 * MiB, item: 0});
		script.send({type: 'item:done', item: 0, path: '/data/a', bytes: 2 * MiB, durationMs: 200});
		script.send({type: 'item:start', item: 1, items: 2, path: '/data/b', output: '/data/b.age', size: 3 * MiB, chunkSize: MiB, chunks: 3});
		script.send({type: 'job:paused', bytesDone: 0});
		expect(selectedJob(reduceEvents(script.events))!.bytesDone).toBe(2 * MiB);
		script.send({type: 'job:resumed', bytesDone: 0});
		script.wait(100);
		script.send({type: 'chunk:progress', chunk: 0, bytes: MiB / 2, bytesDone: MiB / 2, item: 1});
		expect(selectedJob(reduceEvents(script.events))!.bytesDone).toBe(2.5 * MiB);
		script.wait(100);
		script.send({type: 'chunk:done', chunk: 0, start: 0, size: MiB, durationMs: 200, attempt: 1, bytesDone: MiB, item: 1});
		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.bytesDone).toBe(3 * MiB);
		expect(job.etaMs).toBeGreaterThan(0);
	});

	it('a file the user skips is settled: progress never steps back, and the finished batch is at 100 %', () => {
		const state = createDashboardState();
		let settled = 0;
		let afterSkip: number | undefined;
		for (const event of batchWithSkip().events) {
			const job = selectedJob(applyEvent(state, event))!;
			expect(settledBytes(job)).toBeGreaterThanOrEqual(settled);
			settled = settledBytes(job);
			if (event.type === 'item:skipped') afterSkip = 0;
			else if (afterSkip !== undefined && event.type === 'chunk:progress') afterSkip ||= job.throughput.current;
		}

		// The skipped file's bytes so far left the throughput samples with it: no dip to 0 at the skip.
		expect(afterSkip).toBeGreaterThan(4 * MiB);
		const job = selectedJob(state)!;
		expect(job.bytesDone).toBe(8 * MiB);
		expect(job.bytesSkipped).toBe(4 * MiB);
		expect(settledBytes(job)).toBe(job.size);
		expect(job.batch).toMatchObject({total: 3, done: 2, skipped: 1});
	});

	it('a file that failed or was interrupted is not settled: its bytes are still to do', () => {
		for (const reason of ['failed: /data/1: chunk 3 failed authentication', 'SIGINT']) {
			const events = batchWithSkip(reason).events;
			const skip = events.findIndex(event => event.type === 'item:skipped');
			const job = selectedJob(reduceEvents(events.slice(0, skip + 1)))!;
			expect(job.bytesSkipped).toBe(0);
			expect(job.bytesDone).toBe(7 * MiB);
			expect(settledBytes(selectedJob(reduceEvents(events))!)).toBe(8 * MiB);
		}
	});

	it('keeps anomalies newest first, capped, with counts of all ever seen', () => {
		const script = new EventScript();
		script.start();
		for (let index = 0; index < 250; index++) {
			script.wait(10);
			script.send({type: 'anomaly', severity: index % 2 ? 'warn' : 'info', code: 'slow-chunk', message: `number ${index}`, chunk: index});
		}

		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.anomalies).toHaveLength(200);
		expect(job.anomalies[0]!.message).toBe('number 249');
		expect(job.anomalies[199]!.message).toBe('number 50');
		expect(job.anomalyCounts).toEqual({info: 125, warn: 125, error: 0});
	});

	it('keeps a capped audit tail of durable events (no progress samples)', () => {
		const script = new EventScript();
		script.start({size: 300 * MiB, chunks: 300});
		let bytes = 0;
		for (let id = 0; id < 150; id++) bytes = script.chunk(id, MiB, 300, bytes);
		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.audit).toHaveLength(200);
		expect(job.audit.some(line => line.type === 'chunk:progress')).toBe(false);
		expect(job.audit.at(-1)!.text).toBe('chunk 149 done in 0.3s');
		// Oldest first, consecutive seqs.
		expect(job.audit.at(-1)!.seq - job.audit[0]!.seq).toBe(199);
	});

	it('a replay of the same events gives an identical state', () => {
		const script = new EventScript();
		script.start({size: 50 * MiB, chunks: 50, jobs: 2});
		let bytes = 0;
		for (let id = 0; id < 20; id++) bytes = script.chunk(id, MiB, 150 + (id % 3) * 50, bytes);
		script.send({type: 'anomaly', severity: 'warn', code: 'stall', message: 'no progress for 10s'});
		script.send({type: 'job:paused', bytesDone: bytes});
		script.wait(2000);
		script.send({type: 'job:resumed', bytesDone: bytes});
		script.send({type: 'job:done', outcome: 'interrupted', bytesDone: bytes, durationMs: 9000});
		const live = createDashboardState();
		for (const event of script.events) applyEvent(live, structuredClone(event));
		const replay = reduceEvents(JSON.parse(JSON.stringify(script.events)) as typeof script.events);
		expect(replay).toEqual(live);
	});

	it('handles 65 536 chunks in place: one version per event, no copy of the chunk array', () => {
		const chunks = 65_536;
		const script = new EventScript();
		script.start({size: chunks * 1024, chunks, chunkSize: 1024, jobs: 4});
		const state = createDashboardState();
		applyEvent(state, script.events[0]!);
		const job = selectedJob(state)!;
		const array = job.chunks;
		const started = performance.now();
		for (let id = 0; id < chunks; id++) {
			script.wait(1);
			applyEvent(state, script.send({type: 'chunk:start', chunk: id, start: id * 1024, size: 1024, attempt: 1}));
			applyEvent(state, script.send({type: 'chunk:done', chunk: id, start: id * 1024, size: 1024, durationMs: 1, attempt: 1, bytesDone: (id + 1) * 1024}));
		}

		const elapsed = performance.now() - started;
		expect(job.chunks).toBe(array);
		expect(job.chunkCounts[ChunkState.done]).toBe(chunks);
		expect(state.version).toBe(1 + 2 * chunks);
		// Generous bound (shared 2-core machine): 131 072 events reduce in well under a few seconds.
		expect(elapsed).toBeLessThan(5000);
	});

	it('keeps several jobs, selects the first and switches with selectJob', () => {
		const a = new EventScript('job-a');
		const b = new EventScript('job-b', a.ts + 5);
		a.start();
		b.start({kind: 'decrypt'});
		const state = createDashboardState();
		for (const event of [...a.events, ...b.events]) applyEvent(state, event);
		expect(state.order).toEqual(['job-a', 'job-b']);
		expect(state.selected).toBe('job-a');
		selectJob(state, 1);
		expect(selectedJob(state)!.kind).toBe('decrypt');
		selectJob(state, 1);
		expect(state.selected).toBe('job-a');
		selectJob(state, -1);
		expect(state.selected).toBe('job-b');
	});

	it('creates a job on first sight when a log starts mid-job', () => {
		const state = reduceEvents([{type: 'chunk:done', job: 'late', ts: 5, seq: 40, chunk: 7, start: 0, size: 10, durationMs: 3, attempt: 1, bytesDone: 80}]);
		const job = selectedJob(state)!;
		expect(job.id).toBe('late');
		expect(job.chunkCount).toBe(8);
		expect(job.chunks[7]).toBe(ChunkState.done);
		expect(job.chunkCounts).toEqual([7, 0, 1, 0, 0]);
	});

	it('a job seen only through anomalies (cage watch\'s audit-tail) neither takes the view nor keeps it from a new job', () => {
		const state = createDashboardState();
		applyEvent(state, {type: 'job:paused', bytesDone: 0, job: 'real', ts: 1, seq: 0});
		applyEvent(state, {type: 'job:done', outcome: 'completed', bytesDone: 0, durationMs: 1, job: 'real', ts: 2, seq: 1});
		applyEvent(state, {type: 'anomaly', severity: 'warn', code: 'audit-malformed-line', message: 'x:3: not JSON', job: 'audit-tail', ts: 3, seq: 0});
		expect(state.selected).toBe('real');
		expect(state.order).toEqual(['real', 'audit-tail']);
		applyEvent(state, {type: 'job:paused', bytesDone: 0, job: 'next', ts: 4, seq: 0});
		expect(state.selected).toBe('next');
		// With nothing shown yet, it is shown: a log of garbage only still shows something.
		const fresh = createDashboardState();
		applyEvent(fresh, {type: 'anomaly', severity: 'warn', code: 'audit-malformed-line', message: 'x:1: not JSON', job: 'audit-tail', ts: 1, seq: 0});
		expect(fresh.selected).toBe('audit-tail');
		// And gives the view up to the first real job: a log that starts with a bad line.
		applyEvent(fresh, {type: 'job:paused', bytesDone: 0, job: 'real', ts: 2, seq: 1});
		expect(fresh.selected).toBe('real');
	});

	it('never sizes its grid past maxChunks, whatever the events claim (they are not all from the planner)', () => {
		const state = createDashboardState();
		const start = {type: 'job:start', kind: 'hash', source: '/x', output: null, size: null, chunkSize: 1, jobs: 1, pid: 1, resumed: false, bytesDone: 0, job: 'absurd', ts: 1} as const;
		applyEvent(state, {...start, chunks: 0, chunksDone: 0, seq: 0});
		expect(() => applyEvent(state, {type: 'chunk:start', chunk: 4_000_000_000_000, start: 0, size: 1, attempt: 1, job: 'absurd', ts: 2, seq: 1})).not.toThrow();
		const job = selectedJob(state)!;
		expect(job.chunkCount).toBe(0);
		expect(job.chunks.length).toBe(64);
		applyEvent(state, {...start, chunks: 2 ** 40, chunksDone: 2 ** 40, seq: 2});
		const restarted = selectedJob(state)!;
		expect(restarted.chunkCount).toBe(maxChunks);
		expect(restarted.chunks.length).toBe(maxChunks);
		expect(restarted.chunkCounts).toEqual([0, 0, maxChunks, 0, 0]);
	});
});

describe('bucketChunks', () => {
	const from = (codes: number[]) => Uint8Array.from(codes);

	it('gives one cell per chunk when they fit', () => {
		const {cells, perCell} = bucketChunks(from([2, 1, 0]), 3, 10);
		expect(perCell).toBe(1);
		expect([...cells]).toEqual([2, 1, 0]);
	});

	it('shows the worst state of each bucket: failed > skipped > running > pending > done', () => {
		const chunks = from([2, 2, 2, 3, 2, 4, 2, 1, 2, 0, 2, 2, 1, 4, 0, 3]);
		const {cells, perCell} = bucketChunks(chunks, chunks.length, 8);
		expect(perCell).toBe(2);
		expect([...cells]).toEqual([2, 3, 4, 1, 0, 2, 4, 3]);
	});

	it('folds 65 536 chunks into the cells available', () => {
		const chunks = new Uint8Array(65_536).fill(ChunkState.done);
		chunks[40_000] = ChunkState.failed;
		const {cells, perCell} = bucketChunks(chunks, chunks.length, 116 * 9);
		expect(cells.length).toBeLessThanOrEqual(116 * 9);
		expect(perCell).toBe(Math.ceil(65_536 / (116 * 9)));
		expect(cells.filter(code => code === ChunkState.failed)).toHaveLength(1);
		expect(cells[Math.floor(40_000 / perCell)]).toBe(ChunkState.failed);
	});
});
