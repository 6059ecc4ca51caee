/**
 * Checkpoints: versioned JSON written atomically (temp file, fsync, rename, fsync of the
 * directory), verified on read. A checkpoint holds structure only — offsets, counts, keyed MACs —
 * never plaintext, and secrets only wrapped (see `secrets.ts`).
 */
import {createHmac} from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {writePrivateFile} from '../io/private-file.js';
import type {JobKind} from './events.js';
import {chunkAt, chunkCount} from './plan.js';

/**
 * The checkpoint format this build writes. Version 2 adds, for encrypt and decrypt jobs, the
 * digests of the bytes each chunk wrote (`digests`), the partial output's identity and the seal;
 * version 1 checkpoints are still read and resumed (their resume redoes chunks to check them).
 */
export const checkpointVersion = 2;

/** The versions this build reads. */
const readableVersions: readonly number[] = [1, 2];

/** Identifies the source file a checkpoint was made from. */
export type SourceFingerprint = {
	path: string;
	size: number;
	mtimeMs: number;
	ino: number;
	dev: number;
	/**
	 * Inode change time: every write moves it, and nothing (not `touch -r`) sets it back, so a
	 * resume that finds it moved re-verifies every done chunk. Absent in older checkpoints.
	 */
	ctimeMs?: number;
};

/** A checkpoint (format version 2, or 1 from an older build). */
export type Checkpoint = {
	version: 1 | 2;
	/** Always 'cage', to tell a checkpoint from any other JSON. */
	tool: 'cage';
	kind: JobKind;
	job: string;
	createdAt: string;
	updatedAt: string;
	source: SourceFingerprint;
	/** Final output path (null for a hash job). */
	output: string | null;
	/** Where output is written until the job completes. */
	partial: string | null;
	/** Plaintext bytes of the job. */
	size: number;
	chunkSize: number;
	totalChunks: number;
	/** Every chunk with id < chunksDone is committed (done or skipped). */
	chunksDone: number;
	bytesDone: number;
	/** Committed chunks that were skipped. */
	skipped: number[];
	/** Keyed MAC per committed chunk ('' for skipped ones). */
	macs: string[];
	/** Public per-chunk facts (the hasher's digests), same length as macs, when the job keeps them. */
	info?: string[];
	/**
	 * Keyed digests of the bytes each committed chunk wrote to the partial output, same length as
	 * macs (version 2 encrypt and decrypt jobs): what a resume after an unclean stop checks.
	 */
	digests?: string[];
	/** Secrets (file key, MAC key) age-encrypted to the per-user resume identity, base64. */
	secrets?: string;
	/** Kind-specific public parameters (recipient digest, header length, algorithm, …). */
	params: Record<string, unknown>;
	/**
	 * Written once the job had stopped (quit, Ctrl-C, SIGTERM, a failure): nothing of this job
	 * wrote to the partial output after it. Absent for checkpoints taken while chunks ran.
	 */
	stopped?: boolean;
	/** The process that wrote this checkpoint, and when it started (see runningWriter). */
	pid?: number;
	pidStart?: string;
	/** The partial output's change time when this checkpoint was written (after its fsync). */
	partialCtimeMs?: number;
	/**
	 * The partial output's inode and device: after a crash between the final rename and the
	 * checkpoint's removal, the output is recognised as this job's own file by them.
	 */
	partialIno?: number;
	partialDev?: number;
	/**
	 * HMAC-SHA256 (hex) of the rest of the checkpoint under a key derived from the job's file key
	 * (version 2 encrypt and decrypt jobs): an edit of any field is refused as a damaged checkpoint.
	 */
	seal?: string;
};

/**
 * Remove the temp files that interrupted atomic writes of `file` (writeJsonAtomic) left beside it:
 * those of processes that are gone. A kill -9 between creating one and renaming it leaves it.
 */
