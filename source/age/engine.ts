/**
 * The age engine: encrypts and decrypts files in chunks on a pool of worker threads, with
 * checkpoints, so an interrupted job continues where it stopped. The header is age-encryption's
 * (`header.ts`); the payload STREAM runs natively in the workers (`worker.ts`).
 *
 * Layout of an encryption: `OUTPUT.partial` gets the header and nonce first, then each chunk's
 * blocks at their computed offsets; on success it is renamed to OUTPUT and the checkpoint
 * (`OUTPUT.checkpoint.json`) is deleted. A checkpoint holds the file key only wrapped to the
 * per-user resume identity.
 */
import {createHash} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {changeTimeMoved, CheckpointError, CheckpointStore, fingerprint, type Checkpoint, type SourceFingerprint} from '../chunker/checkpoint.js';
import {SharedControl} from '../chunker/control.js';
import type {JobEmitter} from '../chunker/emitter.js';
import type {JobKind, JobOutcome} from '../chunker/events.js';
import {chunkAt, chunkCount, roundUp, type Chunk} from '../chunker/plan.js';
import type {ChunkContext, ChunkProcessor, ChunkResult} from '../chunker/processor.js';
import {permanentErrorCodes} from '../chunker/runner.js';
import {FileInput, FileOutput, newPartialError, partialReplacedError, syncDirectory} from '../io/files.js';
import {chunksToVerify, runChunkedJob, SourceChangedError} from '../jobs/chunked-job.js';
import type {ControlProxy} from '../jobs/control-proxy.js';
import {outputCheckpointPath, partialPath} from '../jobs/locate.js';
import {unwrapSecrets, wrapSecrets} from '../jobs/resume-key.js';
import {resumeLine, type ResumeArgs} from '../shell-quote.js';
import {createHeader, readHeader} from './header.js';
import type {AgeIdentity} from './keys.js';
import {type TaskResult, type WorkerTask, WorkerPool} from './pool.js';
import {blockRange, blockSize, ciphertextPayloadSize, nonceSize, payloadKey, plaintextSizeOf} from './stream.js';

/** Options every age job shares. */
export type AgeJobOptions = {
	emitter: JobEmitter;
	control: ControlProxy;
	/** Worker threads (chunks in parallel). */
	jobs: number;
	/** Bytes per second, 0 = unlimited. */
	rate?: number;
	/** The flags the printed resume line repeats (default: the rate). */
	resumeArgs?: ResumeArgs;
	/** Extra attempts for a failed chunk. */
	retries?: number;
	/** Chunk size in bytes (rounded up to a multiple of 64 KiB). */
	chunkSize: number;
	/** Keep a checkpoint (false for small files: one chunk, nothing to resume). */
	checkpoint: boolean;
	/** How much completed work a resume re-verifies. */
	resumeVerify?: 'sample' | 'full';
	/**
	 * Set when this file is one item of a batch: the job brackets it with item:start and
	 * item:done / item:skipped instead of job:start / job:done, and chunk events carry `item`.
	 * `replacePartial`: a partial output already there is the batch's own (see RunItem).
	 */
	item?: {index: number; count: number; replacePartial?: boolean};
	/** Worker threads to use instead of starting (and stopping) a pool for this file: a batch's. */
	pool?: WorkerPool;
};

/** How an age job ended. */
export type AgeJobResult = {
	outcome: JobOutcome;
	bytesDone: number;
	/** The output file, when completed. */
	output: string;
	/** The checkpoint kept for `cage resume`, when there is one. */
	checkpoint?: string;
	error?: Error;
};

/** Who can decrypt the output: recipients (age1…, age1pq1…) or a passphrase. */
export type EncryptTarget = {recipients: string[]; passphrase?: undefined} | {recipients?: undefined; passphrase: string};

/** Who decrypts the input: identities or a passphrase. */
export type DecryptKey = {identities: AgeIdentity[]; passphrase?: undefined} | {identities?: undefined; passphrase: string};

/** A chunk size usable by the STREAM: a positive multiple of the 64 KiB block. */
export function ageChunkSize(chunkSize: number): number {
	return roundUp(Math.max(chunkSize, blockSize), blockSize);
}

/** A digest of the recipients (order and duplicates ignored) that a resume compares. */
export function recipientsDigest(target: EncryptTarget): string {
	if (target.passphrase !== undefined) return 'scrypt';
	const unique = [...new Set(target.recipients)].sort();
	return createHash('sha256').update(unique.join('\n')).digest('hex');
}

