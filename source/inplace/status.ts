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
import {batchCheckpointName, readBatchCheckpoint} from '../jobs/batch-job.js';
import {claimPath} from '../jobs/claim.js';
import {resumeLine} from '../shell-quote.js';
import {isCageArtifact} from './plan.js';

/** One file as `cage status` sees it. */
export type FileStatus =
	| {path: string; state: 'locked'; size: number; armored: boolean; recipients: string[]}
	| {path: string; state: 'unlocked'; size: number};

/** A lock or unlock batch found under the directories. */
export type JobStatus = {checkpoint: string; op: 'lock' | 'unlock'; state: 'running' | 'interrupted'; pid?: number; files: number; done: number; resume: string};

export type StatusReport = {version: 1; files: FileStatus[]; jobs: JobStatus[]; locked: number; unlocked: number};

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
	const report: StatusReport = {version: 1, files: [], jobs: [], locked: 0, unlocked: 0};
	const walk = async (directory: string): Promise<void> => {
		const entries = (await fs.readdir(directory, {withFileTypes: true})).sort((a, b) => a.name.localeCompare(b.name));
		for (const entry of entries) {
			const full = path.join(directory, entry.name);
			if (entry.isDirectory()) await walk(full);
			else if (entry.name === batchCheckpointName) {
				const job = await jobStatus(full);
				if (job) report.jobs.push(job);
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

	report.locked = report.files.filter(file => file.state === 'locked').length;
	report.unlocked = report.files.length - report.locked;
	return report;
}
