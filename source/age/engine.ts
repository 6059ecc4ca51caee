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
import {changeTimeMoved, CheckpointError, checkpointVersion, CheckpointStore, fingerprint, hasValidSeal, type Checkpoint, type SourceFingerprint} from '../chunker/checkpoint.js';
import {AbortedError, SharedControl} from '../chunker/control.js';
import type {JobEmitter} from '../chunker/emitter.js';
import type {JobControl, JobKind, JobOutcome, JobPhase} from '../chunker/events.js';
import {chunkAt, chunkCount, roundUp, type Chunk} from '../chunker/plan.js';
import type {ChunkContext, ChunkProcessor, ChunkResult} from '../chunker/processor.js';
import {permanentErrorCodes} from '../chunker/runner.js';
import {faultPoint} from '../io/fault.js';
import {identityOf, isIdentity, isIdentitySync, parseIdentity, type FileIdentity, type WrittenIdentity} from '../io/identity.js';
import {exists, existsSync, FileInput, type FileOutput, OutputExistsError} from '../io/files.js';
import {PartialOutput} from '../io/partial-output.js';
import {chunksToVerify, runChunkedJob, SourceChangedError} from '../jobs/chunked-job.js';
import type {ControlProxy} from '../jobs/control-proxy.js';
import {claim, claimPath} from '../jobs/claim.js';
import {outputCheckpointPath, partialPath} from '../jobs/locate.js';
import {unwrapSecrets, wrapSecrets} from '../jobs/resume-key.js';
import {resumeLine, type ResumeArgs} from '../shell-quote.js';
import {checkpointSealKey} from './chunk-digest.js';
import {createHeader, readHeader} from './header.js';
import type {AgeIdentity} from './keys.js';
import {type TaskResult, type WorkerTask, WorkerPool} from './pool.js';
import {inlineLimit} from './warm-workers.js';
import {blockRange, blockSize, ciphertextPayloadSize, encryptedBlockSize, nonceSize, payloadKey, plaintextSizeOf} from './stream.js';

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
	/** Replace whatever is at OUTPUT when the job ends (--force); else only `replaces`, or nothing. */
	force?: boolean;
	/** The file at OUTPUT that this job may replace (a --force batch's, recorded when it was planned). */
	replaces?: FileIdentity;
	/** Called with the finished output's identity just before it is renamed into place (a batch records it). */
	beforeRename?: (identity: WrittenIdentity) => Promise<void>;
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
	/**
	 * When completed: the payload key the job held and where the payload starts in its output (an
	 * encryption's header length), so the caller can authenticate the output it reads back (lock).
	 * In memory only.
	 */
	payload?: {key: Buffer; offset: number};
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
	/** The file at OUTPUT when the job started with --force: the one it was asked to replace. */
	replaces?: FileIdentity;
};

/**
 * Whether OUTPUT may take the finished file's place: nothing is there, or the user said --force
 * now, or it is the very file the job was started with --force to replace. A file that appeared
 * at OUTPUT since is never replaced without --force.
 */
async function mayReplaceOutput(plan: Plan, force: boolean, sync = false): Promise<boolean> {
	if (sync) return force || !existsSync(plan.output) || isIdentitySync(plan.output, plan.replaces);
	return force || !(await exists(plan.output)) || (await isIdentity(plan.output, plan.replaces));
}


/** One chunk = one worker task; the MAC is a digest of the chunk's Poly1305 tags (see worker.ts). */
class AgeChunkProcessor implements ChunkProcessor {
	readonly #pool: WorkerPool;
	readonly #plan: Plan;
	// A job without a checkpoint has nothing to check its output against later: no digests.
	readonly #digests: boolean;

	constructor(pool: WorkerPool, plan: Plan, {digests = true} = {}) {
		this.#pool = pool;
		this.#plan = plan;
		this.#digests = digests;
	}

