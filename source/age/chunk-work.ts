/**
 * The work of one chunk task (pool.ts's WorkerTask): encrypt or decrypt its blocks at computed
 * offsets with node's native ChaCha20-Poly1305, reading and writing in bounded spans by position,
 * or read back what an output holds there. A worker thread (worker.ts) runs it for large inputs;
 * the pool runs it on the main thread for inputs of a few blocks, where starting a thread would
 * cost more than the work. Nothing is written anywhere but the output file.
 */
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import {faultActive} from '../io/fault.js';
import {chunkDigest, digestKey} from './chunk-digest.js';
import {authenticateRange, blockRange, blockSize, decryptRange, encryptedBlockSize, encryptRange, tagSize} from './stream.js';
import type {Xxh3Sum} from './xxh3.js';
import type {TaskResult, WorkerTask} from './pool.js';

/** Plaintext blocks per read: 1 MiB, so memory per runner stays small whatever the chunk size. */
export const blocksPerRead = 16;

/** What a task obeys: pause, abort and the rate limit, before each span (SharedControl.gateSync). */
export type ChunkGate = {gateSync(bytes: number): void};

/** Where a task reports: bytes done so far within the task, and each span's plaintext bytes. */
export type ChunkReport = {progress(bytes: number): void; span?(bytes: number): void};


/**
 * Runs chunk tasks one after another with one set of buffers and the files it has open; one per
 * thread. `closeFiles` between jobs (a batch's next file is not the last one's).
 */
export class ChunkWork {
	readonly #newSum: () => Xxh3Sum;
	readonly #readFds = new Map<string, number>();
	readonly #writeFds = new Map<string, number>();
	readonly #plainBuffer = Buffer.allocUnsafe(blocksPerRead * blockSize);
	readonly #cipherBuffer = Buffer.allocUnsafe(blocksPerRead * encryptedBlockSize);
	// What a resume reads back from the partial output; only runners that verify allocate it.
	#compareBuffer: Buffer | undefined;
	// The crash tests' way to catch a resume in the middle of its check (io/fault.ts).
	readonly #slowCheck = faultActive('slow-check');

	/** `newSum`: XXH3 of the bytes a chunk wrote, keyed afterwards (chunk-digest.ts). */
	constructor(newSum: () => Xxh3Sum) {
		this.#newSum = newSum;
	}

