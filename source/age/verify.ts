/**
 * `cage verify`: authenticate every block of an age file, writing nothing. The decrypt engine's
 * parts with a sink that discards the plaintext: the header is read as for a decryption, the
 * chunks run on the engine's worker pool (`authenticate` tasks: each block decrypted, its tag
 * checked, the plaintext thrown away) under the chunk runner, so progress, pause, rate and the
 * dashboard are those of any job. Armored input is verified as a stream.
 */
import fs from 'node:fs';
import path from 'node:path';
import {Writable} from 'node:stream';
import {checkpointVersion, fingerprint} from '../chunker/checkpoint.js';
import {SharedControl} from '../chunker/control.js';
import type {JobEmitter} from '../chunker/emitter.js';
import type {JobOutcome} from '../chunker/events.js';
import {chunkCount, type Chunk} from '../chunker/plan.js';
import type {ChunkContext, ChunkProcessor, ChunkResult} from '../chunker/processor.js';
import {runChunkedJob} from '../jobs/chunked-job.js';
import type {ControlProxy} from '../jobs/control-proxy.js';
import {dearmor} from './armor.js';
import {ageChunkSize, readFileHeader, type DecryptKey} from './engine.js';
import {StreamAuthError} from './errors.js';
import {WorkerPool} from './pool.js';
import {decryptStream} from './streams.js';
import {blockSize, encryptedBlockSize, payloadKey, plaintextSizeOf} from './stream.js';

export type VerifyOptions = {
	emitter: JobEmitter;
	control: ControlProxy;
	/** Worker threads (chunks in parallel). */
	jobs: number;
	/** Bytes per second, 0 = unlimited. */
	rate?: number;
	/** Chunk size in bytes (rounded up to a multiple of 64 KiB): the unit of progress and of parallel work. */
	chunkSize: number;
	/** Set when this file is one item of a batch (item:start … item:done instead of job:start … job:done). */
	item?: {index: number; count: number};
	/** Worker threads to use instead of starting a pool for this file: a batch's. */
	pool?: WorkerPool;
};

/** Where a file first fails authentication. */
export type BadBlock = {
	/** Chunk of the plan (by `chunkSize`). */
	chunk: number;
	/** STREAM block index (64 KiB of plaintext each). */
	block: number;
	/** Byte offset of that block's ciphertext in the file (armored input: in the decoded bytes). */
	offset: number;
};

export type VerifyResult = {
	outcome: JobOutcome;
	/** Plaintext bytes authenticated. */
	bytesDone: number;
	/** Plaintext size, when the header could be read. */
	size?: number;
	/** The first block that failed, when one did. */
	bad?: BadBlock;
	error?: Error;
};

/** Authenticate one chunk on the pool; failures are remembered so the first one in the file is named. */
class AuthenticateProcessor implements ChunkProcessor {
	readonly failures: Array<{chunk: number; block: number; error: Error}> = [];
	readonly #pool: WorkerPool;
	readonly #task: {input: string; key: Buffer; plainTotal: number; inOffset: number};

	constructor(pool: WorkerPool, task: {input: string; key: Buffer; plainTotal: number; inOffset: number}) {
		this.#pool = pool;
		this.#task = task;
	}

	async process(chunk: Chunk, ctx: ChunkContext): Promise<ChunkResult> {
		try {
			await this.#pool.run({op: 'authenticate', output: '', outOffset: 0, plainStart: chunk.start, plainEnd: chunk.end, ...this.#task}, bytes => ctx.progress(bytes));
			return {mac: ''};
		} catch (error) {
			const {code, counter} = error as Error & {code?: string; counter?: number};
			if (code === 'EAUTH' && counter !== undefined) this.failures.push({chunk: chunk.id, block: counter, error: error as Error});
			throw error;
		}
	}
}

/** The one line that names the file, the chunk, the block and where it lies. */
function badBlockError(file: string, bad: BadBlock, why: string): StreamAuthError {
	// Named as decrypt names it: by block and byte (the chunk is only this job's unit of parallel work).
	return new StreamAuthError(`${file}: block ${bad.block} (byte ${bad.offset} of the file, plaintext bytes from ${bad.block * blockSize}) failed authentication: ${why}`, bad.block);
}

/** Why a block failed, from the STREAM's own message ("block N failed authentication: WHY"). */
function reason(error: Error): string {
	return /failed authentication: (.*)$/.exec(error.message)?.[1] ?? error.message;
}

/**
 * Authenticate every block of the age file `input` with `key`, in parallel chunks; nothing is
 * written. Header errors (no identity matches, not an age file, a payload of an impossible
 * length) are thrown before the job starts; a failed block fails the job, naming the first one.
 */
