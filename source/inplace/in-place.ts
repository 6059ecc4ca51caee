/**
 * `cage lock` and `cage unlock` as one batch job: each file is encrypted (decrypted) beside itself
 * by the chunked, resumable engine, and the original is removed only when the new file is
 * complete, synced, renamed into place and — for a lock — read back and authenticated block by
 * block. At every moment either the whole original or the whole, verified new file exists (both,
 * in between). An interrupted batch is resumed with `cage resume`, like any batch: each step
 * below is told from what is on disk, so it is redone or skipped safely after a crash.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {ageChunkSize, decryptFile, encryptFile, resumeFile, type AgeJobResult, type DecryptKey, type EncryptTarget} from '../age/engine.js';
import {ciphertextPayloadSize} from '../age/stream.js';
import type {JobOutcome} from '../chunker/events.js';
import type {WorkerPool} from '../age/pool.js';
import {fingerprint, fingerprintChanges, type SourceFingerprint} from '../chunker/checkpoint.js';
import {faultPoint} from '../io/fault.js';
import {exists, InputError, OutputExistsError, syncDirectory} from '../io/files.js';
import type {WrittenIdentity} from '../io/identity.js';
import {readCheckpointFor, outputCheckpointPath, partialPath} from '../jobs/locate.js';
import {hasRoomFor, lowSpaceLock, lowSpaceStatePath, removeLowSpaceState} from './low-space.js';
import {lowSpaceUnlock} from './low-space-unlock.js';
import type {BatchItem, RunItem} from '../jobs/batch-job.js';
import {keepAsBackup} from './backup-on-unlock.js';
import type {InPlaceItem, InPlaceOp} from './plan.js';
import {readBack} from './read-back.js';

/** How a lock or unlock batch runs: recorded in its manifest, so a resume does the same. */
export type InPlaceSettings = {
	op: InPlaceOp;
	/** Keep the original (no removal). */
	keep: boolean;
	/** Lock: read the new file back and authenticate it before the original goes. */
	verify: boolean;
	/** Unlock: the replaced FILE.age becomes a backup generation in this directory (else it is deleted). */
	backupDir?: string;
	/** Unlock: retention of the backups kept. */
	retention?: {keepLast: number; keepDays: number};
	/** --chunk-size, when given. */
	chunkSize?: number;
	/** Back to front (--low-space), whatever the free space; else chosen when the output does not fit beside the file. */
	lowSpace?: boolean;
};

/** What one file's run needs beyond the item. */
export type InPlaceContext = {
	settings: InPlaceSettings;
	target?: EncryptTarget;
	key?: DecryptKey;
	pool: WorkerPool;
	/** The engine's per-file settings (workers, rate, retries, resume checks). */
	engine: {jobs: number; rate: number; retries: number; resumeVerify: 'sample' | 'full'; resumeArgs: Record<string, unknown>};
	/** Chunk size and whether to checkpoint, for a file of `size` bytes. */
	chunking: (size: number) => {chunkSize: number; checkpoint: boolean};
	/** Stops the whole batch (a full disk: every later file would fail too). */
	stopBatch: (reason: string) => void;
	jobsForManifest: number;
};

/** A step that failed in a way the user fixes, keeping both files: exit 1 with the reason. */
export class InPlaceError extends Error {
	override name = 'InPlaceError';
}

/** Whether the file at `file` is the one recorded as written (its inode and size; chmod/utimes move its times). */
async function isOurs(file: string, written: WrittenIdentity | undefined): Promise<boolean> {
	const stat = await fs.stat(file).catch(() => undefined);
	return Boolean(stat && written && stat.ino === written.ino && stat.dev === written.dev && stat.size === written.size);
}

/** Mode, owner (where permitted) and times of `meta` onto `file`. */
async function carryMetadata(file: string, meta: {mode: number; uid?: number; gid?: number; atimeMs: number; mtimeMs: number}): Promise<void> {
	if (meta.uid !== undefined && meta.gid !== undefined) {
		// Only root may give a file away; a group the user is in works for anyone: kept where permitted.
		await fs.chown(file, meta.uid, meta.gid).catch(async () => fs.chown(file, -1, meta.gid!).catch(() => undefined));
	}

	await fs.chmod(file, meta.mode);
	// Not synced on their own: the data and its name are (by the engine); metadata lost to a power
	// cut is set again by a resume, and losing it can only leave the new file's mode 0600.
	await fs.utimes(file, meta.atimeMs / 1000, meta.mtimeMs / 1000);
}

