/**
 * The spans a worker thread hands to its pool's writer (pool.ts): a few buffers that go back and
 * forth. The worker makes a span in a buffer it holds (the cipher's output is copied into it),
 * posts it with where it goes — the buffer itself moves, no bytes are copied — and the pool writes
 * it and sends it back on the ring's port. The worker waits for a buffer only when the writer is
 * that far behind; it is in the middle of a synchronous task then, so it reads the port with
 * `receiveMessageOnPort` and sleeps on a shared counter the pool bumps with each return.
 *
 * (Shared memory would spare the moves, but V8 copies into a SharedArrayBuffer byte by byte with
 * relaxed atomics: a tenth of the encryption's CPU.)
 */
import {MessageChannel, receiveMessageOnPort, type MessagePort} from 'node:worker_threads';
import {AbortedError} from '../chunker/control.js';
import {blocksPerRead, type SpanOutput} from './chunk-work.js';
import {encryptedBlockSize} from './stream.js';

/** Buffers per worker: 4 × 1 MiB, enough to keep a writer busy while the cipher makes the next. */
export const ringSlots = 4;
/** Bytes per buffer: one span of ciphertext (the larger of the two kinds). */
export const ringSlotBytes = blocksPerRead * encryptedBlockSize;

/** What the pool sends a worker thread once: the port its buffers come back on, and the counter. */
export type RingHandle = {port: MessagePort; returned: SharedArrayBuffer};

/** A span handed to the writer: its bytes, and where they go. */
export type RingWrite = {buffer: ArrayBuffer; file: string; length: number; position: number};

/** A buffer coming back; `failed` when its write failed, and the task that made it must stop. */
type RingReturn = {buffer: ArrayBuffer; failed: boolean};

/** The pool's side of one worker's ring. */
export class RingReturns {
	/** What to send the worker (transfer `handle.port`). */
	readonly handle: RingHandle;
	readonly #port: MessagePort;
	readonly #returned: Int32Array;

	constructor() {
		const {port1, port2} = new MessageChannel();
		port1.unref();
		this.#port = port1;
		const returned = new SharedArrayBuffer(4);
		this.#returned = new Int32Array(returned);
		this.handle = {port: port2, returned};
	}

	/** Give a written (or failed) span's buffer back to its worker. */
	giveBack(buffer: ArrayBuffer, failed: boolean): void {
		this.#port.postMessage({buffer, failed} satisfies RingReturn, [buffer]);
		Atomics.add(this.#returned, 0, 1);
		Atomics.notify(this.#returned, 0);
	}

	close(): void {
		this.#port.close();
	}
}

/** The worker's side: a SpanOutput that posts each span (`post`, moving its buffer) instead of writing it. */
export class RingOutput implements SpanOutput {
	readonly #free: Buffer[] = [];
	readonly #port: MessagePort;
	readonly #returned: Int32Array;
	readonly #post: (write: RingWrite) => void;
	readonly #aborted: () => boolean;
	#current: Buffer | undefined;
	#failed = false;

	constructor(ring: RingHandle, post: (write: RingWrite) => void, aborted: () => boolean) {
		for (let index = 0; index < ringSlots; index++) this.#free.push(Buffer.from(new ArrayBuffer(ringSlotBytes)));
		this.#port = ring.port;
		this.#returned = new Int32Array(ring.returned);
		this.#post = post;
		this.#aborted = aborted;
	}

	/** A new task starts: a failure belonged to the last one. */
	reset(): void {
		this.#drain();
		this.#failed = false;
	}

	take(length: number): Buffer {
		if (length > ringSlotBytes) throw new RangeError('span ring: a span larger than a buffer');
		for (;;) {
			const seen = Atomics.load(this.#returned, 0);
			this.#drain();
			if (this.#failed) {
				// The pool holds the write's error and gives it as this task's; this only stops the task.
				throw Object.assign(new Error('the output could not be written'), {code: 'EWRITEFAILED'});
			}

			if (this.#free.length > 0) break;
			if (this.#aborted()) throw new AbortedError();
			Atomics.wait(this.#returned, 0, seen, 100);
		}

		this.#current = this.#free.pop()!;
		return this.#current;
	}

	put(file: string, length: number, position: number): void {
		const buffer = this.#current!.buffer as ArrayBuffer;
		this.#current = undefined;
		this.#post({buffer, file, length, position});
	}

	#drain(): void {
		for (let message = receiveMessageOnPort(this.#port); message; message = receiveMessageOnPort(this.#port)) {
			const back = message.message as RingReturn;
			this.#free.push(Buffer.from(back.buffer));
			if (back.failed) this.#failed = true;
		}
	}
}