export async function verifyFile(input: string, key: DecryptKey, options: VerifyOptions): Promise<VerifyResult> {
	const source = path.resolve(input);
	const header = await readFileHeader(source, key, input);
	const {payloadOffset} = header;
	const size = plaintextSizeOf(header.fileSize - payloadOffset, input);
	const chunkSize = ageChunkSize(options.chunkSize);
	const chunks = chunkCount(size, chunkSize);
	const {emitter, item} = options;
	const startedAt = Date.now();
	if (item) emitter.send({type: 'item:start', item: item.index, items: item.count, path: source, output: null, size, chunkSize, chunks});
	else emitter.send({type: 'job:start', kind: 'verify', source, output: null, size, chunkSize, chunks, chunksDone: 0, bytesDone: 0, jobs: options.jobs, pid: process.pid, resumed: false});

	const control = new SharedControl();
	control.setRate(options.rate ?? 0);
	const pool = options.pool ?? new WorkerPool(Math.min(options.jobs, chunks), control, {lazy: true});
	pool.useControl(control);
	const processor = new AuthenticateProcessor(pool, {input: source, key: payloadKey(header.fileKey, header.nonce), plainTotal: size, inOffset: payloadOffset});
	let result: VerifyResult;
	try {
		const run = await runChunkedJob({
			kind: 'verify',
			emitter,
			control: options.control,
			sharedControl: control,
			processor,
			source,
			output: null,
			size,
			chunkSize,
			jobs: options.jobs,
			retries: 0,
			checkpoint: null,
			base: {version: checkpointVersion, tool: 'cage', kind: 'verify', job: emitter.job, createdAt: new Date().toISOString(), source: await fingerprint(source), output: null, partial: null, size, chunkSize, totalChunks: chunks, params: {}},
			resumeCommand: '',
			...(item ? {item: item.index} : {}),
		});
		result = {outcome: run.outcome, bytesDone: run.bytesDone, size, ...(run.error ? {error: run.error} : {})};
		// Every chunk before the one that failed first was run to its end, so the lowest failure is
		// the first bad block of the file.
		const first = processor.failures.sort((a, b) => a.block - b.block)[0];
		if (first) {
			const bad = {chunk: first.chunk, block: first.block, offset: payloadOffset + first.block * encryptedBlockSize};
			result = {outcome: 'failed', bytesDone: run.bytesDone, size, bad, error: badBlockError(input, bad, reason(first.error))};
		}
	} catch (error) {
		result = {outcome: 'failed', bytesDone: 0, size, error: error as Error};
	} finally {
		if (pool !== options.pool) await pool.close();
	}

	finish(options, source, result, Date.now() - startedAt);
	return result;
}

/** job:done, or item:done / item:skipped for a file of a batch. */
function finish(options: VerifyOptions, source: string, result: VerifyResult, durationMs: number): void {
	const {emitter, item} = options;
	const message = result.outcome === 'completed' ? undefined : (result.error?.message ?? 'interrupted');
	if (item) {
		if (result.outcome === 'completed') emitter.send({type: 'item:done', item: item.index, path: source, bytes: result.bytesDone, durationMs});
		else emitter.send({type: 'item:skipped', item: item.index, path: source, reason: result.outcome === 'failed' ? `failed: ${message}` : message!});
		return;
	}

	emitter.send({type: 'job:done', outcome: result.outcome, bytesDone: result.bytesDone, durationMs, ...(result.outcome === 'failed' && message ? {error: message} : {})});
}

/** A sink that takes every write and keeps nothing. */
function discard(): Writable {
	return new Writable({
		write(_chunk, _encoding, callback) {
			callback();
		},
	});
}

/**
 * Verify an armored age file: decoded and authenticated as a stream, one block after another (the
 * armor hides where a block lies until everything before it is decoded).
 */
export async function verifyArmoredFile(input: string, key: DecryptKey, options: Omit<VerifyOptions, 'pool' | 'item' | 'jobs'>): Promise<VerifyResult> {
	const source = path.resolve(input);
	const chunkSize = ageChunkSize(options.chunkSize);
	const raw = fs.createReadStream(source, {highWaterMark: 1024 * 1024});
	const result = await decryptStream(dearmor(raw, input), discard(), key, {emitter: options.emitter, control: options.control, rate: options.rate ?? 0, chunkSize, source, output: null, kind: 'verify'});
	raw.destroy();
	const {error} = result;
	const counter = (error as {counter?: number} | undefined)?.counter;
	if (result.outcome === 'failed' && error instanceof StreamAuthError && counter !== undefined) {
		// The stream's header is not at hand here: the offset counts from the payload's start.
		const bad = {chunk: Math.floor((counter * blockSize) / chunkSize), block: counter, offset: counter * encryptedBlockSize};
		const named = new StreamAuthError(`${input}: block ${bad.block} (byte ${bad.offset} of the decoded payload, plaintext bytes from ${counter * blockSize}) failed authentication: ${reason(error)}`, counter);
		return {outcome: 'failed', bytesDone: result.bytesDone, bad, error: named};
	}

	return {outcome: result.outcome, bytesDone: result.bytesDone, ...(error ? {error} : {})};
}
