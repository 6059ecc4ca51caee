/**
 * Batches: several files (or a directory tree) as ONE job with one item per file. The job's
 * events bracket each file with item:start … item:done / item:skipped; `skip()` skips the file in
 * progress (its own checkpoint is kept, so a later retry continues it), and a manifest — the
 * batch checkpoint — records every item's status so `cage resume` retries what is unfinished,
 * skipped or failed.
 *
 * The manifest holds paths, statuses and public recipients only: never keys. Each file that is
 * large enough keeps its own OUTPUT.checkpoint.json (with its file key wrapped) while it runs.
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {CheckpointError, readWriterRecord, refuseIfRunning, removeStaleTemporaries} from '../chunker/checkpoint.js';
import {faultPoint} from '../io/fault.js';
import {claim, claimPath} from './claim.js';
import type {FileIdentity, WrittenIdentity} from '../io/identity.js';
import type {JobEmitter} from '../chunker/emitter.js';
import {skippedByUser, type JobControl, type JobOutcome} from '../chunker/events.js';
import {displayPath} from '../display-path.js';
import {describeError} from '../errors.js';
import {InputError} from '../io/files.js';
import {resumeLine, type ResumeArgs} from '../shell-quote.js';
import {ControlProxy} from './control-proxy.js';
import {BatchStore, readJournal, replayJournal} from './batch-journal.js';

/** What happened to one file of a batch. */
/** `running` is saved before a file starts, so a crash between its rename and the next save is recognised on resume. */
export type BatchItemStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed';

export type BatchItem = {
	source: string;
	/** Where the file's result goes ('' in a verify batch, which writes nothing). */
	output: string;
	size: number;
	status: BatchItemStatus;
	reason?: string;
	/** The file at `output` when a --force batch was planned: the one this batch may replace. */
	replaces?: FileIdentity;
	/**
	 * The finished output's identity, recorded just before it is renamed into place: after a crash
	 * before the manifest says `done`, only the file with this identity counts as finished.
	 */
	written?: WrittenIdentity;
};

/** The batch manifest format this build writes (its own numbering, apart from a file's checkpoint). */
export const batchCheckpointVersion = 1;

/** The batch checkpoint (manifest), format version 1. */
export type BatchCheckpoint = {
	version: typeof batchCheckpointVersion;
	tool: 'cage';
	kind: 'batch';
	/** A verify batch writes nothing, not even this manifest: it is run with no checkpoint path. */
	op: 'encrypt' | 'decrypt' | 'verify';
	job: string;
	createdAt: string;
	updatedAt: string;
	items: BatchItem[];
	/** Public recipients of an encrypt batch (age1…); not secret. */
	recipients?: string[];
	/** Identity FILES of a decrypt batch (paths, read again on resume); never the keys. */
	identityFiles?: string[];
	/** True when the batch uses a passphrase (asked again on resume). */
	passphrase: boolean;
	/** Started with --force: existing outputs are replaced (also on resume). */
	force?: boolean;
	/** A `cage lock` / `cage unlock` batch and how it runs (source/inplace/); absent for encrypt/decrypt. */
	inPlace?: {op: 'lock' | 'unlock'; keep: boolean; verify: boolean; backupDir?: string; retention?: {keepLast: number; keepDays: number}; chunkSize?: number; lowSpace?: boolean};
};

/** The manifest's file name in the output directory (or the inputs' directory). */
export const batchCheckpointName = '.cage-batch.checkpoint.json';

/**
 * Where a batch's manifest goes: the output directory; else the one directory given; else the
 * directory that holds all the inputs — so `cage resume DIR` finds it.
 */
export function batchCheckpointPath(inputs: string[], outputDir: string | undefined): string {
	if (outputDir) return path.resolve(outputDir, batchCheckpointName);
	const resolved = inputs.map(input => ({input: path.resolve(input), directory: fsSync.statSync(input, {throwIfNoEntry: false})?.isDirectory() ?? false}));
	if (resolved.length === 1 && resolved[0]!.directory) return path.join(resolved[0]!.input, batchCheckpointName);
	// A directory input counts as its own child, so the common directory contains it.
	return path.join(commonDirectory(resolved.map(({input, directory}) => (directory ? path.join(input, 'x') : input))), batchCheckpointName);
}

