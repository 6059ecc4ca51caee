/**
 * Positioned file input and output for processors that run on the main thread, plus the small
 * file-system checks every command makes before it starts work, and the directory fsync that makes
 * a rename durable.
 */
import fsSync, {type Stats} from 'node:fs';
import fs from 'node:fs/promises';
import type {ChunkInput, ChunkOutput} from '../chunker/processor.js';
import {JobError} from '../errors.js';

/**
 * The descriptor of a FileInput or FileOutput opened with `openSync`: closed once only (a
 * descriptor number closed twice may be another file's by then), and never used after.
 */
class SyncDescriptor {
	readonly #path: string;
	#fd: number;

	constructor(file: string, fd: number) {
		this.#path = file;
		this.#fd = fd;
	}

	get fd(): number {
		if (this.#fd === -1) throw Object.assign(new Error(`${this.#path}: used after close`), {code: 'EBADF'});
		return this.#fd;
	}

	close(): void {
		if (this.#fd === -1) return;
		const fd = this.#fd;
		this.#fd = -1;
		fsSync.closeSync(fd);
	}
}

/**
 * A ChunkInput over a file. `openSync` makes one whose calls are synchronous underneath (their
 * promises are settled at once): for a file of a few blocks, where each trip to libuv's thread
 * pool costs more than the read itself (a batch of small files made a score of them per file).
 */
export class FileInput implements ChunkInput {
	readonly path: string;
	readonly size: number;
	readonly #handle: fs.FileHandle | undefined;
	// The synchronous kind's descriptor.
	readonly #sync: SyncDescriptor | undefined;

	private constructor(file: string, handle: fs.FileHandle | undefined, fd: number, size: number) {
		this.path = file;
		this.#handle = handle;
		this.#sync = handle ? undefined : new SyncDescriptor(file, fd);
		this.size = size;
	}

	static async open(file: string): Promise<FileInput> {
		const handle = await fs.open(file, 'r');
		const stat = await handle.stat();
		return new FileInput(file, handle, -1, stat.size);
	}

	static openSync(file: string): FileInput {
		const fd = fsSync.openSync(file, 'r');
		try {
			return new FileInput(file, undefined, fd, fsSync.fstatSync(fd).size);
		} catch (error) {
			fsSync.closeSync(fd);
			throw error;
		}
	}

	async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
		if (!this.#handle) return fsSync.readSync(this.#sync!.fd, buffer, offset, length, position);
		const {bytesRead} = await this.#handle.read(buffer, offset, length, position);
		return bytesRead;
	}

	async close(): Promise<void> {
		if (this.#handle) await this.#handle.close();
		else this.#sync!.close();
	}
}

/**
 * A ChunkOutput over a file opened for positioned writes without truncation. Like FileInput,
 * `openSync` makes one whose calls are synchronous underneath (a small job's output).
 */
export class FileOutput implements ChunkOutput {
	readonly path: string;
	readonly #handle: fs.FileHandle | undefined;
	// The synchronous kind's descriptor.
	readonly #sync: SyncDescriptor | undefined;

	private constructor(file: string, handle: fs.FileHandle | undefined, fd = -1) {
		this.path = file;
		this.#handle = handle;
		this.#sync = handle ? undefined : new SyncDescriptor(file, fd);
	}

	/**
	 * Open (creating with mode 0600 when missing) without truncating, so a resume keeps its bytes.
	 * `exclusive`: only create it; a file already there fails with EEXIST.
	 */
	static async open(file: string, {exclusive = false} = {}): Promise<FileOutput> {
		const handle = await fs.open(file, outputFlags(exclusive), 0o600);
		return new FileOutput(file, handle);
	}

	/** `open`, its calls synchronous from then on. */
	static openSync(file: string, {exclusive = false} = {}): FileOutput {
		return new FileOutput(file, undefined, fsSync.openSync(file, outputFlags(exclusive), 0o600));
	}

	/** Whether the name `file` still leads to the file this output writes (not removed or replaced since). */
	async isAt(file: string): Promise<boolean> {
		return this.#handle ? sameFile(await this.#handle.stat(), file) : sameFileSync(fsSync.fstatSync(this.#sync!.fd), file);
	}

	async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<void> {
		let done = 0;
		while (done < length) {
			done += this.#handle ? (await this.#handle.write(buffer, offset + done, length - done, position + done)).bytesWritten : fsSync.writeSync(this.#sync!.fd, buffer, offset + done, length - done, position + done);
		}
	}

	async sync(): Promise<void> {
		if (this.#handle) await this.#handle.datasync();
		else fsSync.fdatasyncSync(this.#sync!.fd);
	}

	async truncate(length: number): Promise<void> {
		if (this.#handle) await this.#handle.truncate(length);
		else fsSync.ftruncateSync(this.#sync!.fd, length);
	}

	async size(): Promise<number> {
		return (await this.stat()).size;
	}

	/** The open file's status (its identity, whatever its name leads to now). */
	async stat(): Promise<Stats> {
		return this.#handle ? this.#handle.stat() : fsSync.fstatSync(this.#sync!.fd);
	}

	async close(): Promise<void> {
		if (this.#handle) await this.#handle.close();
		else this.#sync!.close();
	}
}

function outputFlags(exclusive: boolean): number {
	return fsSync.constants.O_RDWR | fsSync.constants.O_CREAT | (exclusive ? fsSync.constants.O_EXCL : 0);
}

/** Thrown for a bad input or output path; exit code 1 with the message. */
export class InputError extends Error {
	override name = 'InputError';
}

/** Check that `file` is a readable regular file; returns its size. */
export async function checkReadableFile(file: string): Promise<number> {
	let stat;
	try {
		stat = await fs.stat(file);
	} catch (error) {
		throw unreadableError(file, error);
	}

	checkRegularFile(file, stat);
	try {
		await fs.access(file, fs.constants.R_OK);
	} catch {
		throw new InputError(`${file}: permission denied (cannot read it)`);
	}

	return stat.size;
}

/** `checkReadableFile`, synchronously (a batch's small files: the calls take microseconds). */
export function checkReadableFileSync(file: string): number {
	let stat;
	try {
		stat = fsSync.statSync(file);
	} catch (error) {
		throw unreadableError(file, error);
	}

	checkRegularFile(file, stat);
	try {
		fsSync.accessSync(file, fsSync.constants.R_OK);
	} catch {
		throw new InputError(`${file}: permission denied (cannot read it)`);
	}

	return stat.size;
}

/** The error for an input whose stat failed. */
function unreadableError(file: string, error: unknown): InputError {
	if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new InputError(`${file}: no such file`);
	return new InputError(`${file}: ${(error as Error).message}`);
}

/** Refuse an input that is not a regular file (a directory names --recursive). */
function checkRegularFile(file: string, stat: Stats): void {
	if (stat.isDirectory()) throw new InputError(`${file} is a directory, not a file (for a directory of files use --recursive)`);
	if (!stat.isFile()) throw new InputError(`${file} is not a regular file`);
}

/** `exists`, synchronously. */
export function existsSync(file: string): boolean {
	try {
		return fsSync.lstatSync(file, {throwIfNoEntry: false}) !== undefined;
	} catch {
		return false;
	}
}

/** True when a path exists (any kind). */
export async function exists(file: string): Promise<boolean> {
	try {
		await fs.lstat(file);
		return true;
	} catch {
		return false;
	}
}

/** Whether `file` is the file `stats` describe (same device and inode); false when it is gone. */
export async function sameFile(stats: {dev: number; ino: number}, file: string): Promise<boolean> {
	try {
		const there = await fs.stat(file);
		return there.dev === stats.dev && there.ino === stats.ino;
	} catch {
		return false;
	}
}

/** `sameFile`, synchronously. */
export function sameFileSync(stats: {dev: number; ino: number}, file: string): boolean {
	try {
		const there = fsSync.statSync(file);
		return there.dev === stats.dev && there.ino === stats.ino;
	} catch {
		return false;
	}
}

/** Thrown when the output (or its partial output) exists and --force was not given. */
export class OutputExistsError extends Error {
	override name = 'OutputExistsError';
}

/**
 * The error for a partial output that a new job finds already there: another cage process started
 * on the same output at the same moment, or a job was killed before its first checkpoint.
 */
export function partialExistsError(partial: string, output: string): OutputExistsError {
	return new OutputExistsError(
		`${partial} already exists: another cage process is writing ${output} now, or an earlier job was killed before its first checkpoint; if no cage process is writing it, run the command again with --force (it replaces ${partial})`,
	);
}

/** What a new job's exclusive creation of its partial output failed with (EEXIST: partialExistsError). */
export function newPartialError(error: unknown, partial: string, output: string): unknown {
	return (error as NodeJS.ErrnoException).code === 'EEXIST' ? partialExistsError(partial, output) : error;
}

/**
 * The error for a partial output whose name led to another file by the time the job finished: a
 * second cage process replaced it (a `--force` start), so this job's result is not kept.
 */
export function partialReplacedError(partial: string, output: string): JobError {
	return new JobError(`${partial} was replaced by another cage process while this job ran (a start with --force?); this job's result was not kept, and ${output} is left to that process`);
}

/** fsync a directory so a rename in it is durable; file systems that refuse this are harmless. */
export async function syncDirectory(directory: string): Promise<void> {
	try {
		const handle = await fs.open(directory, 'r');
		try {
			await handle.sync();
		} finally {
			await handle.close();
		}
	} catch {
		// Some file systems refuse fsync on a directory; the rename itself still happened.
	}
}

/** `syncDirectory`, synchronously (a small job's rename: a few microseconds on most disks). */
export function syncDirectorySync(directory: string): void {
	let fd: number | undefined;
	try {
		fd = fsSync.openSync(directory, 'r');
		fsSync.fsyncSync(fd);
	} catch {
		// As syncDirectory: a file system that refuses it has still done the rename.
	} finally {
		if (fd !== undefined) fsSync.closeSync(fd);
	}
}