export async function removeStaleTemporaries(file: string): Promise<void> {
	const prefix = `.${path.basename(file)}.tmp-`;
	const names = await fs.readdir(path.dirname(file)).catch(() => [] as string[]);
	for (const name of names) {
		if (!name.startsWith(prefix)) continue;
		const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
		if (pid === process.pid || (Number.isSafeInteger(pid) && pid > 0 && processAlive(pid))) continue;
		await fs.rm(path.join(path.dirname(file), name), {force: true}).catch(() => undefined);
	}
}

/** Thrown when a checkpoint cannot be read or used; the message says which file and what to do. */
export class CheckpointError extends Error {
	override name = 'CheckpointError';
}

/** Reads, writes and removes one checkpoint file. */
export class CheckpointStore {
	readonly path: string;
	readonly #sealKey: Uint8Array | undefined;

	/** `sealKey`: seal every checkpoint written (see `sealOf`). */
	constructor(file: string, {sealKey}: {sealKey?: Uint8Array} = {}) {
		this.path = path.resolve(file);
		this.#sealKey = sealKey;
	}

	/** Write atomically: a crash at any moment leaves either the old or the new checkpoint whole. */
	async write(checkpoint: Checkpoint): Promise<void> {
		const {seal: _old, ...rest} = checkpoint;
		await writeJsonAtomic(this.path, this.#sealKey ? {...rest, seal: sealOf(rest, this.#sealKey)} : rest);
	}

	/**
	 * Remove temp files that an interrupted write of this checkpoint left beside it (a kill -9
	 * between creating and renaming one): those of processes that are gone.
	 */
	async removeStaleTemporaries(): Promise<void> {
		await removeStaleTemporaries(this.path);
	}

	/** Read and validate. */
	async read(): Promise<Checkpoint> {
		let text: string;
		try {
			text = await fs.readFile(this.path, 'utf8');
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			if (code === 'ENOENT') throw new CheckpointError(`no checkpoint at ${this.path}: nothing to resume (was the job already completed?)`);
			throw new CheckpointError(`cannot read checkpoint ${this.path}: ${(error as Error).message}`);
		}

		return parseCheckpoint(text, this.path);
	}

	async exists(): Promise<boolean> {
		try {
			await fs.access(this.path);
			return true;
		} catch {
			return false;
		}
	}

	async remove(): Promise<void> {
		// write() removes its own temp file when it fails, so only the checkpoint is left to remove.
		await fs.rm(this.path, {force: true});
	}
}

/**
 * Write JSON atomically (mode 0600): temp file, fsync, rename, fsync of the directory. A crash at
 * any moment leaves either the old file or the new one whole, never a torn one. Each write has its
 * own temp file, so overlapping writes (two stores, a pause during a commit) never rename each
 * other's half-written bytes into place.
 */
export async function writeJsonAtomic(file: string, data: unknown): Promise<void> {
	await writePrivateFile(file, JSON.stringify(data, null, '\t') + '\n', {replace: true});
}

/** Validate checkpoint JSON text; `file` names it in errors. */
export function parseCheckpoint(text: string, file: string): Checkpoint {
	let data: unknown;
	try {
		data = JSON.parse(text);
	} catch {
		throw new CheckpointError(`checkpoint ${file} is corrupt (not valid JSON): restore it from a backup, or start the job again with --force`);
	}

	const fail = (what: string): never => {
		throw new CheckpointError(`checkpoint ${file} is corrupt (${what}): start the job again with --force`);
	};

	if (!isRecord(data) || data.tool !== 'cage') {
		throw new CheckpointError(`${file} is not a cage checkpoint; pass the .checkpoint.json file cage printed, or the output path`);
	}

	if (typeof data.version !== 'number') fail('no version');
	if ((data.version as number) > checkpointVersion) {
		throw new CheckpointError(`checkpoint ${file} was written by a newer cage (format version ${String(data.version)}, this cage reads ${checkpointVersion}); upgrade cage to resume it`);
	}

	if (!readableVersions.includes(data.version as number)) fail(`unsupported version ${String(data.version)}`);
	if (!['encrypt', 'decrypt', 'hash', 'sweep'].includes(data.kind as string)) fail(`unknown kind ${String(data.kind)}`);
	for (const key of ['size', 'chunkSize', 'totalChunks', 'chunksDone', 'bytesDone'] as const) {
		const value = data[key];
		if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(`${key} is not a non-negative integer`);
	}

	if (!isRecord(data.source)) fail('no source fingerprint');
	const source = data.source as Record<string, unknown>;
	if (typeof source.path !== 'string') fail('source path missing');
	for (const key of ['size', 'mtimeMs', 'ino', 'dev']) if (typeof source[key] !== 'number') fail(`source ${key} missing`);
	if (source.ctimeMs !== undefined && typeof source.ctimeMs !== 'number') fail('source ctimeMs is invalid');
	if (data.stopped !== undefined && typeof data.stopped !== 'boolean') fail('stopped is invalid');
	for (const key of ['partialCtimeMs', 'partialIno', 'partialDev']) if (data[key] !== undefined && typeof data[key] !== 'number') fail(`${key} is invalid`);
	if (data.pid !== undefined && !Number.isSafeInteger(data.pid)) fail('pid is invalid');
	if (data.pidStart !== undefined && typeof data.pidStart !== 'string') fail('pidStart is invalid');
	if (data.output !== null && typeof data.output !== 'string') fail('output is invalid');
	if (data.partial !== null && typeof data.partial !== 'string') fail('partial is invalid');
	if (data.secrets !== undefined && typeof data.secrets !== 'string') fail('secrets are invalid');
	if (data.seal !== undefined && (typeof data.seal !== 'string' || !/^[\da-f]{64}$/.test(data.seal))) fail('seal is invalid');
	if (!isRecord(data.params)) fail('params missing');
	if (typeof data.job !== 'string') fail('job id missing');
	checkProgress(data as unknown as Checkpoint, fail);
	return data as unknown as Checkpoint;
}

/**
 * What a job can have written: a plan that adds up, and as many MACs, digests and bytes as the
 * chunks it says are done. A checkpoint that claims more, or other, than that was not written by
 * cage as it is, and resuming it could put unwritten bytes in the output.
 */
function checkProgress(checkpoint: Checkpoint, fail: (what: string) => never): void {
	const {kind, size, chunkSize, totalChunks, chunksDone, bytesDone} = checkpoint;
	const age = kind === 'encrypt' || kind === 'decrypt';
	if (chunkSize <= 0) fail('chunkSize is 0');
	if (age && chunkSize % (64 * 1024) !== 0) fail(`chunkSize ${chunkSize} is not a multiple of the 64 KiB age block`);
	if (totalChunks !== chunkCount(size, chunkSize)) fail(`totalChunks is ${totalChunks}, but a size of ${size} bytes in chunks of ${chunkSize} makes ${chunkCount(size, chunkSize)}`);
	if (chunksDone > totalChunks) fail(`chunksDone is ${chunksDone}, more than the ${totalChunks} chunks planned`);
	if (!Array.isArray(checkpoint.skipped) || !checkpoint.skipped.every(id => Number.isSafeInteger(id) && id >= 0 && id < chunksDone)) fail('skipped lists chunks that are not done');
	const skipped = new Set(checkpoint.skipped);
	if (skipped.size !== checkpoint.skipped.length) fail('skipped lists a chunk twice');
	if (age && skipped.size > 0) fail('skipped is not empty, but an encrypt or decrypt job never skips a chunk (every chunk is needed for a valid output)');
	if (!Array.isArray(checkpoint.macs) || checkpoint.macs.length !== chunksDone) fail(`macs holds ${Array.isArray(checkpoint.macs) ? checkpoint.macs.length : 'no'} MACs for ${chunksDone} chunks done`);
	for (const [id, mac] of checkpoint.macs.entries()) {
		// An age chunk's MAC is a SHA-256 (worker.ts); a hash job's is its algorithm's digest; a
		// sweep's is not a digest (it keeps its scan state instead), but never empty.
		const form = age ? /^[\da-f]{64}$/ : kind === 'hash' ? /^[\da-f]+$/ : /^.+$/;
		const valid = typeof mac === 'string' && (skipped.has(id) ? mac === '' : form.test(mac));
		if (!valid) fail(`macs[${id}] is not the MAC of a ${skipped.has(id) ? 'skipped' : 'done'} chunk`);
	}

	if (checkpoint.info !== undefined && (!Array.isArray(checkpoint.info) || checkpoint.info.length !== chunksDone || !checkpoint.info.every(info => typeof info === 'string'))) {
		fail('info list does not match the chunks done');
	}

	if (checkpoint.digests !== undefined) {
		if (!Array.isArray(checkpoint.digests) || checkpoint.digests.length !== chunksDone) fail(`digests holds ${Array.isArray(checkpoint.digests) ? checkpoint.digests.length : 'no'} digests for ${chunksDone} chunks done`);
		for (const [id, digest] of checkpoint.digests.entries()) if (typeof digest !== 'string' || !/^[\da-f]{32}$/.test(digest)) fail(`digests[${id}] is not the digest of a written chunk`);
	}

	if (checkpoint.version >= 2 && age) {
		if (checkpoint.digests === undefined) fail('digests missing');
		if (checkpoint.seal === undefined) fail('seal missing');
	}

	let expected = 0;
	for (let id = 0; id < chunksDone; id++) if (!skipped.has(id)) expected += chunkAt(size, chunkSize, id).size;
	if (bytesDone !== expected) fail(`bytesDone is ${bytesDone}, but the ${chunksDone - skipped.size} chunks done hold ${expected} bytes`);
}

/**
 * The seal of a checkpoint (without its `seal` field): HMAC-SHA256 of its canonical JSON (keys
 * sorted) under `key`. Checked with `hasValidSeal` once the job's key is unwrapped.
 */
export function sealOf(checkpoint: Omit<Checkpoint, 'seal'>, key: Uint8Array): string {
	return sealJson(checkpoint, key);
}

/** HMAC-SHA256 (hex) under `key` of `value`'s canonical JSON (keys sorted): the seal of any checkpoint-like record. */
export function sealJson(value: unknown, key: Uint8Array): string {
	return createHmac('sha256', key).update(canonicalJson(value)).digest('hex');
}

/** Whether the checkpoint's seal is the one `key` gives (false when it has none). */
export function hasValidSeal(checkpoint: Checkpoint, key: Uint8Array): boolean {
	const {seal, ...rest} = checkpoint;
	return seal !== undefined && seal === sealOf(rest, key);
}

/** JSON with object keys sorted at every level, so that the same data always gives the same text. */
function canonicalJson(value: unknown): string {
	if (Array.isArray(value)) return `[${value.map(item => canonicalJson(item)).join(',')}]`;
	if (isRecord(value)) {
		return `{${Object.keys(value)
			.filter(key => value[key] !== undefined)
			.sort()
			.map(key => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
			.join(',')}}`;
	}

	return JSON.stringify(value) ?? 'null';
}


/** The fingerprint of a file now. */
export async function fingerprint(file: string): Promise<SourceFingerprint> {
	// One stat, synchronous: microseconds, where a round trip to libuv's pool cost a batch of
	// small files more than the call (each file takes three of them).
	const stat = fsSync.statSync(file);
	return {path: path.resolve(file), size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, dev: stat.dev, ctimeMs: stat.ctimeMs};
}

/**
 * True when the file was written to, or its metadata changed (chmod, a new hard link), since
 * `before`, though size, modification time and inode are the same: an in-place edit whose
 * modification time was put back looks like this. Unknown (false) for older checkpoints.
 */
export function changeTimeMoved(before: SourceFingerprint, now: SourceFingerprint): boolean {
	return before.ctimeMs !== undefined && now.ctimeMs !== undefined && before.ctimeMs !== now.ctimeMs;
}

/** What differs between two fingerprints, in words; empty when they match. */
export function fingerprintChanges(before: SourceFingerprint, now: SourceFingerprint): string[] {
	const changes: string[] = [];
	if (before.size !== now.size) changes.push(`size ${before.size} -> ${now.size} bytes`);
	if (before.mtimeMs !== now.mtimeMs) changes.push(`modified ${new Date(before.mtimeMs).toISOString()} -> ${new Date(now.mtimeMs).toISOString()}`);
	if (before.ino !== now.ino || before.dev !== now.dev) changes.push('replaced by another file (inode changed)');
	return changes;
}

/**
 * When process `pid` started (clock ticks since boot, /proc/PID/stat field 22), where /proc tells.
 * A zombie (state Z, or X: dead, not yet reaped by its parent) has no start: it runs nothing.
 */
export function processStart(pid: number): string | undefined {
	try {
		const stat = fsSync.readFileSync(`/proc/${pid}/stat`, 'latin1');
		// Fields after the command name, which is in parentheses and may hold spaces: field 3 first.
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		if (fields[0] === 'Z' || fields[0] === 'X') return 'zombie';
		return fields[19];
	} catch {
		return undefined;
	}
}

/** Whether process `pid` exists and is not a zombie. */
export function processAlive(pid: number): boolean {
	const started = processStart(pid);
	if (started === 'zombie') return false;
	if (started !== undefined) return true;
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

let ownStamp: {pid: number; pidStart?: string} | undefined;

/** This process as a writer (pid and start time), what checkpoints and batch locks record; read once. */
export function writerStamp(): {pid: number; pidStart?: string} {
	if (!ownStamp) {
		const pidStart = processStart(process.pid);
		ownStamp = {pid: process.pid, ...(pidStart === undefined ? {} : {pidStart})};
	}

	return ownStamp;
}

/**
 * The pid of a cage process still running the job `checkpoint` belongs to, if there is one. A job
 * writes its pid (and the pid's start time) into every checkpoint; a second process on the same
 * output (a resume, a --force start) would write over it and make one of the two fail. The pid
 * counts when the process with that pid started when the writer did; without /proc, when it is
 * alive and is cage (its command line names the CLI) or wrote the checkpoint in the last 10 s. A
 * pid reused by something else after a crash is not taken for the job.
 */
export function runningWriter(checkpoint: {pid?: number | undefined; pidStart?: string | undefined; updatedAt?: string | undefined}): number | undefined {
	const {pid} = checkpoint;
	if (pid === undefined || pid === process.pid || pid <= 0) return undefined;
	if (processStart(pid) === 'zombie') return undefined;
	if (checkpoint.pidStart !== undefined) {
		const started = processStart(pid);
		if (started !== undefined) return started === checkpoint.pidStart ? pid : undefined;
	}

	try {
		process.kill(pid, 0);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
	}

	const fresh = Date.now() - Date.parse(checkpoint.updatedAt ?? '') < 10_000;
	let command = '';
	try {
		command = fsSync.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
	} catch {
		return fresh ? pid : undefined;
	}

	return /cage|cli\.js/.test(command) || fresh ? pid : undefined;
}

/** What runningWriter reads from a checkpoint or batch lock: the writer's pid, its start time, the last write. */
export type WriterRecord = Parameters<typeof runningWriter>[0];

/**
 * The writer a checkpoint or batch lock `file` records, read without validation: a file that is
 * missing, unreadable, not JSON or not a JSON object records none ({}).
 */
export function readWriterRecord(file: string): WriterRecord {
	let data: unknown;
	try {
		data = JSON.parse(fsSync.readFileSync(file, 'utf8'));
	} catch {
		return {};
	}

	// `null`, a number, an array: no writer either (runningWriter reads fields of an object).
	return isRecord(data) ? (data as WriterRecord) : {};
}

/**
 * Throw `refusal(pid)` when another cage process runs the job `record` belongs to (see
 * runningWriter): a second writer of the same output would make one of the two fail. Each caller
 * words the refusal for what it was about to do.
 */
export function refuseIfRunning(record: WriterRecord, refusal: (pid: number) => Error): void {
	const writer = runningWriter(record);
	if (writer !== undefined) throw refusal(writer);
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}
