import {describe, expect, it} from 'vitest';
import {AbortedError} from '../../source/chunker/control.js';
import {JobEmitter} from '../../source/chunker/emitter.js';
import type {CageEvent, EventOf} from '../../source/chunker/events.js';
import {planChunks} from '../../source/chunker/plan.js';
import {ChunkRunner, type ChunkRunnerOptions, type Commit} from '../../source/chunker/runner.js';
import {FakeProcessor, ioError, prng, sleep, type FakeOptions} from './fake-processor.js';

const chunkSize = 1000;

function setup(fake: FakeOptions, options: Partial<ChunkRunnerOptions> & {chunks?: number; size?: number} = {}) {
	const processor = new FakeProcessor(fake);
	const emitter = new JobEmitter('test-job');
	const events: CageEvent[] = [];
	emitter.pipe(event => events.push(event));
	const commits: Commit[] = [];
	const {chunks = 10, size = chunks * chunkSize - 123, onCommit, ...rest} = options;
	const runner = new ChunkRunner({
		processor,
		emitter,
		size,
		chunkSize,
		...rest,
		async onCommit(commit) {
			commits.push(commit);
			await onCommit?.(commit);
		},
	});
	const of = <T extends CageEvent['type']>(type: T) => events.filter((event): event is EventOf<T> => event.type === type);
	return {processor, emitter, events, commits, runner, size, of};
}

const range = (from: number, to: number) => Array.from({length: to - from}, (_, index) => from + index);

/** Resolve when `predicate` holds, polling. */
async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!predicate()) {
		if (Date.now() > deadline) throw new Error('condition not reached in time');
		await sleep(2);
	}
}

describe('ChunkRunner ordering and concurrency', () => {
	it('commits out-of-order completions in chunk order, never above `jobs` at once', async () => {
		const random = prng(42);
		const delays = range(0, 40).map(id => (id === 0 ? 12 : Math.floor(random() * 8)));
		const {processor, commits, runner, of, size} = setup({delay: chunk => delays[chunk.id]!}, {chunks: 40, jobs: 4});
		const result = await runner.run();

		expect(result).toEqual({outcome: 'completed', committed: 40, bytesDone: size});
		// The work really did finish out of order…
		expect(processor.finished).not.toEqual(range(0, 40));
		expect([...processor.finished].sort((a, b) => a - b)).toEqual(range(0, 40));
		// …and was committed in order anyway, everywhere.
		expect(commits.map(commit => commit.chunk.id)).toEqual(range(0, 40));
		expect(commits.map(commit => commit.committed)).toEqual(range(1, 41));
		expect(processor.committed.map(commit => commit.id)).toEqual(range(0, 40));
		const done = of('chunk:done');
		expect(done.map(event => event.chunk)).toEqual(range(0, 40));
		const plan = planChunks(size, chunkSize);
		expect(done.map(event => event.bytesDone)).toEqual(plan.map(chunk => chunk.end));
		expect(done.map(event => [event.start, event.size])).toEqual(plan.map(chunk => [chunk.start, chunk.size]));
		expect(commits.at(-1)!.result).toEqual({mac: 'mac-39'});
		// Bounded concurrency, and the bound was actually used.
		expect(processor.maxActive).toBe(4);
	});

	it('runs one chunk at a time for a sequential processor whatever `jobs` says', async () => {
		const {processor, runner, commits} = setup({sequential: true}, {chunks: 6, jobs: 8});
		expect((await runner.run()).outcome).toBe('completed');
		expect(processor.maxActive).toBe(1);
		expect(processor.started).toEqual(range(0, 6));
		expect(commits).toHaveLength(6);
	});

	it('numbers events 0..n-1 without gaps; a transient progress update repeats the seq before it', async () => {
		const random = prng(7);
		const {events, runner} = setup({delay: () => Math.floor(random() * 4), blocks: 6}, {chunks: 12, jobs: 3, progressIntervalMs: 0});
		await runner.run();
		const durable = events.filter(event => event.type !== 'chunk:progress');
		const progress = events.filter(event => event.type === 'chunk:progress');
		expect(progress.length).toBeGreaterThan(0);
		// Numbered: everything but the transient progress updates (which repeat the seq before them).
		const numbered = events.filter((event, index) => index === 0 || event.seq !== events[index - 1]!.seq);
		expect(numbered.map(event => event.seq)).toEqual(range(0, numbered.length));
		expect(numbered).toEqual(expect.arrayContaining(durable));
		for (const [index, event] of events.entries()) {
			expect(event.job).toBe('test-job');
			if (index > 0 && event.seq === events[index - 1]!.seq) expect(event.type).toBe('chunk:progress');
		}
	});

	it('reports progress within a chunk and overall, bounded by the plan', async () => {
		const {of, runner, size} = setup({blocks: 5, delay: () => 2}, {chunks: 5, jobs: 2, progressIntervalMs: 0});
		await runner.run();
		const progress = of('chunk:progress');
		expect(progress.length).toBeGreaterThan(5);
		for (const event of progress) {
			expect(event.bytes).toBeGreaterThan(0);
			expect(event.bytes).toBeLessThanOrEqual(chunkSize);
			expect(event.bytesDone).toBeLessThanOrEqual(size);
		}
	});
});

