/**
 * One writer per job, without races: a job claims `CHECKPOINT.lock` by creating it exclusively
 * (O_CREAT | O_EXCL) before it does any work, and removes it when it ends. Two `cage resume` of
 * one job started in the same moment cannot both create it; the second is refused at once. A
 * lock left by a process that is gone (kill -9, a power cut; a zombie counts as gone) is taken
 * over. Within one process a claim is re-entrant: the resume command claims before it reads
 * anything, and the engine it calls claims the same lock again.
 */
import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import {readWriterRecord, runningWriter, writerStamp} from '../chunker/checkpoint.js';

/** A held claim; `release()` removes the lock once every holder in this process has released it. */
export type Claim = {readonly path: string; release(): Promise<void>};

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

	for (let attempt = 0; attempt < 3; attempt++) {
		try {
			const handle = await fs.open(lock, 'wx', 0o600);
			try {
				await handle.writeFile(JSON.stringify({...writerStamp(), updatedAt: new Date().toISOString()}));
				held.set(lock, {count: 1, ino: (await handle.stat()).ino});
			} finally {
				await handle.close();
			}

			return release(lock);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}

		const record = readWriterRecord(lock);
		const writer = runningWriter(record);
		if (writer !== undefined) throw refusal(writer);
		if (record.pid === undefined && (await youngerThan(lock, 5000))) throw refusal(undefined);
		await takeOverStale(lock, record);
	}

	throw refusal(undefined);
}

function release(lock: string): Claim {
	let released = false;
	return {
		path: lock,
		async release() {
			if (released) return;
			released = true;
			const mine = held.get(lock);
			if (!mine || --mine.count > 0) return;
			held.delete(lock);
			// Only our own lock: never one that another process made after ours was taken over.
			const stat = await fs.stat(lock).catch(() => undefined);
			if (stat?.ino === mine.ino) await fs.rm(lock, {force: true});
		},
	};
}

async function youngerThan(file: string, ms: number): Promise<boolean> {
	const stat = await fs.stat(file).catch(() => undefined);
	return stat !== undefined && Date.now() - stat.mtimeMs < ms;
}

/**
 * Remove a stale lock, unless another process took it over meanwhile: the lock is moved aside
 * (one rename wins), and put back when what was moved is not the stale record seen.
 */
async function takeOverStale(lock: string, seen: ReturnType<typeof readWriterRecord>): Promise<void> {
	const aside = `${lock}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
	try {
		await fs.rename(lock, aside);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
		throw error;
	}

	const moved = readWriterRecord(aside);
	if (moved.pid !== seen.pid || moved.pidStart !== seen.pidStart) {
		// A live claim made after we looked: give it back (if a third process claimed in between,
		// that one holds the name and this one is dropped: only one of them ever runs).
		await fs.link(aside, lock).catch(() => undefined);
	}

	await fs.rm(aside, {force: true});
}