type Plan = {
	kind: 'encrypt' | 'decrypt';
	input: string;
	output: string;
	partial: string;
	/** Plaintext bytes. */
	size: number;
	chunkSize: number;
	key: Buffer;
	/** Where the payload (encrypt: plaintext) starts in the input. */
	inOffset: number;
	/** Where the payload (decrypt: plaintext) starts in the partial output. */
	outOffset: number;
};

/** One chunk = one worker task; the MAC is a digest of the chunk's Poly1305 tags (see worker.ts). */
class AgeChunkProcessor implements ChunkProcessor {
	readonly #pool: WorkerPool;
	readonly #plan: Plan;

	constructor(pool: WorkerPool, plan: Plan) {
		this.#pool = pool;
		this.#plan = plan;
	}

	async process(chunk: Chunk, ctx: ChunkContext): Promise<ChunkResult> {
		try {
			const {mac} = await this.#pool.run(this.#task(chunk, this.#plan.kind), bytes => ctx.progress(bytes));
			return {mac};
		} catch (error) {
			// Remember where it failed, for the message the user reads.
			if (error instanceof Error) Object.assign(error, {chunk: chunk.id});
			throw error;
		}
	}

	/**
	 * Redo a committed chunk without writing (resume): its MAC as the source gives it now, and
	 * whether the partial output still holds, byte for byte, what that work gives. One pass over
	 * the source and one read of the output prove both sides.
	 */
	async verify(chunk: Chunk): Promise<Required<TaskResult>> {
		const {mac, matches = false} = await this.#pool.run(this.#task(chunk, `verify-${this.#plan.kind}`));
		return {mac, matches};
	}

	#task(chunk: Chunk, op: WorkerTask['op']) {
		const plan = this.#plan;
		return {op, input: plan.input, output: plan.partial, key: plan.key, plainStart: chunk.start, plainEnd: chunk.end, plainTotal: plan.size, inOffset: plan.inOffset, outOffset: plan.outOffset};
	}
}

/** What to do when a checkpoint cannot be resumed: the job again, replacing its files. */
function startOver(plan: Plan, batchItem: boolean): string {
	// In a batch, --force would redo every file: remove this one's files and resume the batch.
	if (batchItem) return `to start this file over, delete ${plan.partial} and ${outputCheckpointPath(plan.output)}, then resume the batch`;
	return `to start over, run the same 'cage ${plan.kind}' command with --force (it replaces ${plan.partial} and its checkpoint)`;
}

/** Bytes of the partial output that the committed chunks occupy. */
function committedLength(plan: Plan, chunksDone: number): number {
	if (chunksDone === 0) return plan.outOffset;
	const last = chunkAt(plan.size, plan.chunkSize, chunksDone - 1);
	if (plan.kind === 'decrypt') return last.end;
	return plan.outOffset + blockRange(last.start, last.end, plan.size).cipherEnd;
}

type RunSpec = {
	plan: Plan;
	options: AgeJobOptions;
	/** Written at the start of a fresh encryption (header || nonce). */
	prefix?: Uint8Array;
	base?: Omit<Checkpoint, 'chunksDone' | 'bytesDone' | 'macs' | 'info' | 'skipped' | 'updatedAt'>;
	resumeFrom?: {checkpoint: Checkpoint; file: string};
};