/** Artifacts of cage itself, never taken as inputs of a directory walk. */
function isCageArtifact(name: string): boolean {
	return name.endsWith('.partial') || name.endsWith('.checkpoint.json') || name.endsWith('.checkpoint.json.lock') || /\.tmp-\d+(-[\da-f]+)?$/.test(name);
}

/** A file a directory walk did not take, and why (reported to the user, never silently dropped). */
export type LeftOut = {path: string; reason: string};

/**
 * Every regular file below `directory`, following symbolic links to files and directories (a link
 * loop is reported, not followed twice). Synchronous: a stat per file, microseconds each, where a
 * trip to libuv's thread pool for each cost a tree of small files more than the stat.
 */
function walk(directory: string, leftOut: LeftOut[], seen = new Set<string>()): Array<{file: string; size: number}> {
	const real = fsSync.realpathSync(directory);
	if (seen.has(real)) {
		leftOut.push({path: directory, reason: 'a link back into a directory already walked'});
		return [];
	}

	seen.add(real);
	const found: Array<{file: string; size: number}> = [];
	const names = fsSync.readdirSync(directory).sort((a, b) => a.localeCompare(b));
	for (const name of names) {
		const full = path.join(directory, name);
		let stat;
		try {
			stat = fsSync.statSync(full);
		} catch {
			stat = undefined;
		}

		if (!stat) leftOut.push({path: full, reason: 'a broken symbolic link'});
		else if (stat.isDirectory()) found.push(...walk(full, leftOut, seen));
		else if (!stat.isFile()) leftOut.push({path: full, reason: 'not a regular file'});
		else if (isCageArtifact(name)) leftOut.push({path: full, reason: 'a file cage itself writes (partial output, checkpoint)'});
		else found.push({file: full, size: stat.size});
	}

	return found;
}

/**
 * The items of a batch: every input file, or every file under an input directory (`recursive`),
 * each with its output — in `outputDir` (mirroring the tree below a directory input) or in place:
 * encrypt `x` -> `x.age`, decrypt `x.age` -> `x`; verify has none (it takes the `.age` files of a
 * directory, and any file named).
 */
export async function planBatch(
	op: BatchCheckpoint['op'],
	inputs: string[],
	{recursive, outputDir, leftOut = []}: {recursive: boolean; outputDir?: string; leftOut?: LeftOut[]},
): Promise<BatchItem[]> {
	const items: BatchItem[] = [];
	for (const input of inputs) {
		let stat;
		try {
			stat = await fs.stat(input);
		} catch {
			throw new InputError(`${input}: no such file or directory`);
		}

		let files: Array<{file: string; size: number; relative: string}>;
		if (stat.isDirectory()) {
			if (!recursive) throw new InputError(`${input} is a directory; pass --recursive to ${op} the files in it`);
			const base = path.resolve(input);
			files = walk(base, leftOut).map(({file, size}) => ({file, size, relative: path.join(path.basename(base), path.relative(base, file))}));
			// Decrypting names the output by dropping .age; encrypting in place must not encrypt the
			// outputs of an earlier run. Both are reported.
			files = files.filter(({file}) => {
				if (op !== 'encrypt' && !file.endsWith('.age')) leftOut.push({path: file, reason: 'not an .age file'});
				else if (op === 'encrypt' && !outputDir && file.endsWith('.age')) leftOut.push({path: file, reason: 'already an .age file (encrypting in place)'});
				else return true;
				return false;
			});
		} else if (stat.isFile()) {
			files = [{file: path.resolve(input), size: stat.size, relative: path.basename(input)}];
		} else {
			throw new InputError(`${input} is not a regular file`);
		}

		for (const {file, size, relative} of files) {
			if (op === 'decrypt' && !file.endsWith('.age')) {
				throw new InputError(`${file} does not end in .age, so cage cannot name its output; decrypt it on its own with -o`);
			}

			const named = op === 'encrypt' ? `${relative}.age` : relative.slice(0, -'.age'.length);
			const output = op === 'verify' ? '' : outputDir ? path.resolve(outputDir, named) : op === 'encrypt' ? `${file}.age` : file.slice(0, -'.age'.length);
			items.push({source: file, output, size, status: 'pending'});
		}
	}

	if (items.length === 0) throw new InputError(`no files to ${op} in ${inputs.join(', ')}`);
	const outputs = new Map<string, string>();
	for (const item of op === 'verify' ? [] : items) {
		const other = outputs.get(item.output);
		if (other !== undefined) {
			const fix = outputDir ? 'rename one, or run them as two batches' : 'use --output-dir DIR, or rename one';
			throw new InputError(`${other} and ${item.source} would both be written to ${item.output}: ${fix}`);
		}

		outputs.set(item.output, item.source);
	}

	return items;
}

