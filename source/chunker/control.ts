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

/** The most rate budget a limiter saves up (bytes the rate allows in this long), however long it went unused. */
export const maxBurstMs = 250;

/** Clock of the rate limiter: milliseconds, monotonic, the same epoch in every thread. */
export type ControlClock = () => number;

/**
 * `performance.now()` never goes back (Date.now does, when the wall clock is set back, which
 * would stall the limiter for as long); `timeOrigin` puts every thread's on one epoch.
 */
const monotonicNow: ControlClock = () => performance.timeOrigin + performance.now();

/**
 * Layout: Int32[0] paused flag, Int32[1] aborted flag, then (8-aligned) BigInt64[0] the rate's
 * schedule: the time (µs of `ControlClock`) at which the bytes let through so far are due, and
 * Float64[0] the rate in bytes/s (0 = unlimited).
 *
 * The rate limiter is a virtual schedule (GCRA): each `gate` moves the schedule on by its bytes'
 * share of a second and waits until it comes due. A schedule that fell behind the clock (the job
 * was slower than the rate, or the process was stopped: SIGSTOP, a VM pause, a laptop suspend) is
 * first brought to at most `maxBurstMs` behind it, so lost time is never paid back: after a stop,
 * at most `maxBurstMs` worth of bytes passes at once, then the rate holds. The small allowance
 * lets a gate that slept a little long (a busy machine) catch up, so the average stays at the rate.
 */
export class SharedControl {
	readonly buffer: SharedArrayBuffer;
	readonly #state: Int32Array;
	readonly #schedule: BigInt64Array;
	readonly #numbers: Float64Array;
	readonly #now: ControlClock;

	/**
	 * A new control, or (with `handle`) a view of an existing one, e.g. in a worker thread. `now`
	 * replaces the clock (tests); every view of one control must use the same clock.
	 */
	constructor(handle?: SharedControlHandle, {now = monotonicNow}: {now?: ControlClock} = {}) {
		this.buffer = handle?.buffer ?? new SharedArrayBuffer(8 + 8 + 8);
		this.#state = new Int32Array(this.buffer, 0, STATE_WORDS);
		this.#schedule = new BigInt64Array(this.buffer, 8, 1);
		this.#numbers = new Float64Array(this.buffer, 16, 1);
		this.#now = now;
		if (!handle) this.#restartWindow();
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

		const until = this.#now() + this.#take(bytes);
		// Sleep in short slices so an abort or pause is seen promptly; against the clock, so a stop
		// in the middle (SIGSTOP) counts as time waited.
		for (let left = until - this.#now(); left > 0 && !this.aborted; left = until - this.#now()) {
			Atomics.wait(this.#state, ABORTED, 0, Math.min(left, 100));
		}

		if (this.aborted) throw new AbortedError();
	}

	/** Restart the schedule at now: no budget saved up (a start, a new rate, the end of a pause). */
	#restartWindow(): void {
		Atomics.store(this.#schedule, 0, microseconds(this.#now()));
	}

	/**
	 * Let `bytes` through on the schedule; the milliseconds to wait until they are due. Threads
	 * race on the schedule, so it is moved on with compare-and-swap.
	 */
	#take(bytes: number): number {
		const rate = this.#numbers[0]!;
		if (rate <= 0 || bytes <= 0) return 0;
		const now = microseconds(this.#now());
		const earliest = now - BigInt(maxBurstMs * 1000);
		const cost = BigInt(Math.ceil((bytes / rate) * 1e6));
		for (;;) {
			const scheduled = Atomics.load(this.#schedule, 0);
			const due = (scheduled > earliest ? scheduled : earliest) + cost;
			if (Atomics.compareExchange(this.#schedule, 0, scheduled, due) === scheduled) return Math.max(0, Number(due - now) / 1000);
		}
	}

	/**
	 * Account for `bytes` on the rate's schedule and return the milliseconds to wait before
	 * processing them, without waiting: `gate` and `gateSync` are this plus the wait (and pause
	 * and abort). With an injected clock it shows the schedule without real time passing.
	 */
	reserve(bytes: number): number {
		return this.#take(bytes);
	}
}

function microseconds(ms: number): bigint {
	return BigInt(Math.round(ms * 1000));
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
