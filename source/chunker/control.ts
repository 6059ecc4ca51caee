/**
 * Pause, abort and rate limiting shared by the main thread and worker threads.
 *
 * The state lives in a SharedArrayBuffer so a worker thread processing a chunk sees a pause or an
 * abort at its next block without a message round trip, and all workers draw on one rate budget.
 * The main thread uses the async `gate()`; workers use `gateSync()`, which blocks with
 * Atomics.wait (allowed in workers, never on the main thread).
 */

const PAUSED = 0;
const ABORTED = 1;
const STATE_WORDS = 2;

/** The part of a SharedControl that can be posted to a worker. */
export type SharedControlHandle = {buffer: SharedArrayBuffer};

/** Thrown from a gate when the job was aborted. */
export class AbortedError extends Error {
	override name = 'AbortedError';
	readonly code = 'ABORTED';
	constructor(message = 'aborted') {
		super(message);
	}
}

/**
 * Layout: Int32[0] paused flag, Int32[1] aborted flag, then (8-aligned) BigInt64[0] bytes consumed
 * since the rate window started, Float64[0] rate in bytes/s (0 = unlimited), Float64[1] window start
 * (ms, performance.timeOrigin based epoch time).
 */
export class SharedControl {
	readonly buffer: SharedArrayBuffer;
	readonly #state: Int32Array;
	readonly #consumed: BigInt64Array;
	readonly #numbers: Float64Array;

	constructor(handle?: SharedControlHandle) {
		this.buffer = handle?.buffer ?? new SharedArrayBuffer(8 + 8 + 16);
		this.#state = new Int32Array(this.buffer, 0, STATE_WORDS);
		this.#consumed = new BigInt64Array(this.buffer, 8, 1);
		this.#numbers = new Float64Array(this.buffer, 16, 2);
		if (!handle) this.#numbers[1] = Date.now();
	}

	/** What to post to a worker so it can build its own view of this control. */
	get handle(): SharedControlHandle {
		return {buffer: this.buffer};
	}

	get paused(): boolean {
		return Atomics.load(this.#state, PAUSED) === 1;
	}

	get aborted(): boolean {
		return Atomics.load(this.#state, ABORTED) === 1;
	}

	/** Bytes per second, 0 for unlimited. */
	get rate(): number {
		return this.#numbers[0]!;
	}

	setRate(bytesPerSecond: number): void {
		this.#numbers[0] = Math.max(0, bytesPerSecond);
		this.#restartWindow();
	}

	pause(): void {
		Atomics.store(this.#state, PAUSED, 1);
	}

	resume(): void {
		// Time spent paused must not become a burst of rate budget.
		this.#restartWindow();
		Atomics.store(this.#state, PAUSED, 0);
		Atomics.notify(this.#state, PAUSED);
	}

	abort(): void {
		Atomics.store(this.#state, ABORTED, 1);
		Atomics.store(this.#state, PAUSED, 0);
		Atomics.notify(this.#state, PAUSED);
	}

	/**
	 * Account for `bytes` about to be processed and wait (async) while paused or over the rate.
	 * @throws AbortedError when the job was aborted.
	 */
	async gate(bytes: number, signal?: AbortSignal): Promise<void> {
		for (;;) {
			if (this.aborted || signal?.aborted) throw new AbortedError();
			if (!this.paused) break;
			// Atomics.waitAsync keeps the event loop free while paused.
			const result = Atomics.waitAsync(this.#state, PAUSED, 1, 200);
			if (result.async) await result.value;
		}

		const delay = this.#take(bytes);
		if (delay > 0) await sleep(delay, signal);
		if (this.aborted || signal?.aborted) throw new AbortedError();
	}

	/** The blocking twin of `gate`, for worker threads. */
	gateSync(bytes: number): void {
		for (;;) {
			if (this.aborted) throw new AbortedError();
			if (!this.paused) break;
			Atomics.wait(this.#state, PAUSED, 1, 200);
		}

		let delay = this.#take(bytes);
		// Sleep in short slices so an abort or pause is seen promptly.
		while (delay > 0 && !this.aborted) {
			const slice = Math.min(delay, 100);
			Atomics.wait(this.#state, ABORTED, 0, slice);
			delay -= slice;
		}

		if (this.aborted) throw new AbortedError();
	}

	#restartWindow(): void {
		Atomics.store(this.#consumed, 0, 0n);
		this.#numbers[1] = Date.now();
	}

	/** Milliseconds to wait so that the bytes consumed stay within the rate. */
	#take(bytes: number): number {
		const rate = this.#numbers[0]!;
		if (rate <= 0 || bytes <= 0) return 0;
		const consumed = Number(Atomics.add(this.#consumed, 0, BigInt(bytes))) + bytes;
		const due = this.#numbers[1]! + (consumed / rate) * 1000;
		return Math.max(0, due - Date.now());
	}
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise(resolve => {
		const timer = setTimeout(done, ms);
		function done() {
			clearTimeout(timer);
			signal?.removeEventListener('abort', done);
			resolve();
		}

		signal?.addEventListener('abort', done, {once: true});
	});
}