async function runAgeJob(spec: RunSpec): Promise<AgeJobResult> {
	const {plan, options, resumeFrom} = spec;
	const {emitter} = options;
	const startedAt = Date.now();
	const store = options.checkpoint ? new CheckpointStore(resumeFrom?.file ?? outputCheckpointPath(plan.output)) : null;
	const resumeCommand = resumeLine(plan.output, options.resumeArgs ?? {rate: options.rate});
	const control = new SharedControl();
	control.setRate(options.rate ?? 0);
	const count = chunkCount(plan.size, plan.chunkSize);
	const {item} = options;
	if (item) {
		emitter.send({type: 'item:start', item: item.index, items: item.count, path: plan.input, output: plan.output, size: plan.size, chunkSize: plan.chunkSize, chunks: count});
	} else emitter.send({
		type: 'job:start',
		kind: plan.kind,
		source: plan.input,
		output: plan.output,
		size: plan.size,
		chunkSize: plan.chunkSize,
		chunks: count,
		chunksDone: resumeFrom?.checkpoint.chunksDone ?? 0,
		bytesDone: resumeFrom?.checkpoint.bytesDone ?? 0,
		jobs: options.jobs,
		pid: process.pid,
		resumed: Boolean(resumeFrom),
	});

	const pool = options.pool ?? new WorkerPool(Math.min(options.jobs, count), control);
	pool.useControl(control);
	let output: FileOutput | undefined;
	let result: {outcome: JobOutcome; bytesDone: number; error?: Error; checkpoint?: string; sourceChanged?: string} | undefined;
	try {
		const processor = new AgeChunkProcessor(pool, plan);
		let base = resumeFrom?.checkpoint ?? spec.base!;
		if (resumeFrom) {
			const partial = await openPartialForResume(plan, resumeFrom.checkpoint, resumeFrom.file, Boolean(item));
			output = partial.output;
			const source = await fingerprint(plan.input);
			await verifyResume(plan, processor, resumeFrom.checkpoint, resumeFrom.file, resumeVerifyMode(plan, resumeFrom.checkpoint, options, source, partial.ctimeMs), Boolean(item));
			// Verified: the source as it is now (a chmod's change time) is what later resumes compare with.
			base = {...resumeFrom.checkpoint, source};
		} else {
			// Created, not reused: a second process that starts on the same output in the same moment
			// (before either has a checkpoint naming its pid) is refused, a batch's file included. Only
			// a batch's file that the batch itself left running (a crash before its first checkpoint)
			// starts its partial output over.
			output = await FileOutput.open(plan.partial, {exclusive: !item?.replacePartial}).catch((error: unknown) => {
				throw newPartialError(error, plan.partial, plan.output);
			});
			await output.truncate(0);
			if (spec.prefix) await output.write(spec.prefix, 0, spec.prefix.length, 0);
		}

		const out = output;
		result = await runChunkedJob({
			kind: plan.kind,
			emitter,
			control: options.control,
			sharedControl: control,
			processor,
			source: plan.input,
			output: plan.output,
			size: plan.size,
			chunkSize: plan.chunkSize,
			jobs: options.jobs,
			retries: options.retries ?? 0,
			checkpoint: store,
			base,
			...(resumeFrom ? {resumeFrom: resumeFrom.checkpoint} : {}),
			async beforeCheckpoint() {
				await out.sync();
				return {partialCtimeMs: (await fs.stat(plan.partial)).ctimeMs};
			},
			resumeCommand,
			...(item ? {item: item.index} : {}),
		});
	} catch (error) {
		result = {outcome: 'failed', bytesDone: resumeFrom?.checkpoint.bytesDone ?? 0, error: error as Error, ...(resumeFrom ? {checkpoint: resumeFrom.file} : {})};
	} finally {
		if (pool !== options.pool) await pool.close();
	}

	try {
		if (result.outcome === 'completed') {
			await output!.sync();
			// A job with no checkpoint yet names no pid, so a --force start could replace the partial
			// output under it; renaming that would put the other job's unfinished file in place.
			if (!(await output!.isAt(plan.partial))) throw partialReplacedError(plan.partial, plan.output);
			await output!.close();
			output = undefined;
			await fs.rename(plan.partial, plan.output);
			await syncDirectory(path.dirname(plan.output));
			await store?.remove();
		} else {
			// Only this job's own partial output (and checkpoint) may be removed: not one that another
			// process made under the same name (its exclusive creation failed, or it was replaced).
			const ours = output !== undefined && (await output.isAt(plan.partial));
			await output?.close();
			output = undefined;
			const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
			// Never keep plaintext of a failed decryption, nor an output that cannot become valid.
			const hopeless = result.sourceChanged !== undefined || permanentErrorCodes.has(code ?? '') || result.error instanceof SourceChangedError;
			// A resume that cannot go on (the source changed, the partial output was damaged) keeps
			// both files for the user to decide, and does not suggest resuming again.
			const refused = Boolean(resumeFrom) && (result.error instanceof SourceChangedError || result.error instanceof CheckpointError);
			if (hopeless || refused || !result.checkpoint) {
				if (!refused && ours) {
					await fs.rm(plan.partial, {force: true});
					await store?.remove();
				}

				delete result.checkpoint;
			}
		}
	} catch (error) {
		result = {outcome: 'failed', bytesDone: result.bytesDone, error: error as Error};
	} finally {
		await output?.close().catch(() => undefined);
	}

	const error = result.error && result.outcome === 'failed' ? describeChunkError(result.error, plan, Boolean(result.checkpoint)) : result.error;
	if (item) {
		const durationMs = Date.now() - startedAt;
		if (result.outcome === 'completed') emitter.send({type: 'item:done', item: item.index, path: plan.input, bytes: result.bytesDone, durationMs});
		else emitter.send({type: 'item:skipped', item: item.index, path: plan.input, reason: result.outcome === 'failed' ? `failed: ${error?.message ?? 'unknown error'}` : (result.error?.message ?? 'interrupted')});
	} else emitter.send({
		type: 'job:done',
		outcome: result.outcome,
		bytesDone: result.bytesDone,
		durationMs: Date.now() - startedAt,
		...(error && result.outcome === 'failed' ? {error: error.message} : {}),
		...(result.checkpoint ? {checkpoint: result.checkpoint, resumeCommand} : {}),
	});
	return {outcome: result.outcome, bytesDone: result.bytesDone, output: plan.output, ...(result.checkpoint ? {checkpoint: result.checkpoint} : {}), ...(error ? {error} : {})};
}