describe('ChunkRunner control', () => {
	it('pause() stops dispatch and emits job:paused; resume() continues', async () => {
		const {processor, runner, of, commits} = setup({delay: () => 3}, {chunks: 30, jobs: 2});
		const running = runner.run();
		await until(() => commits.length >= 3);
		runner.pause();
		expect(runner.paused).toBe(true);
		expect(of('job:paused')).toHaveLength(1);
		// Pausing twice is one pause.
		runner.pause();
		expect(of('job:paused')).toHaveLength(1);
		// In-flight chunks hold at their next block; nothing new starts.
		await sleep(60);
		const startedWhilePaused = processor.started.length;
		const progressWhilePaused = of('chunk:progress').length;
		await sleep(150);
		expect(processor.started.length).toBe(startedWhilePaused);
		expect(of('chunk:progress').length).toBe(progressWhilePaused);
		expect(startedWhilePaused).toBeLessThan(30);
		runner.resume();
		expect(of('job:resumed')).toHaveLength(1);
		const result = await running;
		expect(result.outcome).toBe('completed');
		expect(commits.map(commit => commit.chunk.id)).toEqual(range(0, 30));
		expect(of('job:paused')[0]!.seq).toBeLessThan(of('job:resumed')[0]!.seq);
	});

	it('skip() on a skippable processor skips the lowest chunk in flight', async () => {
		// Chunk 2 would take 10 s: only a skip gets it out of the way.
		const {processor, runner, of, commits, size} = setup({skippable: true, delay: chunk => (chunk.id === 2 ? 10_000 : 1)}, {chunks: 5, jobs: 1});
		const running = runner.run();
		await until(() => processor.started.includes(2));
		runner.skip();
		const result = await running;
		expect(result.outcome).toBe('completed');
		expect(result.committed).toBe(5);
		expect(result.bytesDone).toBe(size - chunkSize);
		const skipped = of('chunk:skipped');
		expect(skipped).toHaveLength(1);
		expect(skipped[0]).toMatchObject({chunk: 2, start: 2000, size: chunkSize, reason: 'skipped by user'});
		expect(of('chunk:done').map(event => event.chunk)).toEqual([0, 1, 3, 4]);
		expect(commits.map(commit => [commit.chunk.id, commit.result === null])).toEqual([
			[0, false],
			[1, false],
			[2, true],
			[3, false],
			[4, false],
		]);
		expect(processor.committed[2]).toEqual({id: 2, result: null});
	});

	it('skip() on a non-skippable processor only says why, as an info anomaly', async () => {
		const {processor, runner, of, commits} = setup({delay: () => 5}, {chunks: 4, jobs: 1});
		const running = runner.run();
		await until(() => processor.started.length > 0);
		runner.skip();
		const anomalies = of('anomaly');
		expect(anomalies).toHaveLength(1);
		expect(anomalies[0]).toMatchObject({severity: 'info', code: 'skip-unavailable'});
		const result = await running;
		expect(result.outcome).toBe('completed');
		expect(of('chunk:skipped')).toHaveLength(0);
		expect(commits.every(commit => commit.result !== null)).toBe(true);
	});

	it('abort() ends interrupted with the committed prefix intact', async () => {
		const random = prng(3);
		const holder: {runner?: ChunkRunner} = {};
		const setupResult = setup(
			{delay: () => 1 + Math.floor(random() * 6)},
			{
				chunks: 30,
				jobs: 3,
				onCommit(commit) {
					if (commit.chunk.id === 5) holder.runner!.abort('user quit');
				},
			},
		);
		holder.runner = setupResult.runner;
		const {commits, of, processor, runner} = setupResult;
		const result = await runner.run();
		expect(result.outcome).toBe('interrupted');
		expect(result.error).toBeInstanceOf(AbortedError);
		expect(result.error!.message).toBe('user quit');
		expect(result.committed).toBeGreaterThanOrEqual(6);
		expect(result.committed).toBeLessThan(30);
		expect(commits.map(commit => commit.chunk.id)).toEqual(range(0, result.committed));
		expect(of('chunk:done').map(event => event.chunk)).toEqual(range(0, result.committed));
		expect(result.bytesDone).toBe(result.committed * chunkSize);
		expect(processor.started.length).toBeLessThan(30);
		expect(of('chunk:failed')).toHaveLength(0);
		// No work is left running after run() resolves.
		expect(processor.active).toBe(0);
	});

	it('abort() while paused ends the run', async () => {
		const {runner, commits} = setup({delay: () => 3}, {chunks: 20, jobs: 2});
		const running = runner.run();
		await until(() => commits.length >= 2);
		runner.pause();
		await sleep(30);
		runner.abort();
		const result = await running;
		expect(result.outcome).toBe('interrupted');
		expect(commits.map(commit => commit.chunk.id)).toEqual(range(0, result.committed));
	});

	it('an AbortSignal cancels the run (outcome interrupted)', async () => {
		const controller = new AbortController();
		const {runner, commits, processor} = setup({delay: () => 4}, {chunks: 40, jobs: 2, signal: controller.signal});
		const running = runner.run();
		await until(() => commits.length >= 2);
		controller.abort();
		const result = await running;
		expect(result.outcome).toBe('interrupted');
		expect(result.error).toBeInstanceOf(AbortedError);
		expect(result.committed).toBeLessThan(40);
		expect(commits.map(commit => commit.chunk.id)).toEqual(range(0, result.committed));
		expect(processor.active).toBe(0);
	});

	it('an AbortSignal aborted before the run starts no chunk at all', async () => {
		const controller = new AbortController();
		controller.abort();
		const {runner, of, processor} = setup({}, {chunks: 8, jobs: 2, signal: controller.signal});
		const result = await runner.run();
		expect(result.outcome).toBe('interrupted');
		expect(result.committed).toBe(0);
		expect(processor.started).toEqual([]);
		expect(of('chunk:start')).toHaveLength(0);
	});
});

