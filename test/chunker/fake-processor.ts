/**
 * An in-memory ChunkProcessor for runner tests: chunks "process" in a few gated blocks with
 * configurable delays and failures, and the fake records what happened when.
 */
import type {ChunkContext, ChunkProcessor, ChunkResult} from '../../source/chunker/processor.js';
import type {Chunk} from '../../source/chunker/plan.js';
import {prng} from '../helpers/prng.js';

export {prng};

/** Resolve after `ms`, or reject as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal?.aborted) {
			reject(new Error('chunk aborted'));
			return;
		}

		const timer = setTimeout(() => {
			signal?.removeEventListener('abort', onAbort);
			resolve();
		}, ms);
		function onAbort() {
			clearTimeout(timer);
			reject(new Error('chunk aborted'));
		}

		signal?.addEventListener('abort', onAbort, {once: true});
	});
}

export type FakeOptions = {
	/** Milliseconds per block for a chunk (default 1). */
	delay?: (chunk: Chunk, attempt: number) => number;
	/** Throw this on an attempt of a chunk, or nothing. */
	fail?: (chunk: Chunk, attempt: number) => Error | undefined;
	/** Blocks per chunk (default 4). */
	blocks?: number;
	skippable?: boolean;
	sequential?: boolean;
	/** Throw from commit() for this chunk. */
	commitFailsAt?: number;
};

export class FakeProcessor implements ChunkProcessor {
	readonly skippable: boolean;
	readonly sequential: boolean;
	active = 0;
	maxActive = 0;
	/** Chunk ids in the order their processing started / finished / was committed. */
	readonly started: number[] = [];
	readonly finished: number[] = [];
	readonly committed: Array<{id: number; result: ChunkResult | null}> = [];
	readonly #options: FakeOptions;

	constructor(options: FakeOptions = {}) {
		this.#options = options;
		this.skippable = options.skippable ?? false;
		this.sequential = options.sequential ?? false;
	}

	async process(chunk: Chunk, ctx: ChunkContext): Promise<ChunkResult> {
		this.active++;
		this.maxActive = Math.max(this.maxActive, this.active);
		this.started.push(chunk.id);
		try {
			const blocks = this.#options.blocks ?? 4;
			const delay = this.#options.delay?.(chunk, ctx.attempt) ?? 1;
			for (let block = 0; block < blocks; block++) {
				const from = Math.floor((chunk.size * block) / blocks);
				const to = Math.floor((chunk.size * (block + 1)) / blocks);
				await ctx.gate(to - from);
				await sleep(delay, ctx.signal);
				ctx.progress(to);
			}

			const failure = this.#options.fail?.(chunk, ctx.attempt);
			if (failure) throw failure;
			this.finished.push(chunk.id);
			return {mac: `mac-${chunk.id}`};
		} finally {
			this.active--;
		}
	}

	commit(chunk: Chunk, result: ChunkResult | null): void {
		if (chunk.id === this.#options.commitFailsAt) throw new Error(`commit of chunk ${chunk.id} failed`);
		this.committed.push({id: chunk.id, result});
	}
}

/** An error with a code, as node's I/O errors have. */
export function ioError(message: string, code = 'EIO'): Error {
	return Object.assign(new Error(message), {code});
}