/** Name the file, the chunk and what to do for an authentication failure or a full disk. */
function describeChunkError(error: Error, plan: Plan, resumable: boolean): Error {
	const {code, counter, chunk: failedChunk} = error as Error & {code?: string; counter?: number; chunk?: number};
	if (code === 'ENOSPC' || code === 'EDQUOT') {
		const described = new Error(
			`${plan.partial}: no space left on device${failedChunk === undefined ? '' : ` while writing chunk ${failedChunk}`}; free some space (about ${plan.size} bytes are needed in all), then ${resumable ? 'resume' : 'run the command again (a job this small keeps no checkpoint)'}`,
		) as Error & {code: string};
		described.name = 'JobError';
		described.code = code;
		return described;
	}

	if (code !== 'EAUTH' || counter === undefined) return error;
	const chunk = Math.floor((counter * blockSize) / plan.chunkSize);
	const described = new Error(
		`${plan.input}: chunk ${chunk} (block ${counter}, plaintext bytes from ${counter * blockSize}) failed authentication: the file is damaged, truncated, has trailing data or was tampered with; nothing was written to ${plan.output}`,
	) as Error & {code: string};
	described.name = 'StreamAuthError';
	described.code = 'EAUTH';
	return described;
}

/** Open the partial output to continue it, once its length covers what the checkpoint claims; with its change time. */
async function openPartialForResume(plan: Plan, checkpoint: Checkpoint, file: string, batchItem: boolean): Promise<{output: FileOutput; ctimeMs: number}> {
	let stat;
	try {
		stat = await fs.stat(plan.partial);
	} catch {
		throw new CheckpointError(`cannot resume ${file}: the partial output ${plan.partial} is gone; ${startOver(plan, batchItem)}`);
	}

	const needed = committedLength(plan, checkpoint.chunksDone);
	if (stat.size < needed) {
		throw new CheckpointError(
			`cannot resume ${file}: the partial output ${plan.partial} is ${stat.size} bytes, shorter than the ${needed} bytes the checkpoint records as written; ${startOver(plan, batchItem)}`,
		);
	}

	return {output: await FileOutput.open(plan.partial), ctimeMs: stat.ctimeMs};
}

/** How many chunks a resume verifies at once. */
const verifyBatch = 4;

/**
 * The setting's verification, or all done chunks (said as an anomaly) when the source's change
 * time moved since the checkpoint although its size, modification time and inode did not, or
 * when the partial output's moved after a clean stop. `source` and `partialCtimeMs` are now's.
 */
function resumeVerifyMode(plan: Plan, checkpoint: Checkpoint, options: AgeJobOptions, source: SourceFingerprint, partialCtimeMs: number): 'sample' | 'full' {
	const mode = options.resumeVerify ?? 'sample';
	if (mode === 'full') return mode;
	const done = checkpoint.chunksDone - checkpoint.skipped.length;
	const warn = (message: string, code: 'source-changed' | 'output-changed' = 'source-changed') => {
		options.emitter.send({type: 'anomaly', severity: 'warn', code, message, ...(options.item ? {item: options.item.index} : {})});
	};

	if (changeTimeMoved(checkpoint.source, source)) {
		warn(`${plan.input} was written to or its metadata changed since the checkpoint (its change time moved; size and modification time did not): re-verifying all ${done} done chunks, not a sample`);
		return 'full';
	}

	// After a clean stop nothing of the job wrote to the partial output again, so a change time that
	// moved means something else did. (After a kill -9 the last chunks' writes move it anyway.)
	if (checkpoint.stopped && checkpoint.partialCtimeMs !== undefined && partialCtimeMs !== checkpoint.partialCtimeMs) {
		warn(`${plan.partial} was written to after the job stopped: re-verifying all ${done} done chunks, not a sample`, 'output-changed');
		return 'full';
	}

	return mode;
}

