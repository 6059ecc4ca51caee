/**
 * `cage lock --low-space`: a file larger than the free space is locked back to front, so the
 * extra room needed is one chunk, not one file. The header is written first, into a sparse
 * FILE.age.partial of the final size; then, from the last chunk down, each chunk is encrypted to
 * its final offset, synced, read back and authenticated, and only then is the source truncated to
 * the chunk's start (and synced). At every instant the source's prefix plus the output's finished
 * tail hold the whole file, and which chunks are done is told by the source's length alone: a
 * chunk is done when the source ends at or before its start. The state file
 * (FILE.age.low-space.json, mode 0600) holds the plan and the file key wrapped to the resume
 * identity, never in the clear.
 */
import fs from 'node:fs/promises';
import {createHeader} from '../age/header.js';
import type {EncryptTarget} from '../age/engine.js';
import type {WorkerPool} from '../age/pool.js';
import {blockCount, blockRange, blockSpans, ciphertextPayloadSize, payloadKey} from '../age/stream.js';
import {CheckpointError, writeJsonAtomic} from '../chunker/checkpoint.js';
import {SharedControl} from '../chunker/control.js';
import type {JobEmitter} from '../chunker/emitter.js';
import {skippedByUser, type JobControl, type JobOutcome} from '../chunker/events.js';
import {chunkAt, chunkCount} from '../chunker/plan.js';
import {exists} from '../io/files.js';
import {PartialOutput} from '../io/partial-output.js';
import type {ControlProxy} from '../jobs/control-proxy.js';
import {lowSpaceStatePath, partialPath} from '../jobs/locate.js';
import {unwrapSecrets, wrapSecrets} from '../jobs/resume-key.js';
import {readBackRange} from './read-back.js';

export {lowSpaceStatePath} from '../jobs/locate.js';

/** The state of a --low-space lock, format version 1. */
export type LowSpaceState = {
	version: 1;
	tool: 'cage';
	kind: 'low-space-lock';
	source: string;
	output: string;
	/** The source's size when the lock started (plaintext bytes). */
	size: number;
	chunkSize: number;
	headerLength: number;
	/** The file key and payload nonce, age-encrypted to the resume identity. */
	secrets: string;
};

/** Read and check a low-space lock's state file. */
export async function readLockState(file: string): Promise<LowSpaceState> {
	let state: Partial<LowSpaceState>;
	try {
		state = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<LowSpaceState>;
	} catch (error) {
		throw new CheckpointError(`${file} cannot be read (${(error as Error).message}): the file's data is in its source prefix and ${file.replace(/\.low-space\.json$/, '.partial')}`);
	}

	const numbers = ['size', 'chunkSize', 'headerLength'] as const;
	if (state.kind !== 'low-space-lock' || state.version !== 1 || typeof state.secrets !== 'string' || !numbers.every(key => Number.isSafeInteger(state[key]))) {
		throw new CheckpointError(`${file} is not a low-space lock state this cage can read`);
	}

	return state as LowSpaceState;
}

/** Whether the space free where `file` lies is at least `bytes`. */
export async function hasRoomFor(directory: string, bytes: number): Promise<{free: number; fits: boolean}> {
	const stat = await fs.statfs(directory);
	const free = stat.bavail * stat.bsize;
	return {free, fits: free >= bytes};
}

/**
 * The JobControl of a low-space lock: pause and resume reach the workers (their shared control);
 * a skip or a stop is recorded and ends the loop before its next chunk (a chunk in flight is
 * finished: the source is cut only after it is written and checked).
 */
export class LowSpaceControl implements JobControl {
	readonly shared = new SharedControl();
	reason: string | undefined;
	get paused(): boolean {
		return this.shared.paused;
	}

	pause(): void {
		this.shared.pause();
	}

	resume(): void {
		this.shared.resume();
	}

	skip(): void {
		this.reason ??= skippedByUser;
	}

	retry(): void {}

	abort(reason = 'aborted'): void {
		this.reason ??= reason;
	}
}

