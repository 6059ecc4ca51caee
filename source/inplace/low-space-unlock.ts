/**
 * `cage unlock --low-space`: an age file larger than the free space is unlocked back to front, so
 * the extra room needed is one chunk, not one file. First every block of FILE.age is
 * authenticated (a damaged or truncated file stops here, whole); then the plaintext FILE.partial
 * is made sparse at its final size and, from the last chunk down, each chunk is decrypted to its
 * final offset, synced, read back (encrypted again, its tags compared with the ciphertext's),
 * checkpointed, and only then is FILE.age truncated to the chunk's start (and synced). The header
 * is never cut. At every instant FILE.age's prefix (decryptable with the user's own identity)
 * plus FILE.partial's finished tail hold the whole file; which chunks are done is told by
 * FILE.age's length alone. The state file (FILE.low-space.json, mode 0600) holds the plan and,
 * per finished chunk, a SHA-256 digest of its tags (public: the tags are ciphertext), never a key or
 * plaintext; `cage unlock --recover` uses those to prove the tail.
 */
import fs from 'node:fs/promises';
import {readFileHeader, type DecryptKey} from '../age/engine.js';
import {blockCount, blockRange, blockSize, blockSpans, encryptedBlockSize, payloadKey, plaintextSizeOf} from '../age/stream.js';
import {CheckpointError, writeJsonAtomic} from '../chunker/checkpoint.js';
import {chunkAt, chunkCount} from '../chunker/plan.js';
import {exists} from '../io/files.js';
import {PartialOutput} from '../io/partial-output.js';
import {partialPath} from '../jobs/locate.js';
import {LowSpaceControl, lowSpaceStatePath, type LowSpaceJob, type LowSpaceResult} from './low-space.js';
import {proofOf, readBackPlainRange, type ChunkProof} from './read-back.js';

/** The state of a --low-space unlock, format version 1. */
export type LowSpaceUnlockState = {
	version: 1;
	tool: 'cage';
	kind: 'low-space-unlock';
	/** FILE.age. */
	source: string;
	/** FILE. */
	output: string;
	/** Plaintext bytes. */
	size: number;
	/** FILE.age's size when the unlock started. */
	sourceSize: number;
	/** Where the payload starts in FILE.age (header and nonce): never cut. */
	headerLength: number;
	chunkSize: number;
	/** Per finished chunk (by id), the digest of its blocks' tags as the decrypt authenticated them, span by span. */
	tags: Record<string, ChunkProof>;
};

/** Read and check a low-space unlock's state file. */
export async function readUnlockState(file: string): Promise<LowSpaceUnlockState> {
	let state: Partial<LowSpaceUnlockState>;
	try {
		state = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<LowSpaceUnlockState>;
	} catch (error) {
		throw new CheckpointError(`${file} cannot be read (${(error as Error).message}): the file's data is in its .age prefix and ${file.replace(/\.low-space\.json$/, '.partial')}; 'cage unlock --recover' rebuilds it`);
	}

	const numbers = ['size', 'sourceSize', 'headerLength', 'chunkSize'] as const;
	const valid =
		state.kind === 'low-space-unlock' &&
		state.version === 1 &&
		typeof state.source === 'string' &&
		typeof state.output === 'string' &&
		numbers.every(key => Number.isSafeInteger(state[key]) && state[key]! >= 0) &&
		state.chunkSize! > 0 &&
		state.chunkSize! % blockSize === 0 &&
		typeof state.tags === 'object' &&
		state.tags !== null &&
		Object.values(state.tags).every(proof => typeof proof === 'object' && proof !== null && Number.isSafeInteger(proof.parts) && proof.parts > 0 && typeof proof.tags === 'string' && /^[\da-f]{64}$/.test(proof.tags));
	if (!valid) throw new CheckpointError(`${file} is not a low-space unlock state this cage can read`);
	return state as LowSpaceUnlockState;
}

/** Where chunk `id`'s ciphertext starts in FILE.age: the length FILE.age is cut to once the chunk is done. */
export function cipherStartOf(state: Pick<LowSpaceUnlockState, 'size' | 'chunkSize' | 'headerLength'>, id: number): number {
	return state.headerLength + blockRange(chunkAt(state.size, state.chunkSize, id).start, state.size, state.size).cipherStart;
}

/**
 * How far a low-space unlock got, told by FILE.age's length: the first chunk still in it (all
 * chunks from `firstDone` on are in FILE.partial), or an error when that length is not one the
 * unlock leaves (something else wrote or cut the file).
 */
