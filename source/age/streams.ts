/**
 * Sequential encryption and decryption of streams (stdin, stdout, pipes): the same header and
 * STREAM as files, with live telemetry, but no chunk parallelism and no resume — a stream cannot
 * be re-read.
 */
import type {Readable, Writable} from 'node:stream';
import {AbortedError, SharedControl} from '../chunker/control.js';
import type {JobEmitter} from '../chunker/emitter.js';
import type {JobOutcome} from '../chunker/events.js';
import type {ControlProxy} from '../jobs/control-proxy.js';
import {isBrokenPipe, isTerminalGone} from '../errors.js';
import {AgeFormatError, StreamAuthError} from './errors.js';
import {createHeader, readHeaderFromStream} from './header.js';
import {blockSize, decryptRange, encryptedBlockSize, encryptRange, payloadKey, tagSize} from './stream.js';
import type {DecryptKey, EncryptTarget} from './engine.js';

/** Blocks per batch: 4 MiB of plaintext. */
const batchBlocks = 64;

export type StreamJobOptions = {
	emitter: JobEmitter;
	control: ControlProxy;
	/** Bytes per second, 0 = unlimited. */
	rate?: number;
	/** Plaintext bytes per telemetry chunk. */
	chunkSize: number;
	/** Known plaintext size (a file read as a stream), else null. */
	size?: number | null;
	/** Names for events. */
	source?: string | null;
	output?: string | null;
	/** The job kind its events name: a decryption whose plaintext is thrown away is `cage verify`'s. */
	kind?: 'verify';
	/**
	 * Blocks decrypted per batch (default 64: 4 MiB, for stdout's throughput). A consumer in the
	 * same process that reads a MiB at a time (cage sweep) takes 16: its buffers are then 6 MiB, not 24.
	 */
	batchBlocks?: number;
};

export type StreamJobResult = {outcome: JobOutcome; bytesDone: number; error?: Error};

/** Chunk telemetry over a sequential stream: chunk i covers plaintext [i*chunkSize, (i+1)*chunkSize). */
class StreamTelemetry {
	readonly #options: StreamJobOptions;
	#chunk = -1;
	#chunkStart = 0;
	#startedAt = 0;
	#lastProgress = 0;
	bytes = 0;

	constructor(options: StreamJobOptions) {
		this.#options = options;
	}

