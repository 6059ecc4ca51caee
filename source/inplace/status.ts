/**
 * `cage status`: which files below some directories are locked (age files, told by their header:
 * the recipient types they are encrypted to) and which are not, and the lock and unlock batches
 * that were interrupted there, with the line that resumes each.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {ageMagic} from '../age/header.js';
import {readHeaderStanzas} from '../age/header-stanzas.js';
import {readWriterRecord, runningWriter} from '../chunker/checkpoint.js';
import {chunkAt, chunkCount} from '../chunker/plan.js';
import {exists} from '../io/files.js';
import {batchCheckpointName, readBatchCheckpoint, type BatchCheckpoint} from '../jobs/batch-job.js';
import {claimPath} from '../jobs/claim.js';
import {lowSpaceStateSuffix} from '../jobs/locate.js';
import {resumeLine, shellQuote} from '../shell-quote.js';
import {readLockState} from './low-space.js';
import {readUnlockState, unlockProgress} from './low-space-unlock.js';
import {isCageArtifact} from './plan.js';

/** One file as `cage status` sees it. */
export type FileStatus =
	| {path: string; state: 'locked'; size: number; armored: boolean; recipients: string[]}
	| {path: string; state: 'unlocked'; size: number};

/** A lock or unlock batch found under the directories. */
export type JobStatus = {checkpoint: string; op: 'lock' | 'unlock'; state: 'running' | 'interrupted'; pid?: number; files: number; done: number; resume: string};

/**
 * A --low-space lock or unlock that stopped (or runs) part way: its source is cut, and the file's
 * data is in two files (and the state), so it is singled out, with where each part is and the
 * lines that finish it (`resume`, when the batch and the state are there) or rebuild it (`recover`).
 */
export type LowSpaceStatus = {
	op: 'lock' | 'unlock';
	state: 'running' | 'interrupted';
	pid?: number;
	/** The plaintext's name (FILE): what the job makes (lock: FILE.age from it). */
	file: string;
	/** The file being cut: FILE for a lock, FILE.age for an unlock. */
	source: string;
	/** The partial output holding the finished tail. */
	partial: string;
	/** The state file, or null when it was lost (told by the batch: the source is shorter than when it started). */
	stateFile: string | null;
	/** The plaintext's size, when known. */
	size: number | null;
	/** Plaintext bytes already moved to the partial output (the source was cut by as much), when known. */
	done: number | null;
	/** One line: where the data is. */
	holds: string;
	/** The line that finishes the job, or null when resume cannot (no batch checkpoint, or the state lost). */
	resume: string | null;
	/** The line that rebuilds the file without finishing the job, or null when it cannot be proved (an unlock's lost state). */
	recover: string | null;
	/** Why resume or recover cannot, when one of them is null. */
	note?: string;
};

export type StatusReport = {version: 1; files: FileStatus[]; jobs: JobStatus[]; lowSpace: LowSpaceStatus[]; locked: number; unlocked: number};

const armorStart = '-----BEGIN AGE ENCRYPTED FILE-----';
const headAhead = 64 * 1024;

/** Names cage keeps beside backups and jobs, never listed as files. */
const bookkeeping = new Set(['.cage_backups.json', '.cage_backups.json.prev', '.cage_backups.json.lock', '.cage_backups.chunks.json']);

async function fileStatus(file: string, size: number): Promise<FileStatus> {
	const handle = await fs.open(file, 'r');
	let head: Buffer;
	try {
		head = Buffer.alloc(Math.min(size, headAhead));
		const {bytesRead} = await handle.read(head, 0, head.length, 0);
		head = head.subarray(0, bytesRead);
	} finally {
		await handle.close();
	}

	if (head.toString('latin1', 0, armorStart.length) === armorStart) return {path: file, state: 'locked', size, armored: true, recipients: []};
	if (head.toString('latin1', 0, ageMagic.length) !== ageMagic) return {path: file, state: 'unlocked', size};
	let recipients: string[] = [];
	try {
		recipients = [...new Set((readHeaderStanzas(head, file)?.stanzas ?? []).map(stanza => stanza.args[0]!))];
	} catch {
		// Starts like an age file but its header is damaged: still not plaintext cage could lock.
	}

	return {path: file, state: 'locked', size, armored: false, recipients};
}