export function unlockProgress(state: Pick<LowSpaceUnlockState, 'size' | 'chunkSize' | 'headerLength' | 'sourceSize'>, length: number): {firstDone: number} | {error: string} {
	const count = chunkCount(state.size, state.chunkSize);
	if (length === state.sourceSize) return {firstDone: count};
	const perChunk = (state.chunkSize / blockSize) * encryptedBlockSize;
	const payload = length - state.headerLength;
	if (payload < 0 || payload % perChunk !== 0 || payload / perChunk >= count) return {error: `it is ${length} bytes: not a length this unlock leaves (it was ${state.sourceSize} bytes, cut ${perChunk} bytes of ciphertext at a time from the end, never below its ${state.headerLength}-byte header)`};
	return {firstDone: payload / perChunk};
}

/**
 * Unlock `source` (FILE.age) to `output` back to front. Continues from the state file when there
 * is one (FILE.age's length says how far it got). On return with `completed`, `output` is in
 * place and FILE.age holds only its header (the caller removes it and carries its metadata over).
 * A wrong key or a damaged FILE.age throws or fails before anything is written.
 */
export async function lowSpaceUnlock(spec: LowSpaceJob & {key: DecryptKey}): Promise<LowSpaceResult> {
	const statePath = lowSpaceStatePath(spec.output);
	const partial = partialPath(spec.output);
	// The user's own identity opens the header, which stays in FILE.age to the end: a wrong one stops here.
	const header = await readFileHeader(spec.source, spec.key, spec.source);
	const key = payloadKey(header.fileKey, header.nonce);
	const control = new LowSpaceControl();
	control.shared.setRate(spec.rate);
	spec.pool.useControl(control.shared);
	spec.control.attach(control);
	const startedAt = Date.now();
	let state: LowSpaceUnlockState | undefined;
	let opened: Awaited<ReturnType<typeof PartialOutput.open>> | undefined;
	const stopped = () => {
		if (control.reason !== undefined) throw Object.assign(new Error(control.reason), {stopped: true});
	};

	try {
		if (await exists(statePath)) {
			state = await readUnlockState(statePath);
			if (state.headerLength !== header.payloadOffset || state.source !== spec.source) throw new CheckpointError(`${statePath} does not belong to ${spec.source} as it is now (another header or name): the file's data is in ${spec.source} and ${partial}`);
			// Renamed into place before a crash: only FILE.age's removal is left.
			if (!(await exists(partial)) && (await exists(spec.output))) return {outcome: 'completed', bytesDone: state.size};
			opened = await PartialOutput.open(partial, spec.output);
		} else {
			const size = plaintextSizeOf(header.fileSize - header.payloadOffset, spec.source);
			const fresh: LowSpaceUnlockState = {version: 1, tool: 'cage', kind: 'low-space-unlock', source: spec.source, output: spec.output, size, sourceSize: header.fileSize, headerLength: header.payloadOffset, chunkSize: spec.chunkSize, tags: {}};
			const count = chunkCount(size, spec.chunkSize);
			// Nothing is cut before every block has passed: a damaged or truncated FILE.age stops here, whole.
			spec.emitter.send({type: 'job:phase', phase: 'verifying', done: 0, total: count, item: spec.item.index});
			let checked = 0;
			await Promise.all(
				Array.from({length: count}, async (_, id) => {
					const chunk = chunkAt(size, spec.chunkSize, id);
					await spec.pool.run({op: 'authenticate', input: spec.source, output: spec.source, key, plainStart: chunk.start, plainEnd: chunk.end, plainTotal: size, inOffset: header.payloadOffset, outOffset: 0});
					spec.emitter.send({type: 'job:phase', phase: 'verifying', done: ++checked, total: count, item: spec.item.index});
				}),
			).catch((error: unknown) => {
				throw Object.assign(new Error(`${spec.source} failed authentication before anything was cut (${(error as Error).message}); it is kept whole, nothing was written`), {code: (error as NodeJS.ErrnoException).code, damaged: true});
			});
			stopped();
			opened = await PartialOutput.create(partial, spec.output, {reuse: spec.leftRunning});
			await opened.file.truncate(0);
			// Sparse: the final length now, the blocks as they come.
			await opened.file.truncate(size);
			await opened.file.sync();
			await writeJsonAtomic(statePath, fresh);
			state = fresh;
		}

		const {file, partial: ours} = opened;
		const current = state;
		const count = chunkCount(current.size, current.chunkSize);
		let length = (await fs.stat(spec.source)).size;
		const progress = unlockProgress(current, length);
		if ('error' in progress) throw new CheckpointError(`${spec.source} ${progress.error}; it was changed by something else — its data is in it and in ${partial}`);
		const done = (firstDone: number) => (firstDone >= count ? 0 : current.size - chunkAt(current.size, current.chunkSize, firstDone).start);
		// Continued after a stop or a crash: the finished tail is proved again (against the tags the
		// state recorded) before more is cut, so the file put in place is proved whole.
		for (let id = progress.firstDone; id < count; id++) {
			const chunk = chunkAt(current.size, current.chunkSize, id);
			const range = blockRange(chunk.start, chunk.end, current.size);
			const tags = current.tags[String(id)];
			const proved = tags === undefined ? Promise.reject(new Error('no record of it in the state file')) : readBackPlainRange(partial, key, {start: chunk.start, end: chunk.end, counter: range.firstBlock, final: range.endBlock === blockCount(current.size)}, tags);
			await proved.catch((error: unknown) => {
				throw new CheckpointError(`chunk ${id} of ${partial} (bytes ${chunk.start}-${chunk.end}), finished before the stop, is not what its ciphertext held (${(error as Error).message}); nothing more was cut — its data up to there is in ${spec.source}`);
			});
		}

		spec.emitter.send({type: 'job:phase', phase: 'processing', item: spec.item.index});
		spec.emitter.send({type: 'item:start', item: spec.item.index, items: spec.item.count, path: spec.source, output: spec.output, size: current.size, chunkSize: current.chunkSize, chunks: count, chunksDone: count - progress.firstDone, bytesDone: done(progress.firstDone)});
		for (let id = progress.firstDone - 1; id >= 0; id--) {
			stopped();
			const chunk = chunkAt(current.size, current.chunkSize, id);
			spec.emitter.send({type: 'chunk:start', chunk: id, start: chunk.start, size: chunk.end - chunk.start, attempt: 1, item: spec.item.index});
			const chunkStarted = Date.now();
			// One chunk at a time, on every worker: its spans are decrypted side by side.
			const results = await Promise.all(blockSpans(chunk.start, chunk.end, spec.jobs).map(async span => spec.pool.run({op: 'decrypt', input: spec.source, output: partial, key, plainStart: span.start, plainEnd: span.end, plainTotal: current.size, inOffset: current.headerLength, outOffset: 0})));
			const proof = proofOf(results.map(result => result.mac));
			await file.sync();
			// What reached the output is proved to be the plaintext of the ciphertext before that ciphertext is cut off.
			const range = blockRange(chunk.start, chunk.end, current.size);
			await readBackPlainRange(partial, key, {start: chunk.start, end: chunk.end, counter: range.firstBlock, final: range.endBlock === blockCount(current.size)}, proof);
			current.tags[String(id)] = proof;
			await writeJsonAtomic(statePath, current);
			length = cipherStartOf(current, id);
			await fs.truncate(spec.source, length);
			const handle = await fs.open(spec.source, 'r+');
			await handle.datasync().finally(async () => handle.close());
			spec.emitter.send({type: 'chunk:done', chunk: id, start: chunk.start, size: chunk.end - chunk.start, durationMs: Date.now() - chunkStarted, attempt: 1, bytesDone: done(id), item: spec.item.index});
		}

		await file.close();
		await ours.commit();
		spec.emitter.send({type: 'item:done', item: spec.item.index, path: spec.source, bytes: current.size, durationMs: Date.now() - startedAt});
		return {outcome: 'completed', bytesDone: current.size};
	} catch (error) {
		await opened?.file.close().catch(() => undefined);
		const stoppedByUser = (error as {stopped?: boolean}).stopped === true;
		const reason = stoppedByUser ? (error as Error).message : `failed: ${(error as Error).message}`;
		spec.emitter.send({type: 'item:skipped', item: spec.item.index, path: spec.source, reason});
		// Nothing is removed: FILE.age's prefix, the partial output's tail and the state hold the file.
		const code = (error as NodeJS.ErrnoException).code;
		const length = (await fs.stat(spec.source).catch(() => undefined))?.size;
		const at = state && length !== undefined ? unlockProgress(state, length) : undefined;
		const bytesDone = state && at && 'firstDone' in at && at.firstDone < chunkCount(state.size, state.chunkSize) ? state.size - chunkAt(state.size, state.chunkSize, at.firstDone).start : 0;
		return {outcome: stoppedByUser || code === 'ENOSPC' || code === 'EDQUOT' ? 'interrupted' : 'failed', bytesDone, error: error as Error};
	} finally {
		spec.control.detach(control);
	}
}
