/**
 * A worker thread of the age engine: encrypts or decrypts one chunk's blocks at computed offsets
 * with node's native ChaCha20-Poly1305, reading and writing in bounded blocks by position. The
 * payload key arrives per task; nothing is written anywhere but the output file.
 */
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import {parentPort} from 'node:worker_threads';
import {AbortedError, SharedControl} from '../chunker/control.js';
import {faultActive} from '../io/fault.js';
import {chunkDigest, digestKey} from './chunk-digest.js';
import {blockRange, blockSize, decryptRange, encryptedBlockSize, encryptRange, tagSize} from './stream.js';
import {loadXxh3, type Xxh3Sum} from './xxh3.js';
import type {TaskResult, WorkerReply, WorkerSetup, WorkerTask} from './pool.js';

/** Plaintext blocks per read: 1 MiB, so memory per worker stays small whatever the chunk size. */
const blocksPerRead = 16;

// Set by the pool's first message (a worker may boot before its pool exists: warm-workers.ts).
let control: SharedControl | undefined;

// node's cipher returns a fresh 64 KiB buffer per block; V8 frees them only when it feels memory
// pressure, which lets a worker hold tens of MiB of dead buffers. Collecting the young generation
// every few MiB keeps peak memory flat for a fraction of a millisecond each time.
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as (options?: {type: 'minor' | 'major'}) => void;
const collectEvery = 4 * 1024 * 1024;
let sinceCollect = 0;
const readFds = new Map<string, number>();
const writeFds = new Map<string, number>();
const plainBuffer = Buffer.allocUnsafe(blocksPerRead * blockSize);
const cipherBuffer = Buffer.allocUnsafe(blocksPerRead * encryptedBlockSize);
// What a resume reads back from the partial output; only workers that verify allocate it.
let compareBuffer: Buffer | undefined;
// XXH3 of the bytes a chunk wrote, keyed afterwards (chunk-digest.ts); loaded once per thread,
// before the first task needs it.
const hasherReady = loadXxh3();
let newSum: (() => Xxh3Sum) | undefined;
// The crash tests' way to catch a resume in the middle of its check (io/fault.ts).
const slowCheck = faultActive('slow-check');

function fdFor(file: string, write: boolean): number {
	const cache = write ? writeFds : readFds;
	let fd = cache.get(file);
	if (fd === undefined) {
		fd = fs.openSync(file, write ? fs.constants.O_WRONLY : fs.constants.O_RDONLY);
		cache.set(file, fd);
	}

	return fd;
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

/** Whether `fd` holds exactly `expected` at `position` (false when the file ends before). */
function holds(fd: number, expected: Buffer, position: number, file: string): boolean {
	compareBuffer ??= Buffer.allocUnsafe(blocksPerRead * encryptedBlockSize);
	try {
		return readFully(fd, compareBuffer, expected.length, position, file).equals(expected);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ESHRANK') return false;
		throw error;
	}
}

function writeFully(fd: number, buffer: Uint8Array, position: number): void {
	let done = 0;
	while (done < buffer.length) done += fs.writeSync(fd, buffer, done, buffer.length - done, position + done);
}

function run(task: WorkerTask): TaskResult {
	if (!control) throw new Error('age worker: a task arrived before the pool sent its control');
	const key = Buffer.from(task.key);
	if (task.op === 'digest-encrypt' || task.op === 'digest-decrypt') return {mac: '', digest: digestOutput(task, key)};
	const mac = createHash('sha256');
	// What this chunk wrote, as written: a resume after a crash checks the partial output against it.
	const written = newSum!();
	const inFd = fdFor(task.input, false);
	const verify = task.op === 'verify-encrypt' || task.op === 'verify-decrypt';
	const outFd = fdFor(task.output, !verify);
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
		control.gateSync(plainLength);
		const cipherLength = plainLength + blocks * tagSize;
		let cipher: Buffer;
		if (task.op === 'encrypt' || task.op === 'verify-encrypt') {
			const plain = readFully(inFd, plainBuffer, plainLength, task.inOffset + counter * blockSize, task.input);
			cipher = encryptRange(key, plain, counter, final, cipherBuffer);
			const position = task.outOffset + counter * encryptedBlockSize;
			if (!verify) writeFully(outFd, cipher, position);
			else if (matches) matches = holds(outFd, cipher, position, task.output);
			written.update(cipher);
		} else {
			cipher = readFully(inFd, cipherBuffer, cipherLength, task.inOffset + counter * encryptedBlockSize, task.input);
			const plain = decryptRange(key, cipher, counter, final, plainBuffer);
			const position = task.outOffset + counter * blockSize;
			if (!verify) writeFully(outFd, plain, position);
			else if (matches) matches = holds(outFd, plain, position, task.output);
			written.update(plain);
		}

		// The Poly1305 tags are MACs of the plaintext under the file key; hashing them gives a keyed
		// MAC of the chunk for free, which a resume recomputes to prove the source unchanged.
		for (let block = 0; block < blocks; block++) {
			const end = Math.min((block + 1) * encryptedBlockSize, cipherLength);
			mac.update(cipher.subarray(end - tagSize, end));
		}

		plainPos += plainLength;
		sinceCollect += plainLength;
		if (sinceCollect >= collectEvery) {
			sinceCollect = 0;
			collect({type: 'minor'});
		}

		if (plainPos - reported >= 8 * blocksPerRead * blockSize || counter + blocks >= endCounter) {
			reported = plainPos;
			parentPort!.postMessage({id: task.id, type: 'progress', bytes: plainPos - task.plainStart} satisfies WorkerReply);
		}
	}

	return {mac: mac.digest('hex'), digest: chunkDigest(digestKey(key), task.plainStart, written.digest()), ...(verify ? {matches} : {})};
}