const percentOf = (done: number, size: number) => `${size === 0 ? 100 : Math.floor((done / size) * 100)} %`;

/** The low-space job whose state file is `stateFile`, with the batch beside it (when there is one). */
async function lowSpaceStatus(stateFile: string, batch: {file: string; manifest: BatchCheckpoint; pid?: number} | undefined): Promise<LowSpaceStatus | undefined> {
	const output = stateFile.slice(0, -lowSpaceStateSuffix.length);
	const partial = `${output}.partial`;
	const inBatch = batch?.manifest.items.some(item => item.output === output && item.status !== 'done');
	const running = inBatch && batch?.pid !== undefined ? {state: 'running' as const, pid: batch.pid} : {state: 'interrupted' as const};
	const resume = inBatch && batch ? resumeLine(batch.file) : null;
	const note = resume === null ? `no interrupted batch beside it records this job (${path.join(path.dirname(stateFile), batchCheckpointName)} is missing or done), so 'cage resume' cannot finish it` : undefined;
	if (output.endsWith('.age')) {
		const file = output.slice(0, -'.age'.length);
		const lock = await readLockState(stateFile).catch(() => undefined);
		const length = (await fs.stat(file).catch(() => undefined))?.size;
		const done = lock && length !== undefined ? lock.size - length : null;
		const how = lock && done !== null ? `cut to its first ${length} of ${lock.size} bytes (${percentOf(done, lock.size)} locked)` : 'cut part way';
		return {
			op: 'lock',
			...running,
			file,
			source: file,
			partial,
			stateFile,
			size: lock?.size ?? null,
			done,
			holds: `${file} is ${how}; the rest is encrypted in ${partial}: neither file alone holds it — keep both and ${path.basename(stateFile)} together`,
			resume,
			recover: `cage unlock --recover ${shellQuote(output)} -i YOUR_IDENTITY`,
			...(note ? {note} : {}),
		};
	}

	const source = `${output}.age`;
	const unlock = await readUnlockState(stateFile).catch(() => undefined);
	const length = (await fs.stat(source).catch(() => undefined))?.size;
	const progress = unlock && length !== undefined ? unlockProgress(unlock, length) : undefined;
	const count = unlock ? chunkCount(unlock.size, unlock.chunkSize) : 0;
	const done = unlock && progress && 'firstDone' in progress ? (progress.firstDone >= count ? 0 : unlock.size - chunkAt(unlock.size, unlock.chunkSize, progress.firstDone).start) : null;
	const how = unlock && done !== null ? `cut to its header and the first ${unlock.size - done} of ${unlock.size} bytes, encrypted (${percentOf(done, unlock.size)} unlocked)` : 'cut part way';
	const identities = batch?.manifest.identityFiles?.length ? batch.manifest.identityFiles.map(identity => `-i ${shellQuote(identity)}`).join(' ') : '-i YOUR_IDENTITY';
	return {
		op: 'unlock',
		...running,
		file: output,
		source,
		partial,
		stateFile,
		size: unlock?.size ?? null,
		done,
		holds: `${source} is ${how}; the rest is plaintext in ${partial}: neither file alone holds it — keep both and ${path.basename(stateFile)} together`,
		resume,
		recover: `cage unlock --recover ${shellQuote(source)} ${identities}`,
		...(note ? {note} : {}),
	};
}