/** The outcome of one low-space lock (the original is gone only when completed). */
/** What a back-to-front job of one file of a batch is given (lowSpaceLock, lowSpaceUnlock). */
export type LowSpaceJob = {
	source: string;
	output: string;
	chunkSize: number;
	pool: WorkerPool;
	emitter: JobEmitter;
	control: ControlProxy;
	item: {index: number; count: number};
	/** The batch was running this file when it stopped: a partial output without state is its own. */
	leftRunning: boolean;
	/** Bytes per second, 0 = unlimited. */
	rate: number;
	/** Workers that share each chunk. */
	jobs: number;
};

export type LowSpaceResult = {outcome: JobOutcome; bytesDone: number; error?: Error; payload?: {key: Buffer; offset: number}};

/**
 * Lock `source` to `output` back to front. Continues from the state file when there is one (the
 * source's length says how far it got). On return with `completed`, `output` is in place and the
 * source is empty (the caller removes it and carries its metadata over).
 */
export async function lowSpaceLock(spec: LowSpaceJob & {size: number; target?: EncryptTarget}): Promise<LowSpaceResult> {
	const statePath = lowSpaceStatePath(spec.output);
	const partial = partialPath(spec.output);
	let state: LowSpaceState;
	let key: Buffer;
	let opened: Awaited<ReturnType<typeof PartialOutput.open>> | undefined;
	if (await exists(statePath)) {
		state = await readLockState(statePath);
		const secrets = await unwrapSecrets(state.secrets, statePath);
		key = payloadKey(Buffer.from(secrets.fileKey ?? '', 'base64'), Buffer.from(secrets.nonce ?? '', 'base64'));
		// Renamed into place before a crash: only the source's removal is left.
		if (!(await exists(partial)) && (await exists(spec.output))) return {outcome: 'completed', bytesDone: state.size, payload: {key, offset: state.headerLength}};
		opened = await PartialOutput.open(partial, spec.output);
	} else {
		// Nothing has been cut before the state exists: a shorter source is one whose state was lost, and its tail is in the partial output (never overwritten).
		const length = (await fs.stat(spec.source)).size;
		if (length !== spec.size) throw new CheckpointError(`${spec.source} is ${length} bytes, not the ${spec.size} this lock started from, and ${statePath} is missing: nothing was written; if a --low-space lock had cut it, its tail is in ${partial} ('cage unlock --recover ${spec.output}' rebuilds the file)`);
		const target = spec.target!;
		const {header, fileKey, nonce} = await createHeader(target.passphrase === undefined ? {recipients: target.recipients} : {passphrase: target.passphrase});
		const prefix = Buffer.concat([header, nonce]);
		const wrapped = (await wrapSecrets({fileKey: Buffer.from(fileKey).toString('base64'), nonce: Buffer.from(nonce).toString('base64')})).wrapped;
		state = {version: 1, tool: 'cage', kind: 'low-space-lock', source: spec.source, output: spec.output, size: spec.size, chunkSize: spec.chunkSize, headerLength: prefix.length, secrets: wrapped};
		key = payloadKey(fileKey, nonce);
		opened = await PartialOutput.create(partial, spec.output, {reuse: spec.leftRunning});
		await opened.file.truncate(0);
		await opened.file.write(prefix, 0, prefix.length, 0);
		// Sparse: the final length now, the blocks as they come.
		await opened.file.truncate(prefix.length + ciphertextPayloadSize(state.size));
		await opened.file.sync();
		await writeJsonAtomic(statePath, state);
	}

	const {file, partial: ours} = opened;
	const count = chunkCount(state.size, state.chunkSize);
	const control = new LowSpaceControl();
	// The batch's workers obey this file's control, not the one of the file before (which may have been skipped).
	control.shared.setRate(spec.rate);
	spec.pool.useControl(control.shared);
	spec.control.attach(control);
	const startedAt = Date.now();
	const done = (length: number) => state.size - length;
	try {
		let length = (await fs.stat(spec.source)).size;
		const boundary = length === state.size || (length < state.size && length % state.chunkSize === 0);
		if (!boundary) throw new CheckpointError(`${spec.source} is ${length} bytes: not where this low-space lock left it (it was ${state.size} bytes, locked ${state.chunkSize} bytes at a time from the end); it was changed by something else — its data is in it and in ${partial}`);
		spec.emitter.send({type: 'item:start', item: spec.item.index, items: spec.item.count, path: spec.source, output: spec.output, size: state.size, chunkSize: state.chunkSize, chunks: count, chunksDone: count - chunkCount(length, state.chunkSize), bytesDone: done(length)});
		if (length < state.size) {
			// Continued after a stop or a crash: the finished tail is authenticated again before more is cut.
			const tail = blockRange(length, state.size, state.size);
			await readBackRange(partial, key, {start: state.headerLength + tail.cipherStart, end: state.headerLength + tail.cipherEnd, counter: tail.firstBlock, final: true}).catch((error: unknown) => {
				throw new CheckpointError(`${partial}'s finished tail (from byte ${length} of the file) fails authentication (${(error as Error).message}); nothing more was cut — the file's first ${length} bytes are ${spec.source}`);
			});
		}

		for (let id = count - 1; id >= 0; id--) {
			const chunk = chunkAt(state.size, state.chunkSize, id);
			if (length <= chunk.start) continue;
			if (control.reason !== undefined) throw Object.assign(new Error(control.reason), {stopped: true});
			spec.emitter.send({type: 'chunk:start', chunk: id, start: chunk.start, size: chunk.end - chunk.start, attempt: 1, item: spec.item.index});
			const chunkStarted = Date.now();
			// One chunk at a time, on every worker: its spans are encrypted side by side.
			await Promise.all(blockSpans(chunk.start, chunk.end, spec.jobs).map(async span => spec.pool.run({op: 'encrypt', input: spec.source, output: partial, key, plainStart: span.start, plainEnd: span.end, plainTotal: state.size, inOffset: 0, outOffset: state.headerLength})));
			await file.sync();
			// What reached the output is authenticated before the only other copy is cut off.
			const range = blockRange(chunk.start, chunk.end, state.size);
			await readBackRange(partial, key, {start: state.headerLength + range.cipherStart, end: state.headerLength + range.cipherEnd, counter: range.firstBlock, final: range.endBlock === blockCount(state.size)});
			await fs.truncate(spec.source, chunk.start);
			const handle = await fs.open(spec.source, 'r+');
			await handle.datasync().finally(async () => handle.close());
			length = chunk.start;
			spec.emitter.send({type: 'chunk:done', chunk: id, start: chunk.start, size: chunk.end - chunk.start, durationMs: Date.now() - chunkStarted, attempt: 1, bytesDone: done(length), item: spec.item.index});
		}

		await file.close();
		await ours.commit();
		spec.emitter.send({type: 'item:done', item: spec.item.index, path: spec.source, bytes: state.size, durationMs: Date.now() - startedAt});
		return {outcome: 'completed', bytesDone: state.size, payload: {key, offset: state.headerLength}};
	} catch (error) {
		await file.close().catch(() => undefined);
		const stopped = (error as {stopped?: boolean}).stopped === true;
		const reason = stopped ? (error as Error).message : `failed: ${(error as Error).message}`;
		spec.emitter.send({type: 'item:skipped', item: spec.item.index, path: spec.source, reason});
		// Nothing is removed: the source prefix, the partial output's tail and the state hold the file.
		const code = (error as NodeJS.ErrnoException).code;
		return {outcome: stopped || code === 'ENOSPC' || code === 'EDQUOT' ? 'interrupted' : 'failed', bytesDone: done((await fs.stat(spec.source).catch(() => ({size: state.size}))).size), error: error as Error};
	} finally {
		spec.control.detach(control);
	}
}

/** Remove the state file once the lock is finished (the source removed). */
export async function removeLowSpaceState(output: string): Promise<void> {
	await fs.rm(lowSpaceStatePath(output), {force: true});
}