	advance(bytes: number): void {
		const {emitter, chunkSize} = this.#options;
		this.bytes += bytes;
		// A chunk that is exactly full stays open until more bytes come (or the end): a stream of
		// n whole chunks has n chunks, not an empty n+1st.
		while (this.#chunk < 0 || this.bytes > this.#chunkStart + chunkSize) {
			if (this.#chunk >= 0) this.#done(this.#chunkStart + chunkSize);
			this.#chunk++;
			this.#chunkStart = this.#chunk * chunkSize;
			this.#startedAt = performance.now();
			emitter.send({type: 'chunk:start', chunk: this.#chunk, start: this.#chunkStart, size: chunkSize, attempt: 1});
		}

		const now = Date.now();
		if (now - this.#lastProgress >= 100) {
			this.#lastProgress = now;
			emitter.send({type: 'chunk:progress', chunk: this.#chunk, bytes: this.bytes - this.#chunkStart, bytesDone: this.bytes});
		}
	}

	finish(): void {
		if (this.#chunk < 0) this.advance(0);
		this.#done(this.bytes);
	}

	#done(end: number): void {
		this.#options.emitter.send({
			type: 'chunk:done',
			chunk: this.#chunk,
			start: this.#chunkStart,
			size: end - this.#chunkStart,
			durationMs: Math.round(performance.now() - this.#startedAt),
			attempt: 1,
			bytesDone: end,
		});
	}
}

async function write(output: Writable, data: Uint8Array, signal: AbortSignal, onWritten?: () => void): Promise<void> {
	if (output.write(data, onWritten && (() => onWritten()))) return;
	await new Promise<void>((resolve, reject) => {
		const cleanup = () => {
			output.off('drain', onDrain);
			output.off('error', onError);
			signal.removeEventListener('abort', onDrain);
		};

		const onDrain = () => {
			cleanup();
			resolve();
		};

		const onError = (error: Error) => {
			cleanup();
			reject(error);
		};

		output.once('drain', onDrain);
		output.once('error', onError);
		signal.addEventListener('abort', onDrain, {once: true});
	});
}

async function runStreamJob(
	kind: 'encrypt' | 'decrypt' | 'verify',
	output: Writable,
	options: StreamJobOptions,
	body: (context: {control: SharedControl; signal: AbortSignal; telemetry: StreamTelemetry}) => Promise<void>,
): Promise<StreamJobResult> {
	const {emitter} = options;
	const startedAt = Date.now();
	const control = new SharedControl();
	control.setRate(options.rate ?? 0);
	const abort = new AbortController();
	// The proxy's pause/abort act on this stream through the shared control.
	const target = {
		pause() {
			if (control.paused) return;
			control.pause();
			emitter.send({type: 'job:paused', bytesDone: telemetry.bytes});
		},
		resume() {
			if (!control.paused) return;
			control.resume();
			emitter.send({type: 'job:resumed', bytesDone: telemetry.bytes});
		},
		skip() {
			emitter.send({type: 'anomaly', severity: 'info', code: 'skip-unavailable', message: 'a stream cannot skip: every block is needed'});
		},
		retry() {},
		abort() {
			control.abort();
			abort.abort();
		},
		get paused() {
			return control.paused;
		},
	};
	const telemetry = new StreamTelemetry(options);
	emitter.send({
		type: 'job:start',
		kind,
		source: options.source ?? null,
		output: options.output ?? null,
		size: options.size ?? null,
		chunkSize: options.chunkSize,
		// No plan: a stream is read to its end, and a file read as one may grow meanwhile.
		chunks: 0,
		chunksDone: 0,
		bytesDone: 0,
		jobs: 1,
		pid: process.pid,
		resumed: false,
	});
	options.control.attach(target);
	// A write that fails after write() took the data (a full disk, a closed pipe) is reported as an
	// 'error' event: it fails the job at once, rather than going unheard or crashing the process.
	let outputError: Error | undefined;
	const onOutputError = (error_: NodeJS.ErrnoException) => {
		// A write through a descriptor names no file: say which output it was.
		error_.path ??= options.output ?? 'stdout';
		outputError ??= error_;
		control.abort();
		abort.abort();
	};

	output.on('error', onOutputError);
	let outcome: JobOutcome = 'completed';
	let error: Error | undefined;
	// The reader of the output went away (`cage decrypt x.age | head`): it stopped the job, as
	// SIGPIPE stops any tool; nothing failed.
	let closedPipe = false;
	try {
		await body({control, signal: abort.signal, telemetry});
		if (outputError) throw outputError;
		telemetry.finish();
	} catch (error_) {
		error = outputError ?? (error_ as Error);
		closedPipe = isBrokenPipe(outputError);
		// Plaintext to a terminal that was closed: stopped with it, as by its SIGHUP.
		outcome = closedPipe || isTerminalGone(outputError) || (control.aborted && !outputError) ? 'interrupted' : 'failed';
	} finally {
		options.control.detach(target);
		output.off('error', onOutputError);
	}

	const reason = closedPipe ? `the reader of ${options.output ?? 'stdout'} closed the pipe; the output is incomplete` : error?.message;
	emitter.send({
		type: 'job:done',
		outcome,
		bytesDone: telemetry.bytes,
		durationMs: Date.now() - startedAt,
		...(reason && (outcome === 'failed' || closedPipe) ? {error: reason} : {}),
	});
	const said = closedPipe || outcome === 'failed' ? error : new Error('interrupted; a stream cannot be resumed, run the command again');
	return {outcome, bytesDone: telemetry.bytes, ...(error ? {error: said} : {})};
}

/**
 * `source`, read until `signal` aborts: a read that is waiting for input (a pipe whose writer is
 * silent, a terminal) then ends with an AbortedError, so q, Ctrl-C and SIGTERM stop a stream at
 * once instead of at its next bytes.
 */
function untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncIterable<T> {
	const iterator = source[Symbol.asyncIterator]();
	const stop = () => {
		// Ends the pending read and releases the input (stdin's handle would keep the process
		// alive until its writer closes it).
		void iterator.return?.().catch(() => undefined);
		return new AbortedError('stopped while waiting for input');
	};

	// One abort listener per read, removed when the read settles: a race against one promise that
	// lives as long as the job kept every chunk read (a 1 GiB stream held 1.2 GB).
	const next = async () =>
		new Promise<IteratorResult<T>>((resolve, reject) => {
			if (signal.aborted) {
				reject(stop());
				return;
			}

			const onAbort = () => reject(stop());
			signal.addEventListener('abort', onAbort, {once: true});
			iterator.next().then(
				result => {
					signal.removeEventListener('abort', onAbort);
					resolve(result);
				},
				(error: unknown) => {
					signal.removeEventListener('abort', onAbort);
					reject(error as Error);
				},
			);
		});
	return {[Symbol.asyncIterator]: () => ({next})};
}

/** Gather bytes from an async iterable into a staging buffer, handing out fixed-size batches. */
class Staging {
	buffer: Buffer;
	length = 0;

	constructor(capacity: number, initial?: Uint8Array) {
		this.buffer = Buffer.allocUnsafe(capacity);
		if (initial && initial.length > 0) this.push(initial);
	}

	push(data: Uint8Array): void {
		if (this.length + data.length > this.buffer.length) {
			const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + data.length));
			this.buffer.copy(bigger, 0, 0, this.length);
			this.buffer = bigger;
		}

		this.buffer.set(data, this.length);
		this.length += data.length;
	}

	/** The first `bytes` bytes, in place: valid until the next `drop` or `push`. */
	view(bytes: number): Buffer {
		return this.buffer.subarray(0, bytes);
	}

	/** Forget the first `bytes` bytes. */
	drop(bytes: number): void {
		this.buffer.copy(this.buffer, 0, bytes, this.length);
		this.length -= bytes;
	}
}

/**
 * Two output buffers used in turn: a batch is encrypted (or decrypted) into one while the other's
 * write is still in flight, and a buffer is taken again only once its write has completed. A
 * fresh buffer per batch had the main thread's garbage collector run for over a second per GiB.
 */
class OutputBuffers {
	readonly #buffers: Buffer[];
	readonly #inFlight: Array<Promise<void> | undefined> = [undefined, undefined];
	#next = 0;

	constructor(size: number) {
		this.#buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
	}

	/** The next buffer, once its last write has completed; `index` goes back to `write`. */
	async take(): Promise<{buffer: Buffer; index: number}> {
		const index = this.#next;
		this.#next ^= 1;
		await this.#inFlight[index];
		return {buffer: this.#buffers[index]!, index};
	}

	/** Write `data` (made in buffer `index`, or in a larger one of its own) to `output`, with backpressure. */
	async write(output: Writable, data: Uint8Array, index: number, signal: AbortSignal): Promise<void> {
		let written!: () => void;
		// Settled by the write's callback, error or not: an error reaches the job through the stream.
		this.#inFlight[index] = new Promise<void>(resolve => (written = resolve));
		await write(output, data, signal, () => written());
	}
}

/** Encrypt a stream: header, nonce, then the STREAM block by block (the last block held back until the end is known). */
export async function encryptStream(input: Readable, output: Writable, target: EncryptTarget, options: StreamJobOptions): Promise<StreamJobResult> {
	return runStreamJob('encrypt', output, options, async ({control, signal, telemetry}) => {
		const {header, fileKey, nonce} = await createHeader(target.passphrase === undefined ? {recipients: target.recipients} : {passphrase: target.passphrase});
		const key = payloadKey(fileKey, nonce);
		await write(output, Buffer.concat([header, nonce]), signal);
		const staging = new Staging(2 * batchBlocks * blockSize);
		const outputs = new OutputBuffers(2 * batchBlocks * encryptedBlockSize);
		let counter = 0;
		const flush = async (final: boolean) => {
			// Keep at least one byte back until the end: the last block must carry the final flag.
			const blocks = final ? Math.max(1, Math.ceil(staging.length / blockSize)) : Math.floor((staging.length - 1) / blockSize);
			if (blocks <= 0) return;
			const bytes = final ? staging.length : blocks * blockSize;
			await control.gate(bytes, signal);
			const {buffer, index} = await outputs.take();
			const cipher = encryptRange(key, staging.view(bytes), counter, final, buffer);
			staging.drop(bytes);
			await outputs.write(output, cipher, index, signal);
			counter += blocks;
			telemetry.advance(bytes);
		};

		for await (const data of untilAborted(input, signal)) {
			staging.push(data as Uint8Array);
			if (staging.length > batchBlocks * blockSize) await flush(false);
		}

		await flush(false);
		await flush(true);
	});
}

/** Decrypt a stream; every block is authenticated before its plaintext is written. */
export async function decryptStream(input: Readable, output: Writable, key: DecryptKey, options: StreamJobOptions): Promise<StreamJobResult> {
	return runStreamJob(options.kind ?? 'decrypt', output, options, async ({control, signal, telemetry}) => {
		const iterator = untilAborted(input as AsyncIterable<Uint8Array>, signal)[Symbol.asyncIterator]();
		const chunks: AsyncIterable<Uint8Array> = {[Symbol.asyncIterator]: () => iterator};
		const header = await readHeaderFromStream(chunks, key.passphrase === undefined ? {identities: key.identities} : {passphrase: key.passphrase}, options.source ?? 'stdin');
		const payload = payloadKey(header.fileKey, header.nonce);
		const batch = options.batchBlocks ?? batchBlocks;
		const staging = new Staging(2 * batch * encryptedBlockSize, header.rest);
		const outputs = new OutputBuffers(2 * batch * blockSize);
		let counter = 0;
		let written = 0;
		// What went to stdout cannot be taken back: say it is incomplete. (A file output is removed.)
		const incomplete = () => (options.output === null && written > 0 ? `; the ${written} bytes of plaintext already written to stdout are incomplete: discard them` : '');
		const flush = async (final: boolean) => {
			let blocks: number;
			if (final) {
				if (staging.length < tagSize || (staging.length === tagSize && counter > 0)) {
					throw new AgeFormatError(`${options.source ?? 'stdin'}: the age file is truncated (it ends inside block ${counter}, or without a final block)${incomplete()}`);
				}

				blocks = Math.ceil(staging.length / encryptedBlockSize);
			} else {
				blocks = Math.floor((staging.length - 1) / encryptedBlockSize);
			}

			if (blocks <= 0) return;
			const bytes = final ? staging.length : blocks * encryptedBlockSize;
			await control.gate(bytes - blocks * tagSize, signal);
			let plain: Buffer;
			const {buffer, index} = await outputs.take();
			try {
				plain = decryptRange(payload, staging.view(bytes), counter, final, buffer);
				staging.drop(bytes);
			} catch (error) {
				if (!(error instanceof StreamAuthError)) throw error;
				throw new StreamAuthError(`${options.source ?? 'stdin'}: ${error.message}${incomplete()}`, error.counter);
			}

			await outputs.write(output, plain, index, signal);
			written += plain.length;
			counter += blocks;
			telemetry.advance(plain.length);
		};

		for await (const data of chunks) {
			staging.push(data);
			if (staging.length > batch * encryptedBlockSize) await flush(false);
		}

		await flush(false);
		await flush(true);
	});
}
