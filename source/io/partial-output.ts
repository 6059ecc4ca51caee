/**
 * A job's partial output, the one mechanism every writer uses (file jobs, streams, lock and
 * unlock): `OUTPUT.partial` is created exclusively with mode 0600 (or, for a resume, opened as the
 * job left it) and its identity recorded at once; it takes OUTPUT's name only while its own name
 * still leads to that file, and it is removed only while it does. A second cage process that
 * replaced it in the meantime (a start with --force) keeps its file, and this job's result is not
 * put in place. A small job's partial output (`sync`) makes the same calls synchronously: each is
 * microseconds, where a trip to libuv's thread pool and back costs a hundred.
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {FileOutput, newPartialError, partialReplacedError, sameFile, sameFileSync, syncDirectory, syncDirectorySync} from './files.js';
import {identityOf, identityOfSync, type WrittenIdentity} from './identity.js';

/** Which file a partial output is: device and inode, taken from the open descriptor. */
export type PartialIdentity = {dev: number; ino: number};

const createFlags = fsSync.constants.O_RDWR | fsSync.constants.O_CREAT;

/** The partial output of one job: its name, the output it becomes, and the file it is. */
export class PartialOutput {
	readonly path: string;
	readonly output: string;
	readonly identity: PartialIdentity;
	readonly #sync: boolean;

	private constructor(partial: string, output: string, identity: PartialIdentity, sync = false) {
		this.path = partial;
		this.output = output;
		this.identity = {dev: identity.dev, ino: identity.ino};
		this.#sync = sync;
	}

	/**
	 * Create `partial` for `output`, exclusively: a second process that starts on the same output at
	 * the same moment is refused (partialExistsError). `reuse`: a file already there is this job's
	 * own (a batch's item it was running when it crashed) and is taken over, not refused.
	 */
	static async create(partial: string, output: string, {reuse = false, sync = false} = {}): Promise<{partial: PartialOutput; file: FileOutput}> {
		if (sync) {
			let file: FileOutput;
			try {
				file = FileOutput.openSync(partial, {exclusive: !reuse});
			} catch (error) {
				throw newPartialError(error, partial, output);
			}

			return {partial: new PartialOutput(partial, output, await file.stat(), true), file};
		}

		const file = await FileOutput.open(partial, {exclusive: !reuse}).catch((error: unknown) => {
			throw newPartialError(error, partial, output);
		});
		return {partial: new PartialOutput(partial, output, await file.stat()), file};
	}

	/** The same for a writer that needs a plain descriptor (a stream): created exclusively, never reused. */
	static createSync(partial: string, output: string): {partial: PartialOutput; fd: number} {
		let fd: number;
		try {
			fd = fsSync.openSync(partial, createFlags | fsSync.constants.O_EXCL, 0o600);
		} catch (error) {
			throw newPartialError(error, partial, output);
		}

		return {partial: new PartialOutput(partial, output, fsSync.fstatSync(fd)), fd};
	}

	/** Open the partial output an interrupted job left, to continue it (a resume). */
	static async open(partial: string, output: string): Promise<{partial: PartialOutput; file: FileOutput}> {
		const file = await FileOutput.open(partial);
		return {partial: new PartialOutput(partial, output, await file.stat()), file};
	}

	/** Whether the partial output's name still leads to this job's file. */
	async isOurs(): Promise<boolean> {
		return this.#sync ? sameFileSync(this.identity, this.path) : sameFile(this.identity, this.path);
	}

	/**
	 * Put the finished file (written, synced and closed by the caller) in place: only while it is
	 * still ours, else partialReplacedError. `beforeRename` gets the identity the file keeps through
	 * the rename and may refuse (throw), e.g. when a file appeared at OUTPUT that may not be replaced.
	 * The directory is synced, so the rename is durable when this returns.
	 */
	async commit({beforeRename}: {beforeRename?: (written: WrittenIdentity) => Promise<void>} = {}): Promise<void> {
		if (!(await this.isOurs())) throw partialReplacedError(this.path, this.output);
		if (beforeRename) {
			const {ctimeMs: _moves, ...written} = (this.#sync ? identityOfSync(this.path) : await identityOf(this.path))!;
			await beforeRename(written);
		}

		const directory = path.dirname(path.resolve(this.output));
		if (this.#sync) {
			fsSync.renameSync(this.path, this.output);
			syncDirectorySync(directory);
			return;
		}

		await fs.rename(this.path, this.output);
		await syncDirectory(directory);
	}

	/** Remove the partial output if it is still ours (never a file another process put there). Returns whether it did. */
	async discard(): Promise<boolean> {
		if (!(await this.isOurs())) return false;
		await fs.rm(this.path, {force: true});
		return true;
	}

	/** The same, synchronously (a stream's last clean-up). */
	discardSync(): void {
		try {
			const there = fsSync.statSync(this.path);
			if (there.dev === this.identity.dev && there.ino === this.identity.ino) fsSync.rmSync(this.path, {force: true});
		} catch {
			// Gone already (renamed into place, or removed).
		}
	}
}
