/**
 * The audit logger: appends a job's events to a JSON Lines file that several `cage` processes may
 * share, and rotates it by size.
 *
 * - Every numbered event is written once: everything but the transient `chunk:progress` updates
 *   the emitter sends between two samples (at most one a second per job, see `JobEmitter`), which
 *   repeat the seq of the event before them. So the log grows with chunks, not bytes, each line of
 *   a job has its own seq, one more than the line before, and a gap means a lost line (a failed
 *   write). Events carry no payload and no key material.
 * - Each append is ONE `write(2)` of whole line(s) on a descriptor opened with O_APPEND: the kernel
 *   moves the offset to the end and writes under the inode lock, so concurrent writers never tear
 *   or overwrite each other's lines on a local file system.
 * - A failed write raises one `audit-write-failed` anomaly on the job and is otherwise ignored:
 *   the log never stops a job.
 * - A short write (disk full) leaves half a line. Whoever opens the log next (this logger after
 *   the failure, or another process) finds it not ending in a newline and starts its append with
 *   one: the torn line is lost, the next event is not glued to it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type {JobEmitter} from '../chunker/emitter.js';
import type {CageEvent} from '../chunker/events.js';
import {makePrivateDirectorySync} from '../io/private-file.js';
import {formatAuditLine} from './format.js';

/** Where the log goes and when it rotates. */
export type AuditLoggerOptions = {
	/** The log file (its directory is created with mode 0700, the file with 0600). */
	path: string;
	/** Rotate when an append would grow the file past this many bytes (0 = never). */
	maxBytes: number;
	/** Rotated files kept: `<path>.1` (newest) … `<path>.<keep>`; 0 drops the old log. */
	keep: number;
	/** A rotation lock older than this is taken to be left by a crashed process (default 10 s). */
	staleLockMs?: number;
};

type Opened = {
	fd: number;
	dev: number;
	ino: number;
	/** The file ended without a newline when opened (a torn line): the next append ends it first. */
	torn: boolean;
};

const newline = Buffer.from('\n');

/** Appends events to an audit log; see the module comment. */
export class AuditLogger {
	readonly path: string;
	readonly #options: Required<AuditLoggerOptions>;
	#file: Opened | undefined;
	#failure: Error | undefined;
	/** Per running job: the highest seq written (or attempted). */
	readonly #lastSeq = new Map<string, number>();

	constructor(options: AuditLoggerOptions) {
		this.path = path.resolve(options.path);
		this.#options = {staleLockMs: 10_000, ...options};
	}

	/** The first write error, if any write failed. */
	get failure(): Error | undefined {
		return this.#failure;
	}

	/**
	 * Log every event of `emitter`. The first failed write sends one `audit-write-failed` anomaly on
	 * the emitter, after the event being logged has reached every listener (so event order and
	 * seq stay as the job made them). Returns a function that stops logging.
	 */
	attach(emitter: JobEmitter): () => void {
		let reported = false;
		return emitter.pipe(event => {
			if (this.log(event) || reported) return;
			reported = true;
			const message = `cannot write the audit log ${this.path}: ${this.#failure?.message ?? 'unknown error'}; the job continues without it`;
			queueMicrotask(() => emitter.send({type: 'anomaly', severity: 'warn', code: 'audit-write-failed', message}));
		});
	}

	/**
	 * Append one event; a `chunk:progress` only when it is a sample (its seq is above the last one
	 * written for its job: a transient update repeats that one). Returns false when the write
	 * failed; never throws. A failed line keeps its seq taken, so the log shows the gap.
	 */
	log(event: CageEvent): boolean {
		const last = this.#lastSeq.get(event.job);
		if (event.type === 'chunk:progress' && last !== undefined && event.seq <= last) return true;
		if (event.type === 'job:done') this.#lastSeq.delete(event.job);
		else this.#lastSeq.set(event.job, Math.max(event.seq, last ?? event.seq));

		return this.append(formatAuditLine(event));
	}

	/** Append whole line(s) in one write. Returns false when it failed; never throws. */
	append(lines: string): boolean {
		let data = Buffer.from(lines, 'utf8');
		try {
			const file = this.#current(data.length + 1);
			if (file.torn) data = Buffer.concat([newline, data]);
			const written = fs.writeSync(file.fd, data);
			// A short write (disk full) leaves half a line: report it like any failed write. The
			// file is opened afresh on the next append, which then finds the torn line and ends it.
			if (written !== data.length) throw new Error(`short write (${written} of ${data.length} bytes; is the disk full?)`);
			file.torn = false;
			return true;
		} catch (error) {
			this.#failure ??= error instanceof Error ? error : new Error(String(error));
			// Start afresh on the next append: the directory may come back, space may be freed.
			this.#closeFile();
			return false;
		}
	}