	async process(chunk: Chunk, ctx: ChunkContext): Promise<ChunkResult> {
		try {
			const {mac, digest} = await this.#pool.run(this.#task(chunk, this.#plan.kind), bytes => ctx.progress(bytes));
			return {mac, digest};
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
	async verify(chunk: Chunk, output = this.#plan.partial): Promise<Required<TaskResult>> {
		const {mac, digest, matches = false} = await this.#pool.run(this.#task(chunk, `verify-${this.#plan.kind}`, output));
		return {mac, digest, matches};
	}

	/** The digest of what `output` (default: the partial output) holds at the chunk's place ('' when it ends before). */
	async digest(chunk: Chunk, output = this.#plan.partial): Promise<string> {
		return (await this.#pool.run(this.#task(chunk, `digest-${this.#plan.kind}`, output))).digest;
	}

	/** Process a committed chunk again (write it to the partial output), outside the runner: a resume's repair. */
	async redo(chunk: Chunk): Promise<TaskResult> {
		return this.#pool.run(this.#task(chunk, this.#plan.kind));
	}

	#task(chunk: Chunk, op: WorkerTask['op'], output = this.#plan.partial) {
		const plan = this.#plan;
		return {op, input: plan.input, output, key: plan.key, plainStart: chunk.start, plainEnd: chunk.end, plainTotal: plan.size, inOffset: plan.inOffset, outOffset: plan.outOffset, ...(this.#digests ? {} : {noDigest: true})};
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
	const checkpointFile = resumeFrom?.file ?? outputCheckpointPath(plan.output);
	const store = options.checkpoint ? new CheckpointStore(checkpointFile, {sealKey: checkpointSealKey(plan.key)}) : null;
	const resumeCommand = resumeLine(plan.output, options.resumeArgs ?? {rate: options.rate});
	const control = new SharedControl();
	control.setRate(options.rate ?? 0);
	const count = chunkCount(plan.size, plan.chunkSize);
	// A job of a few blocks with nothing to resume (a batch's small file, mostly) makes its file
	// calls synchronously: a score of trips to libuv's thread pool cost more than its cipher.
	const quick = store === null && !resumeFrom && plan.size <= inlineLimit;
	const {item} = options;
	if (item) {
		const resumedAt = resumeFrom ? {chunksDone: resumeFrom.checkpoint.chunksDone, bytesDone: resumeFrom.checkpoint.bytesDone} : {};
		emitter.send({type: 'item:start', item: item.index, items: item.count, path: plan.input, output: plan.output, size: plan.size, chunkSize: plan.chunkSize, chunks: count, ...resumedAt});
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
		...(options.rate ? {rate: options.rate} : {}),
	});
	const phase = (name: JobPhase, progress: {done: number; total: number} | object = {}) => emitter.send({type: 'job:phase', phase: name, ...progress, ...(item ? {item: item.index} : {})});
	phase('opening');

	// Lazy: a small file's tasks run on this thread (pool.ts), and it needs no threads at all.
	const pool = options.pool ?? new WorkerPool(Math.min(options.jobs, count), control, {lazy: true});
	pool.useControl(control);
	let output: FileOutput | undefined;
	// The partial output as this job created or opened it: renamed or removed only while still its own.
	let partial: PartialOutput | undefined;
	let result: {outcome: JobOutcome; bytesDone: number; error?: Error; checkpoint?: string; sourceChanged?: string} | undefined;
	// The job's claim on its checkpoint (one writer at a time); none for a job too small for one.
	let held: Awaited<ReturnType<typeof claim>> | undefined;
	// Set when a resume finds the output already in place, whole: the crash came after the rename.
	let finishedEarlier = false;
	try {
		// The claim is the output's, wherever the checkpoint file was passed from (a copy elsewhere).
		if (store) held = await claim(claimPath(outputCheckpointPath(plan.output)), writer => runningError(writer, plan.output));
		const processor = new AgeChunkProcessor(pool, plan, {digests: store !== null});
		let base = resumeFrom?.checkpoint ?? spec.base!;
		const prepareResume = async (): Promise<typeof base> => {
			const opened = await openPartialForResume(plan, processor, resumeFrom!.checkpoint, resumeFrom!.file, {batchItem: Boolean(item), force: Boolean(options.force), emitter, itemIndex: item?.index});
			if (opened === 'finished') {
				finishedEarlier = true;
				result = {outcome: 'completed', bytesDone: plan.size};
				return base;
			}

			({file: output, partial} = opened);
			const source = await fingerprint(plan.input);
			phase('verifying');
			const checkpoint = await repairResume(plan, processor, resumeFrom!.checkpoint, resumeFrom!.file, {stopped: opened.stopped, emitter, itemIndex: item?.index, batchItem: Boolean(item)});
			await verifyResume(plan, processor, checkpoint, resumeFrom!.file, resumeVerifyMode(plan, checkpoint, options, source, opened.ctimeMs), Boolean(item), (done, total) => phase('verifying', {done, total}));
			// Verified: the source as it is now (a chmod's change time) is what later resumes compare with.
			return {...checkpoint, source};
		};

		if (resumeFrom) {
			// q, Ctrl-C or SIGTERM while the resume checks what it continues: its workers stop at their
			// next read, and the checkpoint it started from stays as it was (still true: what the
			// check redid is byte for byte what was there before).
			const checking = stopOnlyControl(control);
			options.control.attach(checking);
			try {
				base = await prepareResume();
			} finally {
				options.control.detach(checking);
			}
		} else {
			// Created, not reused: a second process that starts on the same output in the same moment
			// (before either has a checkpoint naming its pid) is refused, a batch's file included. Only
			// a batch's file that the batch itself left running (a crash before its first checkpoint)
			// starts its partial output over.
			({file: output, partial} = await PartialOutput.create(plan.partial, plan.output, {reuse: item?.replacePartial, sync: quick}));
			// Created exclusively it is empty; taken over (a batch's own, after a crash) it is emptied.
			if (item?.replacePartial) await output.truncate(0);
			if (spec.prefix) await output.write(spec.prefix, 0, spec.prefix.length, 0);
		}

		const out = output;
		if (out) {
			phase('processing');
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
				...(resumeFrom ? {resumeFrom: base as Checkpoint} : {}),
				async beforeCheckpoint() {
					await out.sync();
					const stat = await fs.stat(plan.partial);
					return {partialCtimeMs: stat.ctimeMs, partialIno: stat.ino, partialDev: stat.dev};
				},
				// What chunks after the committed ones wrote is redone by a resume anyway: dropped, so
				// that a full disk has room for the last checkpoint (it keeps every committed chunk).
				async beforeStop(committed) {
					await out.truncate(committedLength(plan, committed));
				},
				resumeCommand,
				...(item ? {item: item.index} : {}),
			});
		}
	} catch (error) {
		// Stopped while a resume checked what it continues: interrupted, its checkpoint as it was.
		const stopped = error instanceof AbortedError && resumeFrom !== undefined;
		result = {outcome: stopped ? 'interrupted' : 'failed', bytesDone: resumeFrom?.checkpoint.bytesDone ?? 0, error: error as Error, ...(resumeFrom ? {checkpoint: resumeFrom.file} : {})};
	} finally {
		if (pool !== options.pool) await pool.close();
	}

	result ??= {outcome: 'failed', bytesDone: 0, error: new Error('the job did not run')};
	// The claim goes before the checkpoint it guards: a kill between the two leaves a checkpoint of
	// a finished job, which the next resume recognises, never a lock beside the output for good.
	const removeCheckpoint = async () => {
		await held?.finish();
		held = undefined;
		await store?.remove();
	};

	try {
		if (result.outcome === 'completed' && finishedEarlier) {
			await removeCheckpoint();
		} else if (result.outcome === 'completed') {
			// Exactly the bytes of the output: nothing after them (a longer partial output left by
			// another program must not add trailing data).
			phase('syncing');
			await output!.truncate(outputLength(plan));
			await output!.sync();
			await output!.close();
			output = undefined;
			// A job with no checkpoint yet names no pid, so a --force start could replace the partial
			// output under it; renaming that would put the other job's unfinished file in place.
			phase('renaming');
			await partial!.commit({
				async beforeRename(written) {
					// A file that appeared at OUTPUT while the job ran is not replaced without --force.
					if (!(await mayReplaceOutput(plan, Boolean(options.force), quick))) throw outputAppearedError(plan, store?.path, Boolean(item));
					await options.beforeRename?.(written);
				},
			});
			faultPoint('after-final-rename');
			await removeCheckpoint();
		} else {
			// Only this job's own partial output (and checkpoint) may be removed: not one that another
			// process made under the same name (its exclusive creation failed, or it was replaced).
			const ours = (await partial?.isOurs()) ?? false;
			await output?.close();
			output = undefined;
			const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
			// Never keep plaintext of a failed decryption, nor an output that cannot become valid.
			const hopeless = result.sourceChanged !== undefined || permanentErrorCodes.has(code ?? '') || result.error instanceof SourceChangedError;
			// A resume that cannot go on (the source changed, the partial output was damaged) keeps
			// both files for the user to decide, and does not suggest resuming again.
			const refused = Boolean(resumeFrom) && (result.error instanceof SourceChangedError || result.error instanceof CheckpointError || result.error instanceof OutputExistsError);
			if (hopeless || refused || !result.checkpoint) {
				if (!refused && ours) {
					await partial!.discard();
					await removeCheckpoint();
				}

				delete result.checkpoint;
			}
		}
	} catch (error) {
		// A file that appeared at OUTPUT: this job's finished work is kept beside it, to resume or rename.
		const kept = error instanceof OutputExistsError && store ? {checkpoint: store.path} : {};
		result = {outcome: 'failed', bytesDone: result.bytesDone, error: error as Error, ...kept};
	} finally {
		await output?.close().catch(() => undefined);
		await held?.release().catch(() => undefined);
	}

	// A full disk stops a job that keeps a checkpoint as an interruption would: every chunk committed
	// before it is kept, and a resume continues once there is room.
	const noSpace = ['ENOSPC', 'EDQUOT'].includes((result.error as NodeJS.ErrnoException | undefined)?.code ?? '');
	if (result.outcome === 'failed' && noSpace && result.checkpoint) result = {...result, outcome: 'interrupted'};
	const error = result.error && result.outcome !== 'completed' && (result.outcome === 'failed' || noSpace) ? describeChunkError(result.error, plan, Boolean(result.checkpoint)) : result.error;
	if (item) {
		const durationMs = Date.now() - startedAt;
		if (result.outcome === 'completed') emitter.send({type: 'item:done', item: item.index, path: plan.input, bytes: result.bytesDone, durationMs});
		else emitter.send({type: 'item:skipped', item: item.index, path: plan.input, reason: result.outcome === 'failed' ? `failed: ${error?.message ?? 'unknown error'}` : (error?.message ?? 'interrupted')});
	} else emitter.send({
		type: 'job:done',
		outcome: result.outcome,
		bytesDone: result.bytesDone,
		durationMs: Date.now() - startedAt,
		...(error && (result.outcome === 'failed' || noSpace) ? {error: error.message} : {}),
		...(result.checkpoint ? {checkpoint: result.checkpoint, resumeCommand} : {}),
	});
	const payload = result.outcome === 'completed' ? {payload: {key: plan.key, offset: plan.kind === 'encrypt' ? plan.outOffset : plan.inOffset}} : {};
	return {outcome: result.outcome, bytesDone: result.bytesDone, output: plan.output, ...(result.checkpoint ? {checkpoint: result.checkpoint} : {}), ...(error ? {error} : {}), ...payload};
}

/**
 * The JobControl of a resume's checks: an abort stops `control` (the workers) at once; a pause is
 * held and handed to the runner when it attaches (the checks themselves run on); skip and retry
 * mean nothing yet.
 */
function stopOnlyControl(control: SharedControl): JobControl {
	let paused = false;
	return {
		get paused() {
			return paused;
		},
		pause() {
			paused = true;
		},
		resume() {
			paused = false;
		},
		skip() {},
		retry() {},
		abort() {
			control.abort();
		},
	};
}

/** The refusal when another cage process holds the job's claim (`writer` undefined: it is starting). */
function runningError(writer: number | undefined, output: string): Error {
	const who = writer === undefined ? 'another cage process is starting' : `cage process ${writer} is running`;
	const stop = writer === undefined ? 'wait a moment and try again' : `let it finish, or stop it (q, Ctrl-C or kill ${writer}) first`;
	return new OutputExistsError(`${who} the job writing ${output} now; ${stop}`);
}

/** A file at OUTPUT that this job did not write: kept, and the resume refused. */
function outputAppearedError(plan: Plan, checkpointFile: string | undefined, batchItem = false): OutputExistsError {
	const what = `${plan.output} appeared after this job started, and this job did not write it: it is kept`;
	if (batchItem) return new OutputExistsError(`${what}; move it away and resume the batch, or resume the batch with --force to replace it`);
	if (checkpointFile === undefined) return new OutputExistsError(`${what}, and so is this job's finished output, as ${plan.partial}: move ${plan.output} away and rename ${plan.partial} to it`);
	return new OutputExistsError(`${what}, with this job's partial output ${plan.partial} and checkpoint ${checkpointFile}; move it away and run 'cage resume ${plan.output}', or resume with --force to replace it`);
}

/** Bytes of the finished output. */
function outputLength(plan: Plan): number {
	return plan.kind === 'decrypt' ? plan.size : plan.outOffset + ciphertextPayloadSize(plan.size);
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
	// The block and its byte are what every command names alike (cage verify, a batch, a range); the
	// chunk is this job's own unit, and said only when the job has more than one.
	const chunk = plan.size > plan.chunkSize ? `, in chunk ${Math.floor((counter * blockSize) / plan.chunkSize)} of this job` : '';
	const described = new Error(
		`${plan.input}: block ${counter} (byte ${plan.inOffset + counter * encryptedBlockSize} of the file, plaintext bytes from ${counter * blockSize}${chunk}) failed authentication: the file is damaged, truncated, has trailing data or was tampered with; nothing was written to ${plan.output}`,
	) as Error & {code: string};
	described.name = 'StreamAuthError';
	described.code = 'EAUTH';
	return described;
}

type OpenContext = {batchItem: boolean; force: boolean; emitter: JobEmitter; itemIndex: number | undefined};

/**
 * Open the partial output to continue it; with its change time and whether the job stopped
 * cleanly (nothing wrote to the partial output since: its checkpoint says so, and its change time
 * and inode are the ones recorded). 'finished' when the job had already renamed its output into
 * place and a crash came before the checkpoint was removed: the output is checked whole.
 */
async function openPartialForResume(plan: Plan, processor: AgeChunkProcessor, checkpoint: Checkpoint, file: string, context: OpenContext): Promise<'finished' | {file: FileOutput; partial: PartialOutput; ctimeMs: number; stopped: boolean}> {
	const stat = await fs.stat(plan.partial).catch(() => undefined);
	if (!stat) {
		const there = await fs.stat(plan.output).catch(() => undefined);
		const renamed = there !== undefined && checkpoint.partialIno === there.ino && checkpoint.partialDev === there.dev;
		if (renamed && checkpoint.digests && checkpoint.chunksDone === checkpoint.totalChunks) {
			await checkFinishedOutput(plan, processor, checkpoint, file, there.size);
			context.emitter.send({
				type: 'anomaly',
				severity: 'info',
				code: 'resume-checked',
				message: `${plan.output} was complete already (the job stopped after renaming it, before removing its checkpoint): every chunk checked against its digest; the checkpoint is removed`,
				...(context.itemIndex === undefined ? {} : {item: context.itemIndex}),
			});
			return 'finished';
		}

		const why = there && !renamed ? `, and ${plan.output} is not the file this job wrote` : '';
		throw new CheckpointError(`cannot resume ${file}: the partial output ${plan.partial} is gone${why}; ${startOver(plan, context.batchItem)}`);
	}

	// Never replace a file this job did not write: one that appeared at OUTPUT since it started.
	if (!(await mayReplaceOutput(plan, context.force))) throw outputAppearedError(plan, file, context.batchItem);
	const needed = committedLength(plan, checkpoint.chunksDone);
	// With digests a short partial output is repaired like a damaged one (the chunks it lacks are redone).
	if (stat.size < needed && !checkpoint.digests) {
		throw new CheckpointError(
			`cannot resume ${file}: the partial output ${plan.partial} is ${stat.size} bytes, shorter than the ${needed} bytes the checkpoint records as written; ${startOver(plan, context.batchItem)}`,
		);
	}

	const untouched = checkpoint.partialCtimeMs === stat.ctimeMs && (checkpoint.partialIno === undefined || (checkpoint.partialIno === stat.ino && checkpoint.partialDev === stat.dev));
	return {...(await PartialOutput.open(plan.partial, plan.output)), ctimeMs: stat.ctimeMs, stopped: checkpoint.stopped === true && untouched};
}

/** Every chunk of a finished output (renamed into place before a crash) as written; throws naming the first that is not. */
async function checkFinishedOutput(plan: Plan, processor: AgeChunkProcessor, checkpoint: Checkpoint, file: string, size: number): Promise<void> {
	const refuse = (what: string) =>
		new CheckpointError(`cannot resume ${file}: ${plan.output} is the output this job renamed into place before it stopped, but ${what}; it is kept as it is: check it (age -d), or delete it and ${checkpoint.kind} again`);
	if (size !== outputLength(plan)) throw refuse(`it is ${size} bytes, not ${outputLength(plan)}`);
	if (plan.kind === 'encrypt' && (await headerDigest(plan.output, plan.outOffset)) !== checkpoint.params.headerSha256) throw refuse('its header is not the one this job wrote');
	const chunks = committedChunks(plan, checkpoint.chunksDone);
	const found = await Promise.all(chunks.map(async chunk => processor.digest(chunk, plan.output)));
	const bad = chunks.find((chunk, index) => found[index] !== checkpoint.digests![chunk.id]);
	if (bad) throw refuse(`chunk ${bad.id} (plaintext bytes ${bad.start}..${bad.end}) is not as written`);
}

/** The first `count` chunks of the plan: the ones a checkpoint says are committed. */
function committedChunks(plan: Plan, count: number): Chunk[] {
	return Array.from({length: count}, (_, id) => chunkAt(plan.size, plan.chunkSize, id));
}

/** SHA-256 (hex) of the first `length` bytes of `file` (an encryption's header and nonce). */
async function headerDigest(file: string, length: number): Promise<string> {
	const header = Buffer.alloc(length);
	const handle = await fs.open(file, 'r');
	try {
		await handle.read(header, 0, length, 0);
	} finally {
		await handle.close();
	}

	return createHash('sha256').update(header).digest('hex');
}

/**
 * After an unclean stop (kill -9, a crash, a power cut, or anything that wrote to the partial
 * output since), nothing proves the partial output holds what the checkpoint claims: the last
 * chunks' writes may not have reached the disk, and another program may have written to it.
 * Every committed chunk is read back and checked against the digest of what was written, in
 * parallel on every worker; a chunk that differs is redone from the source (which must still give
 * the MAC recorded, else the source changed). Returns the checkpoint with the redone chunks'
 * digests. Version 1 checkpoints have no digests: their resume redoes chunks (verifyResume).
 */
async function repairResume(plan: Plan, processor: AgeChunkProcessor, checkpoint: Checkpoint, file: string, context: {stopped: boolean; emitter: JobEmitter; itemIndex: number | undefined; batchItem: boolean}): Promise<Checkpoint> {
	const {digests} = checkpoint;
	if (!digests || context.stopped || checkpoint.chunksDone === 0) return checkpoint;
	const startedAt = performance.now();
	const chunks = committedChunks(plan, checkpoint.chunksDone);
	const found = await Promise.all(chunks.map(async chunk => processor.digest(chunk)));
	const damaged = chunks.filter((chunk, index) => found[index] !== digests[chunk.id]);
	const repaired = [...digests];
	const redone = await Promise.all(damaged.map(async chunk => processor.redo(chunk).catch((error: Error) => error)));
	for (const [index, chunk] of damaged.entries()) {
		const result = redone[index]!;
		if (result instanceof Error && !['EAUTH', 'ESHRANK'].includes((result as NodeJS.ErrnoException).code ?? '')) throw result;
		if (result instanceof Error || result.mac !== checkpoint.macs[chunk.id]) {
			throw new SourceChangedError(
				`cannot resume ${file}: chunk ${chunk.id} (bytes ${chunk.start}..${chunk.end}) of the partial output ${plan.partial} was not as written, and ${plan.input} no longer gives what was ${plan.kind}ed before: the source changed — ${startOver(plan, context.batchItem)}`,
			);
		}

		repaired[chunk.id] = result.digest;
	}

	const ms = Math.round(performance.now() - startedAt);
	const item = context.itemIndex === undefined ? {} : {item: context.itemIndex};
	if (damaged.length === 0) {
		context.emitter.send({type: 'anomaly', severity: 'info', code: 'resume-checked', message: `the job had not stopped cleanly: all ${chunks.length} committed chunks of ${plan.partial} checked against their digests in ${ms} ms, intact`, ...item});
	} else {
		const ids = damaged.map(chunk => chunk.id);
		const named = ids.length > 8 ? `${ids.slice(0, 8).join(', ')} and ${ids.length - 8} more` : ids.join(', ');
		context.emitter.send({
			type: 'anomaly',
			severity: 'warn',
			code: 'output-changed',
			message: `${plan.partial}: chunk${ids.length === 1 ? '' : 's'} ${named} of ${chunks.length} committed ${ids.length === 1 ? 'was' : 'were'} not as written (an unclean stop, a torn write, another program): redone from ${plan.input} (${ms} ms)`,
			...item,
		});
	}

	return {...checkpoint, digests: repaired};
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
	// A checkpoint of an older cage (format 1) has no digests of what was written, nor a seal: every
	// done chunk is redone to check the partial output, whatever the checkpoint says of its stop.
	if (!checkpoint.digests) {
		options.emitter.send({
			type: 'anomaly',
			severity: 'info',
			code: 'resume-checked',
			message: `${plan.partial}: a checkpoint of an older cage (format ${checkpoint.version}) records no digests of what was written: re-verifying all ${checkpoint.chunksDone} done chunks, not a sample`,
			...(options.item ? {item: options.item.index} : {}),
		});
		return 'full';
	}

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
	// (With digests, repairResume has checked every chunk of it already.)
	if (!checkpoint.digests && checkpoint.stopped && checkpoint.partialCtimeMs !== undefined && partialCtimeMs !== checkpoint.partialCtimeMs) {
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
async function verifyResume(
	plan: Plan,
	processor: AgeChunkProcessor,
	checkpoint: Checkpoint,
	file: string,
	mode: 'sample' | 'full',
	batchItem: boolean,
	onProgress: (done: number, total: number) => void,
): Promise<void> {
	if (plan.kind === 'encrypt') {
		if ((await headerDigest(plan.partial, plan.outOffset)) !== checkpoint.params.headerSha256) {
			throw new CheckpointError(`cannot resume ${file}: the header of ${plan.partial} is not the one this job wrote; ${startOver(plan, batchItem)}`);
		}
	}

	// A few chunks at a time, so that every worker has work (a sample is one batch); checked in
	// chunk order, so the first changed chunk is the one named.
	const ids = chunksToVerify(checkpoint.chunksDone, checkpoint.skipped, mode);
	onProgress(0, ids.length);
	for (let from = 0; from < ids.length; from += verifyBatch) {
		if (from > 0) onProgress(from, ids.length);
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
	// Synchronous: three calls of microseconds, where a batch of small files felt each round trip.
	const file = FileInput.openSync(source);
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
		...(options.force ? {replaces: await identityOf(destination)} : options.replaces ? {replaces: options.replaces} : {}),
	};
	let secrets: string | undefined;
	if (options.checkpoint) secrets = (await wrapSecrets({fileKey: Buffer.from(fileKey).toString('base64'), nonce: Buffer.from(nonce).toString('base64')})).wrapped;
	return runAgeJob({
		plan,
		options,
		prefix,
		base: {
			version: checkpointVersion,
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
				...(plan.replaces ? {replaces: plan.replaces} : {}),
			},
		},
	});
}

/** Decrypt an age file with identities or a passphrase, in resumable chunks. */
/** The file key, payload nonce and payload offset of the age file at `source`, opened with `key`, and the file's size; `name` names it in errors. */
export async function readFileHeader(source: string, key: DecryptKey, name: string): Promise<Awaited<ReturnType<typeof readHeader>> & {fileSize: number}> {
	// Synchronous reads of a few hundred bytes each (a batch of small files felt each round trip).
	const file = FileInput.openSync(source);
	try {
		return {fileSize: file.size, ...(await readHeader(async (buffer, offset, length, position) => file.read(buffer, offset, length, position), key.passphrase === undefined ? {identities: key.identities} : {passphrase: key.passphrase}, name))};
	} finally {
		await file.close();
	}
}

export async function decryptFile(input: string, output: string, key: DecryptKey, options: AgeJobOptions): Promise<AgeJobResult> {
	const source = path.resolve(input);
	const destination = path.resolve(output);
	const header = await readFileHeader(source, key, input);
	const payloadOffset = header.payloadOffset;
	const size = plaintextSizeOf(header.fileSize - payloadOffset, input);
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
		...(options.force ? {replaces: await identityOf(destination)} : options.replaces ? {replaces: options.replaces} : {}),
	};
	let secrets: string | undefined;
	if (options.checkpoint) secrets = (await wrapSecrets({fileKey: Buffer.from(header.fileKey).toString('base64'), nonce: Buffer.from(header.nonce).toString('base64')})).wrapped;
	return runAgeJob({
		plan,
		options,
		base: {
			version: checkpointVersion,
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
			params: {payloadOffset, nonceLength: nonceSize, ...(plan.replaces ? {replaces: plan.replaces} : {})},
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
	if (kind === 'hash' || kind === 'sweep' || kind === 'verify' || kind === 'prune' || checkpoint.output === null || checkpoint.partial === null) throw new CheckpointError(`${checkpointFile} is not an encrypt or decrypt checkpoint`);
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
	const key = payloadKey(fileKey, nonce);
	// Version 2 checkpoints are sealed with a key only this job's secrets give: any edit (a MAC, the
	// count of chunks done, a digest) is a damaged checkpoint, never taken for a changed source.
	if (checkpoint.version >= 2 && !hasValidSeal(checkpoint, checkpointSealKey(key))) {
		throw new CheckpointError(`cannot resume ${checkpointFile}: the checkpoint was changed after cage wrote it (its seal does not match its contents), so it cannot be trusted; start over with --force`);
	}

	checkAgePlan(checkpoint, checkpointFile);
	const plan: Plan = {
		kind,
		input: checkpoint.source.path,
		output: checkpoint.output,
		partial: checkpoint.partial,
		size: checkpoint.size,
		chunkSize: checkpoint.chunkSize,
		key,
		inOffset: kind === 'encrypt' ? 0 : Number(checkpoint.params.payloadOffset),
		outOffset: kind === 'encrypt' ? Number(checkpoint.params.headerLength) : 0,
		...(parseIdentity(checkpoint.params.replaces) ? {replaces: parseIdentity(checkpoint.params.replaces)!} : {}),
	};
	return runAgeJob({plan, options: {...options, chunkSize: checkpoint.chunkSize, checkpoint: true}, resumeFrom: {checkpoint, file: checkpointFile}});
}

/**
 * The plan a checkpoint records must be the one its source gives: an encryption's plaintext is the
 * source, a decryption's is what the source's payload holds; header and payload lengths add up.
 * (The source itself is checked against the fingerprint before, by readCheckpointFor.)
 */
function checkAgePlan(checkpoint: Checkpoint, file: string): void {
	const fail = (what: string): never => {
		throw new CheckpointError(`checkpoint ${file} is corrupt (${what}): start the job again with --force`);
	};

	const {params, size, source} = checkpoint;
	if (checkpoint.kind === 'encrypt') {
		if (size !== source.size) fail(`size is ${size}, but the source it was made from is ${source.size} bytes`);
		const headerLength = params.headerLength;
		if (typeof headerLength !== 'number' || !Number.isSafeInteger(headerLength) || headerLength <= nonceSize) fail('params.headerLength is invalid');
		if (typeof params.headerSha256 !== 'string' || !/^[\da-f]{64}$/.test(params.headerSha256)) fail('params.headerSha256 is invalid');
		if (params.outputSize !== undefined && params.outputSize !== (headerLength as number) + ciphertextPayloadSize(size)) fail(`params.outputSize is ${String(params.outputSize)}, not what ${size} bytes encrypt to`);
		return;
	}

	const payloadOffset = params.payloadOffset;
	if (typeof payloadOffset !== 'number' || !Number.isSafeInteger(payloadOffset) || payloadOffset <= nonceSize || payloadOffset > source.size) fail('params.payloadOffset is invalid');
	let expected: number | undefined;
	try {
		expected = plaintextSizeOf(source.size - (payloadOffset as number), source.path);
	} catch {
		fail(`the source's ${source.size - (payloadOffset as number)} payload bytes are not a whole age payload`);
	}

	if (size !== expected) fail(`size is ${size}, but the source's payload decrypts to ${String(expected)} bytes`);
}