describe('ChunkRunner retries and failures', () => {
	it('retries a chunk that fails once (retries=1): chunk:failed willRetry, then done on attempt 2', async () => {
		const {runner, of, commits, events} = setup({fail: (chunk, attempt) => (chunk.id === 3 && attempt === 1 ? ioError('disk hiccup') : undefined)}, {chunks: 6, jobs: 2, retries: 1});
		const result = await runner.run();
		expect(result.outcome).toBe('completed');
		const failed = of('chunk:failed');
		expect(failed).toHaveLength(1);
		expect(failed[0]).toMatchObject({chunk: 3, attempt: 1, willRetry: true, error: 'disk hiccup', code: 'EIO'});
		const starts3 = of('chunk:start').filter(event => event.chunk === 3);
		expect(starts3.map(event => event.attempt)).toEqual([1, 2]);
		const done3 = of('chunk:done').find(event => event.chunk === 3)!;
		expect(done3.attempt).toBe(2);
		expect(done3.seq).toBeGreaterThan(failed[0]!.seq);
		expect(of('chunk:done').find(event => event.chunk === 2)!.attempt).toBe(1);
		expect(commits.map(commit => commit.chunk.id)).toEqual(range(0, 6));
		// A retried failure is not an error anomaly.
		expect(events.filter(event => event.type === 'anomaly')).toHaveLength(0);
	});

	it('fails the run when a chunk fails beyond its retries; later chunks are not committed', async () => {
		const failure = ioError('read error at chunk 3');
		const {runner, of, commits, processor} = setup(
			{
				fail: chunk => (chunk.id === 3 ? failure : undefined),
				// Chunk 3 is slow, so chunks after it finish first and wait for it.
				delay: chunk => (chunk.id === 3 ? 8 : 1),
			},
			{chunks: 60, jobs: 3, retries: 1},
		);
		const result = await runner.run();
		expect(result.outcome).toBe('failed');
		expect(result.error).toBe(failure);
		expect(result.committed).toBe(3);
		expect(result.bytesDone).toBe(3 * chunkSize);
		expect(processor.finished.some(id => id > 3)).toBe(true);
		expect(commits.map(commit => commit.chunk.id)).toEqual([0, 1, 2]);
		expect(of('chunk:done').map(event => event.chunk)).toEqual([0, 1, 2]);
		expect(of('chunk:failed').map(event => [event.chunk, event.attempt, event.willRetry])).toEqual([
			[3, 1, true],
			[3, 2, false],
		]);
		expect(of('anomaly')).toEqual([expect.objectContaining({severity: 'error', code: 'io-error', chunk: 3})]);
		// Dispatch stopped: not every chunk was even started.
		expect(new Set(processor.started).size).toBeLessThan(60);
		expect(Math.max(...processor.started)).toBeLessThan(59);
		expect(processor.active).toBe(0);
	});

	it('reports an authentication failure as an auth-failed anomaly, without retrying it', async () => {
		const {runner, of} = setup({fail: chunk => (chunk.id === 1 ? ioError('block 17 failed authentication', 'EAUTH') : undefined)}, {chunks: 3, retries: 2});
		const result = await runner.run();
		expect(result.outcome).toBe('failed');
		expect(of('anomaly')).toEqual([expect.objectContaining({severity: 'error', code: 'auth-failed', chunk: 1})]);
		expect(of('chunk:failed').map(event => [event.chunk, event.attempt, event.willRetry])).toEqual([[1, 1, false]]);
	});

	it('resolves (never rejects) when committing a chunk throws', async () => {
		const {runner, commits} = setup({commitFailsAt: 2}, {chunks: 5, jobs: 2});
		const result = await runner.run();
		expect(result.outcome).toBe('failed');
		expect(result.error!.message).toBe('commit of chunk 2 failed');
		expect(result.committed).toBe(2);
		expect(commits.map(commit => commit.chunk.id)).toEqual([0, 1]);
	});

	it('fails the run, committing nothing further, when onCommit throws (a checkpoint write)', async () => {
		const {runner, commits, processor} = setup(
			{delay: chunk => (chunk.id === 1 ? 10 : 1)},
			{
				chunks: 8,
				jobs: 3,
				onCommit(commit) {
					if (commit.chunk.id === 1) throw new Error('disk full');
				},
			},
		);
		const result = await runner.run();
		expect(result.outcome).toBe('failed');
		expect(result.error!.message).toBe('disk full');
		expect(commits.map(commit => commit.chunk.id)).toEqual([0, 1]);
		expect(processor.committed.map(commit => commit.id)).toEqual([0, 1]);
		expect(processor.active).toBe(0);
	});
});