/** The fingerprint of the original when the item started, kept in memory for the checks before its removal. */
function changed(before: SourceFingerprint, now: SourceFingerprint): string[] {
	const changes = fingerprintChanges(before, now);
	if (changes.length === 0 && before.ctimeMs !== now.ctimeMs) changes.push('written to or its metadata changed (its change time moved)');
	return changes;
}

/** Remove the original, or say why it could not be (both files kept). */
async function removeOriginal(item: BatchItem, what: string): Promise<void> {
	try {
		await fs.unlink(item.source);
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied (the directory is not writable by you, or it is sticky and the file is not yours)' : (error as Error).message;
		throw new InPlaceError(`cannot remove ${item.source}: ${why}; ${item.output} is complete${what}, and both are kept`);
	}

	await syncDirectory(path.dirname(item.source));
}

/** The engine job of one item: continued from its checkpoint, or started. */
async function runEngine(item: InPlaceItem, context: InPlaceContext, run: Parameters<RunItem>[1]): Promise<AgeJobResult> {
	const common = {
		emitter: run.emitter,
		control: run.control,
		...context.engine,
		item: {index: run.index, count: run.count, replacePartial: run.leftRunning},
		pool: context.pool,
		beforeRename: run.recordWritten,
	};
	const perFile = outputCheckpointPath(item.output);
	if (await exists(perFile)) return resumeFile(await readCheckpointFor(perFile), perFile, common);
	const {chunkSize, checkpoint} = context.chunking(item.size);
	const options = {...common, chunkSize, checkpoint};
	return context.settings.op === 'lock' ? encryptFile(item.source, item.output, context.target!, options) : decryptFile(item.source, item.output, context.key!, options);
}

function note(run: Parameters<RunItem>[1], severity: 'info' | 'warn', message: string): void {
	run.emitter.send({type: 'anomaly', severity, code: 'in-place', message, item: run.index});
}

/** A lock or unlock done back to front (low-space.ts, low-space-unlock.ts): begun, continued, or finished after a crash. */
async function runLowSpace(item: InPlaceItem, context: InPlaceContext, run: Parameters<RunItem>[1], sourceThere: boolean): Promise<{outcome: JobOutcome; bytesDone: number; error?: Error}> {
	const {op} = context.settings;
	if (!sourceThere) {
		// Removed after the rename, before the state file went: finished.
		if (await exists(item.output)) {
			await removeLowSpaceState(item.output);
			return {outcome: 'completed', bytesDone: item.size};
		}

		const recover = op === 'lock' ? `'cage unlock --recover ${item.output}'` : `'cage unlock --recover ${item.source}'`;
		throw new InPlaceError(`${item.source} is gone, and ${item.output} was not finished: what is left is in ${partialPath(item.output)} (its tail) — resume cannot finish it; ${recover} says what can be rebuilt`);
	}

	const common = {
		source: item.source,
		output: item.output,
		chunkSize: ageChunkSize(context.chunking(item.size).chunkSize),
		pool: context.pool,
		emitter: run.emitter,
		control: run.control,
		item: {index: run.index, count: run.count},
		leftRunning: run.leftRunning,
		rate: context.engine.rate,
		jobs: context.engine.jobs,
	};
	const result = op === 'lock' ? await lowSpaceLock({...common, size: item.size, ...(context.target ? {target: context.target} : {})}) : await lowSpaceUnlock({...common, key: context.key!});
	if (result.outcome !== 'completed') {
		const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
		if (code === 'ENOSPC' || code === 'EDQUOT') context.stopBatch('no space left on device');
		return result;
	}

	if (item.original) await carryMetadata(item.output, op === 'lock' ? item.original : {mode: item.original.mode, atimeMs: item.original.atimeMs, mtimeMs: item.original.mtimeMs});
	// Recorded before the source and the state go: a crash after both are gone, before the batch
	// marks the file done, leaves only the output, which the resume then knows for this job's own.
	const written = await fs.stat(item.output);
	await run.recordWritten({ino: written.ino, dev: written.dev, size: written.size, mtimeMs: written.mtimeMs});
	// The source is empty now (an unlock's keeps only its header): every byte of it is in the output, each chunk read back before the cut.
	await removeOriginal(item, op === 'lock' ? ', each chunk read back and authenticated before the source was cut (the source is empty)' : ', each chunk read back and proved against its ciphertext before that was cut (the .age holds only its header)');
	await removeLowSpaceState(item.output);
	faultPoint('low-space-state-removed');
	return {outcome: 'completed', bytesDone: item.size};
}

