/**
 * One writer per job, without races: a job claims `CHECKPOINT.lock` by creating it exclusively
 * (O_CREAT | O_EXCL) before it does any work, and removes it when it ends. Two `cage resume` of
 * one job started in the same moment cannot both create it; the second is refused at once. A
 * lock left by a process that is gone (kill -9, a power cut; a zombie counts as gone) is taken
 * over (under a second lock, `CHECKPOINT.lock.takeover`, so that two processes taking over at once
 * never remove each other's live claim). Within one process a claim is re-entrant: the resume command claims before it reads
 * anything, and the engine it calls claims the same lock again.
 */
import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {readWriterRecord, removeStaleTemporaries, runningWriter, writerStamp} from '../chunker/checkpoint.js';

/**
 * A held claim; `release()` removes the lock once every holder in this process has released it.
 * `finish()` is the release of a job that is done, before its checkpoint goes: the lock is removed
 * now, even while an outer holder in this process (the resume command) still holds it, whose
 * release is then nothing; else a kill between the checkpoint's removal and that outer release
 * left a lock beside the output for good.
 */
export type Claim = {readonly path: string; release(): Promise<void>; finish(): Promise<void>};

const held = new Map<string, {count: number; ino: number}>();

/** The lock file that claims the job of checkpoint `checkpointPath`. */
export function claimPath(checkpointPath: string): string {
	return `${checkpointPath}.lock`;
}

/**
 * Claim `lock`, or throw `refusal(pid)` when a live cage process holds it. A lock that names no
 * process yet is one being written this very moment (created, not filled): held too, for a few
 * seconds.
 */
export async function claim(lock: string, refusal: (pid: number | undefined) => Error): Promise<Claim> {
	const mine = held.get(lock);
	if (mine) {
		mine.count++;
		return release(lock);
	}

	// The temp files of processes killed while they claimed it (see create).
	await removeStaleTemporaries(lock);
	for (let attempt = 0; attempt < 3; attempt++) {
		if (await create(lock)) return release(lock);
		const ino = (await fs.stat(lock).catch(() => undefined))?.ino;
		const record = readWriterRecord(lock);
		const writer = runningWriter(record);
		if (writer !== undefined) throw refusal(writer);
		if (record.pid === undefined && (await youngerThan(lock, 5000))) throw refusal(undefined);
		// Stale: removed only under a second, short-lived lock, after finding the same file there
		// again, so that a live claim made meanwhile is never the one removed.
		if (ino !== undefined && !(await takeOverStale(lock, ino))) throw refusal(undefined);
	}

	throw refusal(undefined);
}

/**
 * Create `lock` exclusively with this process's record; false when it exists. The record is
 * written to a temp file first and linked into place (link fails when the name exists), so a lock
 * is never seen without its pid: a process killed between creating the lock and filling it had
 * left an empty one, which the next resume had to treat as a start in progress for 5 s. Where the
 * file system has no hard links, the lock is created exclusively and then filled.
 */
