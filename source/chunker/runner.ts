/**
 * The chunk runner: drives a ChunkProcessor over a plan with bounded concurrency, retries, pause,
 * skip and abort, and commits chunks strictly in chunk order, so that "chunks < N are done" is the
 * whole truth a checkpoint has to record and the event order is deterministic.
 */
import {AbortedError, SharedControl} from './control.js';
import type {JobEmitter} from './emitter.js';
import {skippedByUser, type AnomalyEvent, type JobControl} from './events.js';
import {chunkAt, chunkCount, type Chunk} from './plan.js';
import type {ChunkContext, ChunkProcessor, ChunkResult} from './processor.js';

/** Error codes a retry cannot fix, nor a resume: authentication failed, not the expected format. */
export const permanentErrorCodes: ReadonlySet<string> = new Set(['EAUTH', 'EFORMAT']);

/** How a run ended. */
export type RunOutcome = 'completed' | 'interrupted' | 'failed';

/** What `run()` resolves to. */
export type RunResult = {
	outcome: RunOutcome;
	/** Chunks committed (done or skipped): every chunk with id < committed. */
	committed: number;
	/** Bytes of committed chunks that were processed (skipped ones excluded). */
	bytesDone: number;
	/** The error that failed the run, or the abort reason. */
	error?: Error;
};

/** A committed chunk, handed to `onCommit` in chunk order. */
export type Commit = {chunk: Chunk; result: ChunkResult | null; committed: number; bytesDone: number};

export type ChunkRunnerOptions = {
	processor: ChunkProcessor;
	emitter: JobEmitter;
	/** Plan: total size (plaintext bytes) and chunk size. */
	size: number;
	chunkSize: number;
	/** Chunks already committed (resume): processing starts here. */
	startChunk?: number;
	/** Bytes already done in the committed prefix. */
	startBytes?: number;
	/** Chunks processed at once. */
	jobs?: number;
	/** Extra attempts for a failed chunk. */
	retries?: number;
	/** Shared pause/abort/rate state (one is made when absent). */
	control?: SharedControl;
	/** Aborting this signal aborts the run (outcome interrupted). */
	signal?: AbortSignal;
	/** Batch item index, stamped on chunk events. */
	item?: number;
	/** Called after each chunk is committed, in order; the place to write a checkpoint. */
	onCommit?: (commit: Commit) => void | Promise<void>;
	/** Minimum milliseconds between chunk:progress events. */
	progressIntervalMs?: number;
};

const skipMarker = Symbol('skipped');

type Slot = {
	chunk: Chunk;
	attempt: number;
	bytes: number;
	startedAt: number;
	skipRequested: boolean;
	chunkAbort: AbortController;
};

type Settled = {id: number; result?: ChunkResult | typeof skipMarker; error?: Error};

/** Drives one processor over one plan. Control methods may be called at any time. */
export class ChunkRunner implements JobControl {
	readonly control: SharedControl;
	readonly #options: ChunkRunnerOptions;
	readonly #count: number;
	readonly #jobs: number;
	readonly #retries: number;
	readonly #inflight = new Map<number, Slot>();
	readonly #finished = new Map<number, ChunkResult | typeof skipMarker>();
	#next: number;
	#committed: number;
	#committedBytes: number;
	#finishedBytes = 0;
	#lastProgress = 0;
	#abortReason: string | undefined;
	#failure: Error | undefined;
	#retryRequested = false;
	#commitFailed = false;
	#wake: (() => void) | undefined;
	#running = false;

	constructor(options: ChunkRunnerOptions) {
		this.#options = options;
		this.control = options.control ?? new SharedControl();
		this.#count = chunkCount(options.size, options.chunkSize);
		this.#jobs = options.processor.sequential ? 1 : Math.max(1, options.jobs ?? 1);
		this.#retries = Math.max(0, options.retries ?? 0);
		this.#next = options.startChunk ?? 0;
		this.#committed = this.#next;
		this.#committedBytes = options.startBytes ?? 0;
		// A signal aborted before the run never fires 'abort' again: honour it now.
		if (options.signal?.aborted) this.abort('signal');
		else options.signal?.addEventListener('abort', () => this.abort('signal'), {once: true});
	}

	get paused(): boolean {
		return this.control.paused;
	}

	/** Chunks committed so far. */
	get committed(): number {
		return this.#committed;
	}

	/** Stop dispatching and hold in-flight chunks at their next block. */
	pause(): void {
		if (this.control.paused || this.control.aborted) return;
		this.control.pause();
		this.#send({type: 'job:paused', bytesDone: this.#bytesDone()});
		this.#poke();
	}