/**
 * Redo a sample of committed chunks (or all: `resumeVerify full`) from the source, without
 * writing: the MAC must be the checkpoint's (else the source changed) and the partial output must
 * hold exactly what the work gives (else it was damaged since).
 */
async function verifyResume(plan: Plan, processor: AgeChunkProcessor, checkpoint: Checkpoint, file: string, mode: 'sample' | 'full', batchItem: boolean): Promise<void> {
	if (plan.kind === 'encrypt') {
		const expected = checkpoint.params.headerSha256;
		const header = Buffer.alloc(plan.outOffset);
		const handle = await fs.open(plan.partial, 'r');
		try {
			await handle.read(header, 0, header.length, 0);
		} finally {
			await handle.close();
		}

		if (createHash('sha256').update(header).digest('hex') !== expected) {
			throw new CheckpointError(`cannot resume ${file}: the header of ${plan.partial} is not the one this job wrote; ${startOver(plan, batchItem)}`);
		}
	}

	// A few chunks at a time, so that every worker has work (a sample is one batch); checked in
	// chunk order, so the first changed chunk is the one named.
	const ids = chunksToVerify(checkpoint.chunksDone, checkpoint.skipped, mode);
	for (let from = 0; from < ids.length; from += verifyBatch) {
		const chunks = ids.slice(from, from + verifyBatch).map(id => chunkAt(plan.size, plan.chunkSize, id));
		const results = await Promise.all(chunks.map(async chunk => processor.verify(chunk).catch((error: Error) => error)));
		for (const [index, chunk] of chunks.entries()) {
			const result = results[index]!;
			// A failed authentication (decrypt) or a shrunk source is a changed source; any other
			// error (a permission, an I/O error) is itself the answer, and the checkpoint stays.
			if (result instanceof Error && !['EAUTH', 'ESHRANK'].includes((result as NodeJS.ErrnoException).code ?? '')) throw result;
			if (result instanceof Error || result.mac !== checkpoint.macs[chunk.id]) {
				throw new SourceChangedError(
					`cannot resume ${file}: chunk ${chunk.id} (bytes ${chunk.start}..${chunk.end}) of ${plan.input} is not what was ${plan.kind}ed before; the source changed — ${startOver(plan, batchItem)}`,
				);
			}

			if (!result.matches) {
				throw new CheckpointError(
					`cannot resume ${file}: chunk ${chunk.id} of the partial output ${plan.partial} was damaged since the checkpoint; ${startOver(plan, batchItem)}`,
				);
			}
		}
	}
}

/** Encrypt a file to recipients or a passphrase, in resumable chunks. */
export async function encryptFile(input: string, output: string, target: EncryptTarget, options: AgeJobOptions): Promise<AgeJobResult> {
	const source = path.resolve(input);
	const destination = path.resolve(output);
	const file = await FileInput.open(source);
	const size = file.size;
	await file.close();
	const {header, fileKey, nonce} = await createHeader(target.passphrase === undefined ? {recipients: target.recipients} : {passphrase: target.passphrase});
	const prefix = Buffer.concat([header, nonce]);
	const chunkSize = options.checkpoint ? ageChunkSize(options.chunkSize) : ageChunkSize(size);
	const plan: Plan = {
		kind: 'encrypt',
		input: source,
		output: destination,
		partial: partialPath(destination),
		size,
		chunkSize,
		key: payloadKey(fileKey, nonce),
		inOffset: 0,
		outOffset: prefix.length,
	};
	let secrets: string | undefined;
	if (options.checkpoint) secrets = (await wrapSecrets({fileKey: Buffer.from(fileKey).toString('base64'), nonce: Buffer.from(nonce).toString('base64')})).wrapped;
	return runAgeJob({
		plan,
		options,
		prefix,
		base: {
			version: 1,
			tool: 'cage',
			kind: 'encrypt',
			job: options.emitter.job,
			createdAt: new Date().toISOString(),
			source: await fingerprint(source),
			output: destination,
			partial: plan.partial,
			size,
			chunkSize,
			totalChunks: chunkCount(size, chunkSize),
			...(secrets ? {secrets} : {}),
			params: {
				headerLength: prefix.length,
				headerSha256: createHash('sha256').update(prefix).digest('hex'),
				recipients: recipientsDigest(target),
				outputSize: prefix.length + ciphertextPayloadSize(size),
			},
		},
	});
}