describe('ChunkRunner resume', () => {
	it('starts at startChunk/startBytes and finishes the plan', async () => {
		const {processor, runner, of, commits, size} = setup({}, {chunks: 10, jobs: 3, startChunk: 6, startBytes: 6 * chunkSize});
		expect(runner.committed).toBe(6);
		const result = await runner.run();
		expect(result).toEqual({outcome: 'completed', committed: 10, bytesDone: size});
		expect([...processor.started].sort((a, b) => a - b)).toEqual([6, 7, 8, 9]);
		expect(commits.map(commit => [commit.chunk.id, commit.committed, commit.bytesDone])).toEqual([
			[6, 7, 7000],
			[7, 8, 8000],
			[8, 9, 9000],
			[9, 10, size],
		]);
		expect(of('chunk:start').every(event => event.chunk >= 6)).toBe(true);
	});

	it('completes immediately when everything was already committed', async () => {
		const {processor, runner, size} = setup({}, {chunks: 4, startChunk: 4, startBytes: 4 * chunkSize - 123});
		expect(await runner.run()).toEqual({outcome: 'completed', committed: 4, bytesDone: size});
		expect(processor.started).toEqual([]);
	});

	it('refuses to run twice', async () => {
		const {runner} = setup({}, {chunks: 1});
		await runner.run();
		await expect(runner.run()).rejects.toThrow('ChunkRunner.run() called twice');
	});
});