/** Whether an item that has not started goes back to front: asked for, or its output does not fit beside it (a notice says so); refused when not even one chunk fits. */
async function goesBackToFront(item: InPlaceItem, context: InPlaceContext, run: Parameters<RunItem>[1]): Promise<boolean> {
	const {settings} = context;
	// --keep promises the original whole: never cut, even when the disk is short (the job then stops with exit 75).
	if (settings.keep || item.size === 0 || (await exists(outputCheckpointPath(item.output))) || (await exists(item.output))) return false;
	// An unlock's plaintext is a little smaller than the .age: the .age's size is room enough.
	const needed = (settings.op === 'lock' ? ciphertextPayloadSize(item.size) : item.size) + 64 * 1024;
	const room = await hasRoomFor(path.dirname(item.output), needed);
	if (!settings.lowSpace && room.fits) return false;
	const chunk = ageChunkSize(context.chunking(item.size).chunkSize);
	if (!(await hasRoomFor(path.dirname(item.output), Math.min(item.size, chunk) + 2 * 64 * 1024)).fits) {
		throw new InPlaceError(`${item.source}: not even one chunk (${chunk} bytes) fits in the ${room.free} bytes free; free some space, or ${settings.op} it with a smaller --chunk-size`);
	}

	const backup = settings.op === 'unlock' && settings.backupDir ? '; its ciphertext is consumed as it goes, so no backup generation of it is kept' : '';
	if (!settings.lowSpace) note(run, 'info', `${item.source} needs about ${needed} bytes beside it and ${room.free} are free: ${settings.op}ed back to front (--low-space), one chunk of room at a time${backup}`);
	else if (backup) note(run, 'info', `${item.source}: --low-space${backup}`);
	return true;
}

/**
 * A source shorter than when the batch started, with a partial output beside it and no state
 * file: a --low-space job that had cut it, whose state was lost (deleted, or not restored with
 * the files). Its data is in the two files, and a fresh start would overwrite the partial output
 * (the finished tail) or lock only the prefix, so nothing is touched: the error says where the
 * data is and that `cage unlock --recover` rebuilds it (or, for an unlock, why it cannot prove it).
 */
async function refuseLostLowSpaceState(item: InPlaceItem, op: InPlaceOp): Promise<void> {
	const partial = partialPath(item.output);
	if (!(await exists(partial))) return;
	const length = (await fs.stat(item.source)).size;
	if (length >= item.size) return;
	const state = lowSpaceStatePath(item.output);
	const cut = `${item.source} is ${length} bytes, ${item.size} when this ${op} started, and ${partial} is beside it without its state file ${state}: it looks cut by a --low-space ${op} whose state was lost (deleted, or not restored with the files). Nothing was changed, and resume cannot go on without the state`;
	if (op === 'lock') {
		throw new InPlaceError(
			`${cut}. Your file is the first ${length} bytes in ${item.source} followed by the encrypted tail in ${partial}: 'cage unlock --recover ${item.output} -i YOUR_IDENTITY' rebuilds it whole to ${item.source}.recovered (every block of the tail authenticated); keep both files until you have checked it`,
		);
	}

	throw new InPlaceError(
		`${cut}. Your file is the decryptable first part in ${item.source} followed by the plaintext tail in ${partial}, but the proof of that tail was in the state file, so cage cannot rebuild it proved; keep both files as they are (restore ${item.output} from a backup if you have one: cage backup list ${item.output})`,
	);
}