/** Read and validate a batch manifest. */
export async function readBatchCheckpoint(file: string): Promise<BatchCheckpoint> {
	let data: unknown;
	try {
		data = JSON.parse(await fs.readFile(file, 'utf8'));
	} catch (error) {
		throw new CheckpointError(`batch checkpoint ${file} cannot be read (${(error as Error).message}); delete it and start the batch again`);
	}

	const record = data as Partial<BatchCheckpoint>;
	if (record.tool !== 'cage' || record.kind !== 'batch') throw new CheckpointError(`${file} is not a cage batch checkpoint`);
	if (typeof record.version !== 'number' || record.version > batchCheckpointVersion) {
		throw new CheckpointError(`batch checkpoint ${file} was written by a newer cage (format ${String(record.version)}); upgrade cage to resume it`);
	}

	const statuses: BatchItemStatus[] = ['pending', 'running', 'done', 'skipped', 'failed'];
	const valid =
		(record.op === 'encrypt' || record.op === 'decrypt') &&
		Array.isArray(record.items) &&
		record.items.every(item => typeof item?.source === 'string' && typeof item.output === 'string' && typeof item.size === 'number' && statuses.includes(item.status));
	if (!valid) throw new CheckpointError(`batch checkpoint ${file} is corrupt; delete it and start the batch again`);
	const manifest = record as BatchCheckpoint;
	replayJournal(manifest, await readJournal(file), file);
	return manifest;
}

/**
 * While a batch runs, `MANIFEST.lock` names its process (pid and start time); it is removed when
 * the run ends, however it ends (a removal needs no disk space), and a crashed run's lock names a
 * process that is gone.
 */
const batchLockPath = claimPath;

/** Refuse when another cage process runs the batch of manifest `file` now (a resume, a new run, --force or not). */
export async function checkBatchNotRunning(file: string): Promise<void> {
	refuseIfRunning(
		readWriterRecord(batchLockPath(file)),
		writer => new CheckpointError(`cage process ${writer} is running the batch of ${file} now; let it finish, or stop it (q, Ctrl-C or kill ${writer}) first`),
	);
}

/** Peek whether a checkpoint file is a batch manifest (without validating it). */
export async function isBatchCheckpoint(file: string): Promise<boolean> {
	try {
		const data = JSON.parse(await fs.readFile(file, 'utf8')) as {kind?: unknown};
		return data.kind === 'batch';
	} catch {
		return false;
	}
}

/** What the batch needs from the caller to run one file. */
/**
 * Runs one file of a batch. `leftRunning`: this batch was running the file when it last stopped
 * (a crash), so a partial output without a checkpoint there is its own to start over; any other
 * partial output belongs to another process.
 */
export type RunItem = (item: BatchItem, context: {index: number; count: number; emitter: JobEmitter; control: ControlProxy; leftRunning: boolean; recordWritten: (identity: WrittenIdentity) => Promise<void>}) => Promise<{
	outcome: JobOutcome;
	bytesDone: number;
	error?: Error;
}>;

/**
 * The control the session (keys, signals) holds for a batch: pause/resume/abort go to the file in
 * progress and stick for the files after it; skip ends only the file in progress.
 */
class BatchControl implements JobControl {
	current: ControlProxy | undefined;
	skipRequested = false;
	aborted: string | undefined;
	#paused = false;

	get paused(): boolean {
		return this.#paused;
	}

	pause(): void {
		this.#paused = true;
		this.current?.pause();
	}

	resume(): void {
		this.#paused = false;
		this.current?.resume();
	}

	skip(): void {
		if (!this.current || this.skipRequested) return;
		this.skipRequested = true;
		this.current.abort(skippedByUser);
	}

	retry(): void {
		// Failed and skipped files are retried by `cage resume` once this run ends.
	}

	abort(reason = 'aborted'): void {
		this.aborted ??= reason;
		this.current?.abort(reason);
	}
}

export type BatchResult = {outcome: JobOutcome; bytesDone: number; checkpoint?: string; error?: Error; done: number; skipped: number; failed: number};