/** Decrypt an age file with identities or a passphrase, in resumable chunks. */
export async function decryptFile(input: string, output: string, key: DecryptKey, options: AgeJobOptions): Promise<AgeJobResult> {
	const source = path.resolve(input);
	const destination = path.resolve(output);
	const file = await FileInput.open(source);
	let header;
	try {
		header = await readHeader(async (buffer, offset, length, position) => file.read(buffer, offset, length, position), key.passphrase === undefined ? {identities: key.identities} : {passphrase: key.passphrase}, input);
	} finally {
		await file.close();
	}

	const payloadOffset = header.payloadOffset;
	const size = plaintextSizeOf(file.size - payloadOffset, input);
	const chunkSize = options.checkpoint ? ageChunkSize(options.chunkSize) : ageChunkSize(size);
	const plan: Plan = {
		kind: 'decrypt',
		input: source,
		output: destination,
		partial: partialPath(destination),
		size,
		chunkSize,
		key: payloadKey(header.fileKey, header.nonce),
		inOffset: payloadOffset,
		outOffset: 0,
	};
	let secrets: string | undefined;
	if (options.checkpoint) secrets = (await wrapSecrets({fileKey: Buffer.from(header.fileKey).toString('base64'), nonce: Buffer.from(header.nonce).toString('base64')})).wrapped;
	return runAgeJob({
		plan,
		options,
		base: {
			version: 1,
			tool: 'cage',
			kind: 'decrypt',
			job: options.emitter.job,
			createdAt: new Date().toISOString(),
			source: await fingerprint(source),
			output: destination,
			partial: plan.partial,
			size,
			chunkSize,
			totalChunks: chunkCount(size, chunkSize),
			...(secrets ? {secrets} : {}),
			params: {payloadOffset, nonceLength: nonceSize},
		},
	});
}

/** Continue an interrupted encryption or decryption from its checkpoint (already fingerprint-checked). */
export async function resumeFile(
	checkpoint: Checkpoint,
	checkpointFile: string,
	options: Omit<AgeJobOptions, 'chunkSize' | 'checkpoint'> & {recipients?: EncryptTarget},
): Promise<AgeJobResult> {
	const kind: JobKind = checkpoint.kind;
	if (kind === 'hash' || checkpoint.output === null || checkpoint.partial === null) throw new CheckpointError(`${checkpointFile} is not an encrypt or decrypt checkpoint`);
	if (!checkpoint.secrets) throw new CheckpointError(`${checkpointFile} has no wrapped secrets; it cannot be resumed`);
	if (kind === 'encrypt' && options.recipients && recipientsDigest(options.recipients) !== checkpoint.params.recipients) {
		throw new CheckpointError(
			`cannot resume ${checkpointFile}: the recipients given now differ from those the job started with; run 'cage resume' with the same -r/-R (or none), or start again with --force`,
		);
	}

	const secrets = await unwrapSecrets(checkpoint.secrets, checkpointFile);
	const fileKey = Buffer.from(secrets.fileKey ?? '', 'base64');
	const nonce = Buffer.from(secrets.nonce ?? '', 'base64');
	if (fileKey.length !== 16 || nonce.length !== nonceSize) throw new CheckpointError(`the secrets in ${checkpointFile} are damaged; delete it and start again`);
	const plan: Plan = {
		kind,
		input: checkpoint.source.path,
		output: checkpoint.output,
		partial: checkpoint.partial,
		size: checkpoint.size,
		chunkSize: checkpoint.chunkSize,
		key: payloadKey(fileKey, nonce),
		inOffset: kind === 'encrypt' ? 0 : Number(checkpoint.params.payloadOffset),
		outOffset: kind === 'encrypt' ? Number(checkpoint.params.headerLength) : 0,
	};
	return runAgeJob({plan, options: {...options, chunkSize: checkpoint.chunkSize, checkpoint: true}, resumeFrom: {checkpoint, file: checkpointFile}});
}