	resume(): void {
		if (!this.control.paused || this.control.aborted) return;
		this.control.resume();
		this.#send({type: 'job:resumed', bytesDone: this.#bytesDone()});
		this.#poke();
	}

	/**
	 * Skip the lowest chunk in flight (or the next one), when the processor allows skipping;
	 * otherwise say why not with an info anomaly.
	 */
	skip(): void {
		if (!this.#options.processor.skippable) {
			this.#anomaly('info', 'skip-unavailable', 'this job cannot skip a chunk: every chunk is needed for a valid output');
			return;
		}

		const lowest = [...this.#inflight.values()].sort((a, b) => a.chunk.id - b.chunk.id)[0];
		if (lowest) {
			lowest.skipRequested = true;
			lowest.chunkAbort.abort();
		}
	}

	/** Failed chunks fail the run after their retries; a run-level retry is the job's `cage resume`. */
	retry(): void {
		this.#retryRequested = true;
		this.#anomaly('info', 'chunk-retried', 'failed chunks are retried by `cage resume` once this run ends');
	}

	/** Stop: in-flight chunks are abandoned at their next block, committed ones stay committed. */
	abort(reason = 'aborted'): void {
		if (this.control.aborted) return;
		this.#abortReason = reason;
		this.control.abort();
		for (const slot of this.#inflight.values()) slot.chunkAbort.abort();
		this.#poke();
	}

	/** Whether `retry()` was asked for during the run. */
	get retryRequested(): boolean {
		return this.#retryRequested;
	}

	/** Process every chunk from the start chunk on. Resolves (never rejects) with the outcome. */
	async run(): Promise<RunResult> {
		if (this.#running) throw new Error('ChunkRunner.run() called twice');
		this.#running = true;
		const pending: Array<Promise<Settled>> = [];
		const settledQueue: Settled[] = [];

		const dispatch = () => {
			while (
				!this.control.aborted &&
				!this.control.paused &&
				!this.#failure &&
				this.#inflight.size < this.#jobs &&
				this.#next < this.#count
			) {
				const id = this.#next++;
				const promise = this.#processWithRetries(chunkAt(this.#options.size, this.#options.chunkSize, id)).then(settled => {
					settledQueue.push(settled);
					this.#poke();
					return settled;
				});
				pending.push(promise);
			}
		};

		dispatch();
		while (this.#inflight.size > 0 || settledQueue.length > 0 || (this.#next < this.#count && !this.#stopping())) {
			if (settledQueue.length === 0) {
				await new Promise<void>(resolve => {
					this.#wake = resolve;
					if (settledQueue.length > 0 || (this.control.aborted && this.#inflight.size === 0)) resolve();
				});
				this.#wake = undefined;
			}

			while (settledQueue.length > 0) {
				const settled = settledQueue.shift()!;
				this.#inflight.delete(settled.id);
				if (settled.error) {
					if (!(settled.error instanceof AbortedError) && !this.#failure) this.#failure = settled.error;
				} else {
					this.#finished.set(settled.id, settled.result!);
					if (settled.result !== skipMarker) this.#finishedBytes += chunkAt(this.#options.size, this.#options.chunkSize, settled.id).size;
				}
			}

			if (!this.#commitFailed) {
				try {
					await this.#commitReady();
				} catch (error) {
					// A failed commit (processor.commit or onCommit) fails the run; nothing after it commits.
					this.#commitFailed = true;
					this.#failure ??= toError(error);
				}
			}

			dispatch();
			if (this.control.aborted && this.#inflight.size === 0) break;
			if (this.#failure && this.#inflight.size === 0) break;
		}

		await Promise.allSettled(pending);
		const bytesDone = this.#committedBytes;
		if (this.#failure) return {outcome: 'failed', committed: this.#committed, bytesDone, error: this.#failure};
		if (this.#committed < this.#count) {
			return {outcome: 'interrupted', committed: this.#committed, bytesDone, error: new AbortedError(this.#abortReason ?? 'aborted')};
		}

		return {outcome: 'completed', committed: this.#committed, bytesDone};
	}

	#stopping(): boolean {
		return this.control.aborted || Boolean(this.#failure);
	}

	async #commitReady(): Promise<void> {
		const {processor, onCommit, item} = this.#options;
		while (this.#finished.has(this.#committed)) {
			const id = this.#committed;
			const finished = this.#finished.get(id)!;
			this.#finished.delete(id);
			const chunk = chunkAt(this.#options.size, this.#options.chunkSize, id);
			const result = finished === skipMarker ? null : finished;
			await processor.commit?.(chunk, result);
			this.#committed++;
			if (result) {
				this.#committedBytes += chunk.size;
				this.#finishedBytes -= chunk.size;
			}

			const commit: Commit = {chunk, result, committed: this.#committed, bytesDone: this.#committedBytes};
			if (result) {
				const slotInfo = this.#doneInfo.get(id);
				this.#doneInfo.delete(id);
				this.#send({
					type: 'chunk:done',
					chunk: id,
					start: chunk.start,
					size: chunk.size,
					durationMs: slotInfo?.durationMs ?? 0,
					attempt: slotInfo?.attempt ?? 1,
					bytesDone: this.#committedBytes,
					...(item === undefined ? {} : {item}),
				});
			} else {
				this.#send({type: 'chunk:skipped', chunk: id, start: chunk.start, size: chunk.size, reason: skippedByUser, ...(item === undefined ? {} : {item})});
			}

			await onCommit?.(commit);
		}
	}

	readonly #doneInfo = new Map<number, {durationMs: number; attempt: number}>();

	async #processWithRetries(chunk: Chunk): Promise<Settled> {
		const {processor, item} = this.#options;
		const itemField = item === undefined ? {} : {item};
		for (let attempt = 1; ; attempt++) {
			const slot: Slot = {chunk, attempt, bytes: 0, startedAt: performance.now(), skipRequested: false, chunkAbort: new AbortController()};
			this.#inflight.set(chunk.id, slot);
			this.#send({type: 'chunk:start', chunk: chunk.id, start: chunk.start, size: chunk.size, attempt, ...itemField});
			const signal = AbortSignal.any([slot.chunkAbort.signal, ...(this.#options.signal ? [this.#options.signal] : [])]);
			const ctx: ChunkContext = {
				attempt,
				control: this.control,
				signal,
				gate: async bytes => this.control.gate(bytes, signal),
				progress: bytes => {
					slot.bytes = bytes;
					this.#maybeProgress(slot);
				},
			};
			try {
				const result = await processor.process(chunk, ctx);
				this.#doneInfo.set(chunk.id, {durationMs: Math.round(performance.now() - slot.startedAt), attempt});
				return {id: chunk.id, result};
			} catch (error) {
				if (slot.skipRequested) return {id: chunk.id, result: skipMarker};
				const error_ = toError(error);
				if (error_ instanceof AbortedError || error_.name === 'AbortedError' || this.control.aborted) {
					return {id: chunk.id, error: new AbortedError(this.#abortReason ?? 'aborted')};
				}

				const code = (error_ as NodeJS.ErrnoException).code;
				// Data that fails authentication, or is not in the format, fails the same way again.
				const willRetry = attempt <= this.#retries && !this.#failure && !permanentErrorCodes.has(code ?? '');
				this.#send({
					type: 'chunk:failed',
					chunk: chunk.id,
					start: chunk.start,
					size: chunk.size,
					attempt,
					willRetry,
					error: error_.message,
					...(typeof code === 'string' ? {code} : {}),
					...itemField,
				});
				if (!willRetry) {
					if (code === 'EAUTH') this.#anomaly('error', 'auth-failed', error_.message, chunk.id);
					else if (typeof code === 'string' && code.startsWith('E')) this.#anomaly('error', 'io-error', `chunk ${chunk.id}: ${error_.message}`, chunk.id);
					return {id: chunk.id, error: error_};
				}
			}
		}
	}

	#maybeProgress(slot: Slot): void {
		const now = Date.now();
		if (now - this.#lastProgress < (this.#options.progressIntervalMs ?? 100)) return;
		this.#lastProgress = now;
		const {item} = this.#options;
		this.#send({
			type: 'chunk:progress',
			chunk: slot.chunk.id,
			bytes: slot.bytes,
			bytesDone: this.#bytesDone(),
			...(item === undefined ? {} : {item}),
		});
	}

	/** Committed bytes + finished-but-uncommitted + in flight. */
	#bytesDone(): number {
		let inflight = 0;
		for (const slot of this.#inflight.values()) inflight += slot.bytes;
		return this.#committedBytes + this.#finishedBytes + inflight;
	}

	#anomaly(severity: AnomalyEvent['severity'], code: AnomalyEvent['code'], message: string, chunk?: number): void {
		const {item} = this.#options;
		this.#send({type: 'anomaly', severity, code, message, ...(chunk === undefined ? {} : {chunk}), ...(item === undefined ? {} : {item})});
	}

	#send: JobEmitter['send'] = input => this.#options.emitter.send(input);

	#poke(): void {
		this.#wake?.();
	}
}

function toError(error: unknown): Error {
	return error instanceof Error ? error : new Error(String(error));
}