async function create(lock: string): Promise<boolean> {
	const record = JSON.stringify({...writerStamp(), updatedAt: new Date().toISOString()});
	const temporary = path.join(path.dirname(lock), `.${path.basename(lock)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
	try {
		await fs.writeFile(temporary, record, {mode: 0o600, flag: 'wx'});
		await fs.link(temporary, lock);
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'EEXIST') return false;
		if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') {
			// A write's error names no file (a full disk): the user knows the lock, not its temp file.
			if (code !== undefined) (error as NodeJS.ErrnoException).path = lock;
			throw error;
		}
		return createFilled(lock, record);
	} finally {
		await fs.rm(temporary, {force: true});
	}

	held.set(lock, {count: 1, ino: (await fs.stat(lock)).ino});
	return true;
}

/** The same without hard links: created exclusively, then filled. */
async function createFilled(lock: string, record: string): Promise<boolean> {
	let handle;
	try {
		handle = await fs.open(lock, 'wx', 0o600);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
		throw error;
	}

	try {
		await handle.writeFile(record);
		held.set(lock, {count: 1, ino: (await handle.stat()).ino});
	} catch (error) {
		// Not filled (a full disk): removed, so that it is not taken for a claim being made.
		await fs.rm(lock, {force: true});
		if ((error as NodeJS.ErrnoException).code !== undefined) (error as NodeJS.ErrnoException).path = lock;
		throw error;
	} finally {
		await handle.close();
	}

	return true;
}

function release(lock: string): Claim {
	let released = false;
	const end = async (all: boolean) => {
		if (released) return;
		released = true;
		const mine = held.get(lock);
		if (!mine || (--mine.count > 0 && !all)) return;
		held.delete(lock);
		// Only our own lock: never one that another process made after ours was taken over.
		const stat = await fs.stat(lock).catch(() => undefined);
		if (stat?.ino === mine.ino) await fs.rm(lock, {force: true});
	};

	return {path: lock, release: async () => end(false), finish: async () => end(true)};
}

/** Whether `file` was modified less than `ms` ago (a time in the future, a clock set back, is not). */
async function youngerThan(file: string, ms: number): Promise<boolean> {
	const stat = await fs.stat(file).catch(() => undefined);
	const age = stat === undefined ? Number.NaN : Date.now() - stat.mtimeMs;
	return age >= 0 && age < ms;
}

/**
 * Remove the stale lock `lock` (the file with inode `staleIno`), holding `LOCK.takeover` (created
 * exclusively) meanwhile, and only if the file there is still that one and still stale (read
 * again under the takeover lock: a process that took over just before may have made a live lock
 * that reused the stale one's inode number). False when another process is taking over now.
 */
/** The lock's inode number, modification time and record, read through one handle; undefined when there is none. */
async function openedLock(lock: string): Promise<{ino: number; mtimeMs: number; record: ReturnType<typeof readWriterRecord>} | undefined> {
	let handle;
	try {
		handle = await fs.open(lock, 'r');
	} catch {
		return undefined;
	}

	try {
		const {ino, mtimeMs} = await handle.stat();
		let record: ReturnType<typeof readWriterRecord> = {};
		try {
			const data: unknown = JSON.parse(await handle.readFile('utf8'));
			if (data !== null && typeof data === 'object' && !Array.isArray(data)) record = data as ReturnType<typeof readWriterRecord>;
		} catch {
			// Not a record (empty, cut): no writer, as readWriterRecord says.
		}

		return {ino, mtimeMs, record};
	} finally {
		await handle.close();
	}
}

async function takeOverStale(lock: string, staleIno: number): Promise<boolean> {
	const takeover = `${lock}.takeover`;
	if (!(await create(takeover))) {
		// One left by a process killed in these few milliseconds is stale too: removed, then retried.
		const holder = readWriterRecord(takeover);
		if (runningWriter(holder) !== undefined || (holder.pid === undefined && (await youngerThan(takeover, 5000)))) return false;
		await fs.rm(takeover, {force: true});
		return true;
	}

	try {
		// The same file, and still stale: a live claim made since (by a process that took over just
		// before) may even have the stale file's inode number, but not a dead writer nor an old mtime.
		// The record and the inode number are read from one open file, so they are the same file's: read
		// apart, a lock missing for a moment (its stale one removed, the live one not yet linked) had
		// read as stale, and the live lock linked next, on the freed inode number, was then removed.
		const seen = await openedLock(lock);
		if (seen && seen.ino === staleIno) {
			const stale = seen.record.pid === undefined ? Date.now() - seen.mtimeMs >= 5000 : runningWriter(seen.record) === undefined;
			if (stale && (await fs.stat(lock).catch(() => undefined))?.ino === staleIno) await fs.rm(lock, {force: true});
		}
	} finally {
		held.delete(takeover);
		await fs.rm(takeover, {force: true});
	}

	return true;
}