/** An error message without the file name it starts with: the batch names the file itself. */
function withoutPath(message: string, file: string): string {
	for (const name of [file, displayPath(file)]) if (message.startsWith(`${name}: `)) return message.slice(name.length + 2);
	return message;
}

/** Run a batch: every item not yet done, in order, as one job on `emitter`. */
export async function runBatch(spec: {
	manifest: BatchCheckpoint;
	/** Where the manifest is kept; null for a batch that writes nothing (verify): run again, not resumed. */
	checkpointPath: string | null;
	emitter: JobEmitter;
	control: ControlProxy;
	jobs: number;
	resumed: boolean;
	runItem: RunItem;
	/** Whether an item left `running` by a crash had in fact finished (its output is in place). */
	isComplete?: (item: BatchItem) => Promise<boolean>;
	/** The flags the printed resume line repeats (a rate limit, say). */
	resumeArgs?: ResumeArgs;
}): Promise<BatchResult> {
	const {manifest, emitter, checkpointPath} = spec;
	const startedAt = Date.now();
	const items = manifest.items;
	// The manifest and its journal (batch-journal.ts). `stale` are the items changed since the last save.
	const store = checkpointPath === null ? undefined : new BatchStore(checkpointPath, manifest);
	const stale = new Set<BatchItem>();
	const save = async () => {
		const changed = [...stale];
		await store?.record(changed);
		// Only once on disk: a save that failed (a full disk) leaves them for the next one.
		for (const item of changed) stale.delete(item);
	};

	// Set when the batch ends with nothing left to resume: its manifest is removed.
	let finished = false;
	if (checkpointPath === null) return runItems();
	// A second cage process is refused this batch while this run holds its claim (created
	// exclusively: two runs started at the same moment cannot both hold it).
	const held = await claim(batchLockPath(checkpointPath), writer =>
		new CheckpointError(
			writer === undefined
				? `another cage process is starting the batch of ${checkpointPath} this very moment; wait a moment and try again`
				: `cage process ${writer} is running the batch of ${checkpointPath} now; let it finish, or stop it (q, Ctrl-C or kill ${writer}) first`,
		),
	);
	let result: BatchResult;
	try {
		// A run killed while it saved the manifest left its temp file: removed once the claim is held.
		await removeStaleTemporaries(checkpointPath);
		result = await runItems();
	} finally {
		await store?.close();
		// Finished: the lock goes now, even while the resume command that called this holds it too.
		await (finished ? held.finish() : held.release());
	}

	// The claim goes first, then the finished batch's manifest: a kill between the two leaves a
	// manifest that a resume finishes at once, never a lock that nothing would remove.
	if (finished) await BatchStore.remove(checkpointPath);
	return result;

	async function runItems(): Promise<BatchResult> {
		const doneBytes = () => items.reduce((sum, item) => sum + (item.status === 'done' ? item.size : 0), 0);
		const control = new BatchControl();
		spec.control.attach(control);
		const resumeCommand = checkpointPath === null ? '' : resumeLine(checkpointPath, spec.resumeArgs);
		emitter.send({
			type: 'job:start',
			kind: manifest.op,
			// One file locked or unlocked in place: its own names (a directory named twice says nothing).
			source: manifest.inPlace && items.length === 1 ? items[0]!.source : commonDirectory(items.map(item => item.source)),
			output: manifest.op === 'verify' ? null : manifest.inPlace && items.length === 1 ? items[0]!.output : commonDirectory(items.map(item => item.output)),
			size: items.reduce((sum, item) => sum + item.size, 0),
			chunkSize: 0,
			chunks: 0,
			chunksDone: 0,
			bytesDone: doneBytes(),
			items: items.length,
			jobs: spec.jobs,
			pid: process.pid,
			resumed: spec.resumed,
			...(manifest.inPlace ? {inPlace: manifest.inPlace.op} : {}),
		});
		let checkpointError: Error | undefined;
		// A file stopped by a full disk: the batch stops, resumable.
		let noSpace: Error | undefined;
		try {
			// The whole manifest first, as this run found it (a resume's: with its journal replayed).
			await store?.compact();
		} catch (error) {
			checkpointError = error as Error;
		}

		for (const [index, item] of items.entries()) {
			if (item.status === 'done') continue;
			if (control.aborted !== undefined || checkpointError || noSpace) break;
			if (item.status === 'running' && (await spec.isComplete?.(item))) {
				// Finished before a crash that came before the manifest was saved.
				item.status = 'done';
				stale.add(item);
				continue;
			}

			const leftRunning = item.status === 'running';
			item.status = 'running';
			stale.add(item);
			try {
				await save();
			} catch (error) {
				checkpointError = error as Error;
				item.status = 'pending';
				stale.add(item);
				break;
			}

			faultPoint('batch-item-running');

			const itemControl = new ControlProxy();
			control.current = itemControl;
			control.skipRequested = false;
			if (control.paused) itemControl.pause();
			let result;
			try {
				const recordWritten = async (identity: WrittenIdentity) => {
					item.written = identity;
					stale.add(item);
					await save();
				};

				result = await spec.runItem(item, {index, count: items.length, emitter, control: itemControl, leftRunning, recordWritten});
			} catch (error) {
				// Errors before the file's job starts (unreadable input, existing output, …).
				result = {outcome: 'failed' as const, bytesDone: 0, error: error as Error};
				emitter.send({type: 'item:skipped', item: index, path: item.source, reason: `failed: ${withoutPath((error as Error).message, item.source)}`});
			}

			control.current = undefined;
			// runItem may have changed the item too (in place: a `written` found stale and dropped).
			stale.add(item);
			delete item.reason;
			const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
			if (result.outcome === 'failed' && (code === 'ENOSPC' || code === 'EDQUOT')) {
				// A full disk stops the batch, not the file: it is done again by the resume, once there is
				// room (a file stopped before its first checkpoint has none of its own to resume from).
				item.status = 'pending';
				noSpace = result.error;
			} else if (result.outcome === 'completed') item.status = 'done';
			else if (result.outcome === 'failed') {
				item.status = 'failed';
				item.reason = withoutPath(result.error?.message ?? 'failed', item.source);
				emitter.send({type: 'anomaly', severity: 'error', code: 'item-failed', message: `${item.source}: ${item.reason}`, item: index});
			} else if (control.skipRequested && control.aborted === undefined) {
				item.status = 'skipped';
				item.reason = skippedByUser;
			} else {
				item.status = 'pending';
			}

			// Saved with the next item's `running`, or after the loop: one write a file, not two. A crash
			// before then leaves this item `running`, which a resume settles by its output (isComplete)
			// or by running it again.
		}

		if (stale.size > 0 && !checkpointError) {
			try {
				await save();
			} catch (error) {
				checkpointError = error as Error;
			}
		}

		spec.control.detach(control);
		const count = (status: BatchItemStatus) => items.filter(item => item.status === status).length;
		const [done, skipped, failed] = [count('done'), count('skipped'), count('failed')];
		const unfinished = items.length - done;
		let outcome: JobOutcome;
		if (checkpointError || failed > 0) outcome = 'failed';
		else if (control.aborted !== undefined || noSpace) outcome = 'interrupted';
		else outcome = 'completed';
		// A manifest that could not be updated is still whole on disk (atomic writes): keep it, so the
		// batch stays resumable once the cause (a full disk) is gone.
		const keep = unfinished > 0 && checkpointPath !== null;
		finished = !keep;
		const error =
			(checkpointError ? new Error(`cannot update the batch checkpoint ${checkpointPath} (${describeError(checkpointError)})`) : undefined) ??
			(failed > 0 ? new Error(`${failed} of ${items.length} file(s) failed: ${items.filter(item => item.status === 'failed').map(item => `${item.source} (${item.reason ?? ''})`).join('; ')}`) : undefined) ??
			noSpace;
		emitter.send({
			type: 'job:done',
			outcome,
			bytesDone: doneBytes(),
			durationMs: Date.now() - startedAt,
			itemsDone: done,
			itemsSkipped: skipped,
			...(error ? {error: error.message} : {}),
			...(keep ? {checkpoint: checkpointPath, resumeCommand} : {}),
		});
		return {outcome, bytesDone: doneBytes(), done, skipped, failed, ...(keep ? {checkpoint: checkpointPath} : {}), ...(error ? {error} : {})};
	}
}

function commonDirectory(files: string[]): string {
	let common = path.dirname(files[0]!);
	for (const file of files) {
		while (common !== path.dirname(common) && !file.startsWith(common + path.sep)) common = path.dirname(common);
	}

	return common;
}