/** The RunItem of a lock or unlock batch. */
export function inPlaceItemRunner(context: InPlaceContext): RunItem {
	return async (batchItem, run) => {
		const item = batchItem as InPlaceItem;
		const {settings} = context;
		const sourceThere = await exists(item.source);
		if (await exists(lowSpaceStatePath(item.output))) return runLowSpace(item, context, run, sourceThere);
		if (sourceThere) await refuseLostLowSpaceState(item, settings.op);
		// A crash after the original was removed, before the manifest said so.
		if (!sourceThere && (await isOurs(item.output, item.written))) return {outcome: 'completed', bytesDone: item.size};
		if (!sourceThere) throw new InputError(`${item.source}: no such file (moved or removed since the batch started)`);
		const stat = await fs.lstat(item.source);
		if (stat.isSymbolicLink()) throw new InputError(`${item.source} is now a symbolic link; it is not followed`);
		if (settings.op === 'lock' && stat.nlink > 1) {
			note(run, 'warn', `${item.source} has ${stat.nlink - 1} other hard link(s): they keep the plaintext after the lock`);
		}

		if (await goesBackToFront(item, context, run)) return runLowSpace(item, context, run, sourceThere);

		const before = await fingerprint(item.source);
		let result: AgeJobResult | undefined;
		const hasCheckpoint = await exists(outputCheckpointPath(item.output));
		if (!hasCheckpoint && (await exists(item.output))) {
			if (!(await isOurs(item.output, item.written))) throw new OutputExistsError(`${item.output} already exists (not written by this batch); move it away, then resume`);
			if (settings.op === 'lock') {
				// Written and renamed by this batch before a crash; the key it was written with is gone
				// with that process, so it cannot be read back: made again (the original is still here).
				note(run, 'info', `${item.output} was finished before the batch stopped, but not yet verified: it is written again`);
				await fs.rm(item.output, {force: true});
				delete item.written;
			}
		}

		if (settings.op === 'unlock' && !hasCheckpoint && (await isOurs(item.output, item.written))) {
			// Decrypted and renamed before a crash: only the steps after are left.
		} else {
			result = await runEngine(item, context, run);
			if (result.outcome !== 'completed') {
				const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
				if (code === 'ENOSPC' || code === 'EDQUOT') context.stopBatch('no space left on device');
				return result;
			}
		}

		const original = item.original ?? {mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, atimeMs: stat.atimeMs, mtimeMs: stat.mtimeMs, nlink: stat.nlink};
		// The plaintext never gets a wider mode than the .age had; owners are not carried back (age files carry none).
		await carryMetadata(item.output, settings.op === 'lock' ? original : {mode: original.mode, atimeMs: original.atimeMs, mtimeMs: original.mtimeMs});
		const changes = changed(before, await fingerprint(item.source));
		if (changes.length > 0) {
			await fs.rm(item.output, {force: true});
			throw new InPlaceError(`${item.source} changed while it was being ${settings.op}ed (${changes.join(', ')}): stopped; ${item.source} is kept and ${item.output} removed`);
		}

		let verified = '';
		if (settings.op === 'lock' && settings.verify) {
			if (!result?.payload) throw new InPlaceError(`${item.output}: the job did not hand back its key, so it cannot be read back; both files are kept`);
			try {
				const checked = await readBack(item.output, result.payload);
				verified = `, read back ${checked.source === 'device' ? 'from the device' : 'from the page cache'} and authenticated`;
			} catch (error) {
				await fs.rm(item.output, {force: true});
				throw new InPlaceError(`${item.output} failed its read-back (${(error as Error).message}): removed; ${item.source} is kept`);
			}
		}

		if (settings.keep) return {outcome: 'completed', bytesDone: item.size};
		const now = changed(before, await fingerprint(item.source));
		if (now.length > 0) throw new InPlaceError(`${item.source} changed just before its removal (${now.join(', ')}): both files are kept`);
		if (settings.op === 'unlock' && settings.backupDir) {
			await keepAsBackup(item.source, item.output, settings.backupDir, settings.retention ?? {keepLast: 0, keepDays: 0}, context.jobsForManifest);
		} else {
			await removeOriginal(item, verified);
		}

		return {outcome: 'completed', bytesDone: item.size};
	};
}