	/** Run one task to its end. */
	run(task: WorkerTask, gate: ChunkGate, report: ChunkReport): TaskResult {
		const key = Buffer.from(task.key);
		if (task.op === 'digest-encrypt' || task.op === 'digest-decrypt') return {mac: '', digest: this.#digestOutput(task, key, gate, report)};
		if (task.op === 'sha256') return {mac: '', digest: this.#sha256Range(task, gate, report)};
		const mac = createHash('sha256');
		// What this chunk wrote, as written: a resume after a crash checks the partial output against it
		// (a job without a checkpoint has no resume, and skips it: XXH3 of every byte).
		const written = task.noDigest && (task.op === 'encrypt' || task.op === 'decrypt') ? undefined : this.#newSum();
		const inFd = this.#fdFor(task.input, false);
		const verify = task.op === 'verify-encrypt' || task.op === 'verify-decrypt';
		// authenticate: every tag checked, nothing written or compared (cage verify).
		const discard = task.op === 'authenticate';
		const outFd = discard ? -1 : this.#fdFor(task.output, !verify);
		const cipherSum = discard && task.sha256 ? createHash('sha256') : undefined;
		// verify-*: does the output still hold, block for block, what this chunk gives now?
		let matches = true;
		const totalBlocks = Math.max(1, Math.ceil(task.plainTotal / blockSize));
		let plainPos = task.plainStart;
		let reported = 0;
		// An empty file still has one (empty, final) block.
		const firstCounter = Math.floor(task.plainStart / blockSize);
		const endCounter = task.plainEnd === task.plainTotal ? totalBlocks : task.plainEnd / blockSize;
		for (let counter = firstCounter; counter < endCounter; counter += blocksPerRead) {
			const blocks = Math.min(blocksPerRead, endCounter - counter);
			const final = counter + blocks === totalBlocks;
			const plainLength = Math.min(blocks * blockSize, task.plainTotal - counter * blockSize);
			gate.gateSync(plainLength);
			const cipherLength = plainLength + blocks * tagSize;
			// The Poly1305 tags are MACs of the plaintext under the file key; hashing them gives a keyed
			// MAC of the chunk for free, which a resume recomputes to prove the source unchanged.
			const hashTags = (cipher: Buffer) => {
				for (let block = 0; block < blocks; block++) {
					const end = Math.min((block + 1) * encryptedBlockSize, cipherLength);
					mac.update(cipher.subarray(end - tagSize, end));
				}
			};

			if (task.op === 'encrypt' || task.op === 'verify-encrypt') {
				const plain = readFully(inFd, this.#plainBuffer, plainLength, task.inOffset + counter * blockSize, task.input);
				const cipher = encryptRange(key, plain, counter, final, this.#cipherBuffer);
				const position = task.outOffset + counter * encryptedBlockSize;
				hashTags(cipher);
				written?.update(cipher);
				if (!verify) writeFully(outFd, cipher, position);
				else if (matches) matches = this.#holds(outFd, cipher, position, task.output);
			} else {
				const cipher = readFully(inFd, this.#cipherBuffer, cipherLength, task.inOffset + counter * encryptedBlockSize, task.input);
				cipherSum?.update(cipher);
				hashTags(cipher);
				// authenticate: the tags are checked, nothing is done with the plaintext.
				if (discard) authenticateRange(key, cipher, counter, final);
				else {
					const plain = decryptRange(key, cipher, counter, final, this.#plainBuffer);
					const position = task.outOffset + counter * blockSize;
					written?.update(plain);
					if (!verify) writeFully(outFd, plain, position);
					else if (matches) matches = this.#holds(outFd, plain, position, task.output);
				}
			}

			plainPos += plainLength;
			report.span?.(plainLength);
			if (plainPos - reported >= 8 * blocksPerRead * blockSize || counter + blocks >= endCounter) {
				reported = plainPos;
				report.progress(plainPos - task.plainStart);
			}
		}

		const digest = cipherSum ? cipherSum.digest('hex') : written ? chunkDigest(digestKey(key), task.plainStart, written.digest()) : '';
		return {mac: mac.digest('hex'), digest, ...(verify ? {matches} : {})};
	}

	/** SHA-256 (hex) of input bytes [plainStart, plainEnd), read as they are: no key, nothing decrypted. */
	#sha256Range(task: WorkerTask, gate: ChunkGate, report: ChunkReport): string {
		const fd = this.#fdFor(task.input, false);
		const sum = createHash('sha256');
		const buffer = this.#cipherBuffer;
		for (let position = task.plainStart; position < task.plainEnd; position += buffer.length) {
			const length = Math.min(buffer.length, task.plainEnd - position);
			gate.gateSync(length);
			sum.update(readFully(fd, buffer, length, position, task.input));
			report.progress(position + length - task.plainStart);
		}

		return sum.digest('hex');
	}

	/** Close the files earlier tasks opened (a new job, or the runner closing). */
	closeFiles(): void {
		for (const fd of [...this.#readFds.values(), ...this.#writeFds.values()]) fs.closeSync(fd);
		this.#readFds.clear();
		this.#writeFds.clear();
	}

	#fdFor(file: string, write: boolean): number {
		const cache = write ? this.#writeFds : this.#readFds;
		let fd = cache.get(file);
		if (fd === undefined) {
			fd = fs.openSync(file, write ? fs.constants.O_WRONLY : fs.constants.O_RDONLY);
			cache.set(file, fd);
		}

		return fd;
	}

	/** Whether `fd` holds exactly `expected` at `position` (false when the file ends before). */
	#holds(fd: number, expected: Buffer, position: number, file: string): boolean {
		this.#compareBuffer ??= Buffer.allocUnsafe(blocksPerRead * encryptedBlockSize);
		try {
			return readFully(fd, this.#compareBuffer, expected.length, position, file).equals(expected);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ESHRANK') return false;
			throw error;
		}
	}

	/**
	 * The digest of what the output holds where the chunk's bytes go (ciphertext for an encryption,
	 * plaintext for a decryption), '' when the output ends before them: read back, nothing computed
	 * but the checksum, so a resume checks a committed prefix far faster than it could redo it.
	 */
	#digestOutput(task: WorkerTask, key: Buffer, gate: ChunkGate, report: ChunkReport): string {
		const fd = this.#fdFor(task.output, false);
		const {cipherStart, cipherEnd} = blockRange(task.plainStart, task.plainEnd, task.plainTotal);
		const [start, end] = task.op === 'digest-encrypt' ? [task.outOffset + cipherStart, task.outOffset + cipherEnd] : [task.outOffset + task.plainStart, task.outOffset + task.plainEnd];
		const sum = this.#newSum();
		const buffer = this.#cipherBuffer;
		for (let position = start; position < end; position += buffer.length) {
			const length = Math.min(buffer.length, end - position);
			// Not under the rate limit: a resume after a crash checks its prefix at full speed, so that a
			// job killed again and again still gets past it to new work. (Pause and abort still count.)
			gate.gateSync(0);
			if (this.#slowCheck) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
			try {
				sum.update(readFully(fd, buffer, length, position, task.output));
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code === 'ESHRANK') return '';
				throw error;
			}

			report.progress(position + length - start);
		}

		return chunkDigest(digestKey(key), task.plainStart, sum.digest());
	}
}

function readFully(fd: number, buffer: Buffer, length: number, position: number, file: string): Buffer {
	let done = 0;
	while (done < length) {
		const read = fs.readSync(fd, buffer, done, length - done, position + done);
		if (read === 0) {
			throw Object.assign(new Error(`${file}: unexpected end of file at byte ${position + done} (the file shrank while being read)`), {code: 'ESHRANK'});
		}

		done += read;
	}

	return buffer.subarray(0, length);
}

function writeFully(fd: number, buffer: Uint8Array, position: number): void {
	let done = 0;
	while (done < buffer.length) done += fs.writeSync(fd, buffer, done, buffer.length - done, position + done);
}