/**
 * The digest of what the output holds where the chunk's bytes go (ciphertext for an encryption,
 * plaintext for a decryption), '' when the output ends before them: read back, nothing computed
 * but the checksum, so a resume checks a committed prefix far faster than it could redo it.
 */
function digestOutput(task: WorkerTask, key: Buffer): string {
	const fd = fdFor(task.output, false);
	const {cipherStart, cipherEnd} = blockRange(task.plainStart, task.plainEnd, task.plainTotal);
	const [start, end] = task.op === 'digest-encrypt' ? [task.outOffset + cipherStart, task.outOffset + cipherEnd] : [task.outOffset + task.plainStart, task.outOffset + task.plainEnd];
	const sum = newSum!();
	const buffer = cipherBuffer;
	for (let position = start; position < end; position += buffer.length) {
		const length = Math.min(buffer.length, end - position);
		// Not under the rate limit: a resume after a crash checks its prefix at full speed, so that a
		// job killed again and again still gets past it to new work. (Pause and abort still count.)
		control!.gateSync(0);
		if (slowCheck) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
		try {
			sum.update(readFully(fd, buffer, length, position, task.output));
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ESHRANK') return '';
			throw error;
		}

		parentPort!.postMessage({id: task.id, type: 'progress', bytes: position + length - start} satisfies WorkerReply);
	}

	return chunkDigest(digestKey(key), task.plainStart, sum.digest());
}

/** Close the files earlier tasks opened (a new job, or the pool closing). */
function closeFiles(): void {
	for (const fd of [...readFds.values(), ...writeFds.values()]) fs.closeSync(fd);
	readFds.clear();
	writeFds.clear();
}

// Messages are handled one after another, in order (the first task waits for the hasher).
let queue: Promise<void> = Promise.resolve();

parentPort!.on('message', (message: WorkerTask | WorkerSetup) => {
	queue = queue.then(async () => {
		newSum ??= (await hasherReady).create;
		handle(message);
	});
});

function handle(message: WorkerTask | WorkerSetup): void {
	if ('type' in message && message.type === 'control') {
		// A new control is a new job (a batch's next file): its files are not the last one's.
		closeFiles();
		control = new SharedControl(message.control);
		return;
	}

	if ('type' in message) {
		closeFiles();
		parentPort!.postMessage({type: 'closed'});
		return;
	}

	try {
		parentPort!.postMessage({id: message.id, type: 'done', ...run(message)} satisfies WorkerReply);
	} catch (error) {
		const error_ = error as Error & {code?: string; counter?: number};
		parentPort!.postMessage({
			id: message.id,
			type: 'error',
			name: error_ instanceof AbortedError ? 'AbortedError' : error_.name,
			message: error_.message,
			...(typeof error_.code === 'string' ? {code: error_.code} : {}),
			...(typeof error_.counter === 'number' ? {counter: error_.counter} : {}),
		} satisfies WorkerReply);
	}
}