/** The items of an in-place batch that a --low-space job had cut and whose state file is gone (the source shorter than when the batch started, a partial beside it). */
async function lostLowSpace(batch: {file: string; manifest: BatchCheckpoint; pid?: number}, states: Set<string>): Promise<LowSpaceStatus[]> {
	const found: LowSpaceStatus[] = [];
	const op = batch.manifest.inPlace!.op;
	for (const item of batch.manifest.items) {
		const stateFile = `${item.output}.low-space.json`;
		const partial = `${item.output}.partial`;
		if (item.status === 'done' || states.has(stateFile) || !(await exists(partial))) continue;
		const length = (await fs.stat(item.source).catch(() => undefined))?.size;
		if (length === undefined || length >= item.size) continue;
		const running = batch.pid === undefined ? {state: 'interrupted' as const} : {state: 'running' as const, pid: batch.pid};
		const lost = `its state file ${path.basename(stateFile)} is lost, so 'cage resume' cannot finish it (it refuses, changing nothing)`;
		if (op === 'lock') {
			found.push({
				op,
				...running,
				file: item.source,
				source: item.source,
				partial,
				stateFile: null,
				size: item.size,
				done: item.size - length,
				holds: `${item.source} is cut to its first ${length} of ${item.size} bytes (${percentOf(item.size - length, item.size)} locked); the rest is encrypted in ${partial}: neither file alone holds it — keep both`,
				resume: null,
				recover: `cage unlock --recover ${shellQuote(item.output)} -i YOUR_IDENTITY`,
				note: `${lost}; --recover rebuilds the file from the two (every block of the tail authenticated)`,
			});
		} else {
			found.push({
				op,
				...running,
				file: item.output,
				source: item.source,
				partial,
				stateFile: null,
				size: null,
				done: null,
				holds: `${item.source} is cut to ${length} of its ${item.size} bytes; the rest is plaintext in ${partial}: neither file alone holds it — keep both`,
				resume: null,
				recover: null,
				note: `${lost}, and the proof of the plaintext tail was in it: cage cannot rebuild the file proved ('cage unlock --recover' says which bytes are where)`,
			});
		}
	}

	return found;
}

async function jobStatus(file: string): Promise<JobStatus | undefined> {
	const manifest = await readBatchCheckpoint(file).catch(() => undefined);
	if (!manifest?.inPlace) return undefined;
	const pid = runningWriter(readWriterRecord(claimPath(file)));
	return {
		checkpoint: file,
		op: manifest.inPlace.op,
		state: pid === undefined ? 'interrupted' : 'running',
		...(pid === undefined ? {} : {pid}),
		files: manifest.items.length,
		done: manifest.items.filter(item => item.status === 'done').length,
		resume: resumeLine(file),
	};
}

/** Walk `directories` (symbolic links are not followed) and report. */
export async function gatherStatus(directories: string[]): Promise<StatusReport> {
	const report: StatusReport = {version: 1, files: [], jobs: [], lowSpace: [], locked: 0, unlocked: 0};
	const states: string[] = [];
	const batches = new Map<string, {file: string; manifest: BatchCheckpoint; pid?: number}>();
	const walk = async (directory: string): Promise<void> => {
		const entries = (await fs.readdir(directory, {withFileTypes: true})).sort((a, b) => a.name.localeCompare(b.name));
		for (const entry of entries) {
			const full = path.join(directory, entry.name);
			if (entry.isDirectory()) await walk(full);
			else if (entry.name === batchCheckpointName) {
				const job = await jobStatus(full);
				if (job) report.jobs.push(job);
				const manifest = job ? await readBatchCheckpoint(full).catch(() => undefined) : undefined;
				if (job && manifest) batches.set(directory, {file: full, manifest, ...(job.pid === undefined ? {} : {pid: job.pid})});
			} else if (entry.isFile() && entry.name.endsWith(lowSpaceStateSuffix)) {
				states.push(full);
			} else if (entry.isFile() && !isCageArtifact(entry.name) && !bookkeeping.has(entry.name)) {
				const stat = await fs.stat(full).catch(() => undefined);
				const found = stat ? await fileStatus(full, stat.size).catch(() => undefined) : undefined;
				if (found) report.files.push(found);
			}
		}
	};

	for (const directory of directories) {
		const stat = await fs.stat(directory);
		if (stat.isDirectory()) await walk(path.resolve(directory));
		else report.files.push(await fileStatus(path.resolve(directory), stat.size));
	}

	for (const state of states) {
		const job = await lowSpaceStatus(state, batches.get(path.dirname(state)));
		if (job) report.lowSpace.push(job);
	}

	for (const batch of batches.values()) report.lowSpace.push(...(await lostLowSpace(batch, new Set(states))));
	report.locked = report.files.filter(file => file.state === 'locked').length;
	report.unlocked = report.files.length - report.locked;
	return report;
}