	/** Close the log file. */
	close(): void {
		this.#closeFile();
	}

	/**
	 * The descriptor to append `length` bytes to: the file now at `path` (another process may have
	 * rotated it since the last append), rotated first when the append would take it past maxBytes.
	 */
	#current(length: number): Opened {
		let stat: fs.Stats | undefined;
		try {
			stat = fs.statSync(this.path);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
		}

		const {maxBytes} = this.#options;
		if (stat && maxBytes > 0 && stat.size > 0 && stat.size + length > maxBytes) {
			this.#rotate(stat);
			stat = undefined;
		}

		if (this.#file && stat && stat.ino === this.#file.ino && stat.dev === this.#file.dev) return this.#file;
		this.#closeFile();
		makePrivateDirectorySync(path.dirname(this.path));
		const fd = fs.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
		const opened = fs.fstatSync(fd);
		this.#file = {fd, dev: opened.dev, ino: opened.ino, torn: endsTorn(this.path, opened)};
		return this.#file;
	}

	/**
	 * Shift `<path>` to `<path>.1`, `.1` to `.2` … dropping the oldest.
	 *
	 * Two processes can find the file full at the same moment. Renaming without coordination would
	 * make them rotate twice (the second one shifting the fresh, nearly empty file to `.1` and
	 * pushing a full log out of `.keep`). So rotation takes a lock file (`<path>.lock`, created
	 * with O_EXCL: exactly one process wins), and the winner re-checks under the lock that `<path>`
	 * is still the file it found full (same inode, not smaller): if another process rotated it
	 * meanwhile, it does nothing. A process that finds the lock taken does not wait; it appends to
	 * the current file (a little past maxBytes) and re-checks on its next append. A lock older than
	 * `staleLockMs` was left by a crashed process and is broken. Writers holding the old descriptor
	 * may still append a line or two to `.1` after the rename; nothing is lost (it is in `.1`, and
	 * `AuditTail` drains the old file before following the new one), and their next append reopens
	 * `<path>` because its inode changed.
	 */
	#rotate(seen: fs.Stats): void {
		const lock = `${this.path}.lock`;
		let lockFd: number | undefined;
		for (let attempt = 0; attempt < 2 && lockFd === undefined; attempt++) {
			try {
				lockFd = fs.openSync(lock, 'wx', 0o600);
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
				if (!this.#breakStaleLock(lock)) return;
			}
		}

		if (lockFd === undefined) return;
		try {
			let now: fs.Stats;
			try {
				now = fs.statSync(this.path);
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
				throw error;
			}

			// Another file at <path>, or this one shrank: someone rotated (or truncated) it meanwhile.
			if (now.ino !== seen.ino || now.dev !== seen.dev || now.size < seen.size) return;
			const {keep} = this.#options;
			if (keep === 0) {
				fs.rmSync(this.path, {force: true});
				return;
			}

			fs.rmSync(`${this.path}.${keep}`, {force: true});
			for (let index = keep - 1; index >= 1; index--) renameIfExists(`${this.path}.${index}`, `${this.path}.${index + 1}`);
			fs.renameSync(this.path, `${this.path}.1`);
		} finally {
			fs.closeSync(lockFd);
			fs.rmSync(lock, {force: true});
		}
	}

	/** Remove the lock when it is stale; true when it was removed (or is gone). */
	#breakStaleLock(lock: string): boolean {
		try {
			if (Date.now() - fs.statSync(lock).mtimeMs < this.#options.staleLockMs) return false;
			fs.rmSync(lock, {force: true});
			return true;
		} catch (error) {
			return (error as NodeJS.ErrnoException).code === 'ENOENT';
		}
	}

	#closeFile(): void {
		if (!this.#file) return;
		try {
			fs.closeSync(this.#file.fd);
		} catch {
			// Already closed or invalid: nothing to release.
		}

		this.#file = undefined;
	}
}

/**
 * True when the log (the file `opened` describes) does not end with a newline. Read through a
 * descriptor of its own, since the log's is write-only (a log may be writable and not readable);
 * one that now names another file (rotated meanwhile) tells nothing.
 */
function endsTorn(file: string, opened: fs.Stats): boolean {
	if (opened.size === 0) return false;
	let fd: number | undefined;
	try {
		fd = fs.openSync(file, 'r');
		const now = fs.fstatSync(fd);
		if (now.ino !== opened.ino || now.dev !== opened.dev || now.size === 0) return false;
		const last = Buffer.alloc(1);
		return fs.readSync(fd, last, 0, 1, now.size - 1) === 1 && last[0] !== newline[0];
	} catch {
		// Not readable: append as before rather than fail the write.
		return false;
	} finally {
		if (fd !== undefined) fs.closeSync(fd);
	}
}

function renameIfExists(from: string, to: string): void {
	try {
		fs.renameSync(from, to);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
	}
}
