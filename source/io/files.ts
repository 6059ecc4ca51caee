/**
 * Positioned file input and output for processors that run on the main thread, plus the small
 * file-system checks every command makes before it starts work, and the directory fsync that makes
 * a rename durable.
 */
import type {Stats} from 'node:fs';
import fs from 'node:fs/promises';
import type {ChunkInput, ChunkOutput} from '../chunker/processor.js';
import {JobError} from '../errors.js';

/** A ChunkInput over a file. */
export class FileInput implements ChunkInput {
	readonly path: string;
	readonly size: number;
	readonly #handle: fs.FileHandle;

	private constructor(file: string, handle: fs.FileHandle, size: number) {
		this.path = file;
		this.#handle = handle;
		this.size = size;
	}

	static async open(file: string): Promise<FileInput> {
		const handle = await fs.open(file, 'r');
		const stat = await handle.stat();
		return new FileInput(file, handle, stat.size);
	}

	async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
		const {bytesRead} = await this.#handle.read(buffer, offset, length, position);
		return bytesRead;
	}

	async close(): Promise<void> {
		await this.#handle.close();
	}
}

/** A ChunkOutput over a file opened for positioned writes without truncation. */
export class FileOutput implements ChunkOutput {
	readonly path: string;
	readonly #handle: fs.FileHandle;

	private constructor(file: string, handle: fs.FileHandle) {
		this.path = file;
		this.#handle = handle;
	}

	/**
	 * Open (creating with mode 0600 when missing) without truncating, so a resume keeps its bytes.
	 * `exclusive`: only create it; a file already there fails with EEXIST.
	 */
	static async open(file: string, {exclusive = false} = {}): Promise<FileOutput> {
		const handle = await fs.open(file, fs.constants.O_RDWR | fs.constants.O_CREAT | (exclusive ? fs.constants.O_EXCL : 0), 0o600);
		return new FileOutput(file, handle);
	}

	/** Whether the name `file` still leads to the file this output writes (not removed or replaced since). */
	async isAt(file: string): Promise<boolean> {
		return sameFile(await this.#handle.stat(), file);
	}

	async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<void> {
		let done = 0;
		while (done < length) {
			const {bytesWritten} = await this.#handle.write(buffer, offset + done, length - done, position + done);
			done += bytesWritten;
		}
	}

	async sync(): Promise<void> {
		await this.#handle.datasync();
	}

	async truncate(length: number): Promise<void> {
		await this.#handle.truncate(length);
	}

	async size(): Promise<number> {
		return (await this.#handle.stat()).size;
	}

	/** The open file's status (its identity, whatever its name leads to now). */
	async stat(): Promise<Stats> {
		return this.#handle.stat();
	}

	async close(): Promise<void> {
		await this.#handle.close();
	}
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
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT') throw new InputError(`${file}: no such file`);
		throw new InputError(`${file}: ${(error as Error).message}`);
	}

	if (stat.isDirectory()) throw new InputError(`${file} is a directory, not a file (for a directory of files use --recursive)`);
	if (!stat.isFile()) throw new InputError(`${file} is not a regular file`);
	try {
		await fs.access(file, fs.constants.R_OK);
	} catch {
		throw new InputError(`${file}: permission denied (cannot read it)`);
	}

	return stat.size;
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
