/**
 * The read-back of a locked file: every block of FILE.age read again and authenticated with the
 * payload key the job held, before the original is removed. Read with O_DIRECT where the file
 * system allows it, so what is checked is what reached the device, not the page cache; where it
 * does not (tmpfs, some network and FUSE file systems), from the cache, and the result says which.
 */
import {createHash} from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {authenticateRange, blockSize, blockSpans, encryptedBlockSize, encryptRange, plaintextSizeOf, tagSize} from '../age/stream.js';

/** Where the read-back read from: the device (O_DIRECT) or the page cache. */
export type ReadBackSource = 'device' | 'cache';

/** What a read-back checked. */
export type ReadBack = {source: ReadBackSource; blocks: number; bytes: number};

/** O_DIRECT wants block-aligned offsets, lengths and memory: 4 KiB covers every usual device. */
const alignment = 4096;
const alignDown = (value: number) => value - (value % alignment);
const alignUp = (value: number) => Math.ceil(value / alignment) * alignment;
/** Bytes read at once: a whole number of alignment units. */
const readSize = 8 * 1024 * 1024;

/**
 * A buffer of `size` bytes whose memory is aligned for O_DIRECT, found by trying (JavaScript cannot
 * see addresses). `probeAt` must hold data: a read of a hole of a sparse file does no I/O and
 * takes any buffer (a low-space unlock's first read-back found a misaligned one so, then failed).
 */
async function alignedBuffer(handle: fs.FileHandle, size: number, probeAt: number): Promise<Buffer | undefined> {
	const backing = Buffer.allocUnsafeSlow(size + alignment);
	// Memory is at least 16-byte aligned: one of these offsets is 4096-aligned; a misaligned read fails with EINVAL.
	for (let offset = 0; offset < alignment; offset += 16) {
		const candidate = backing.subarray(offset, offset + size);
		try {
			await handle.read(candidate, 0, alignment, probeAt);
			return candidate;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
		}
	}

	return undefined;
}

/** tmpfs and ramfs (statfs magic): memory is all there is; O_DIRECT there, where taken at all, still reads the cache. */
const memoryFileSystems = new Set([0x01_02_19_94, 0x85_84_58_f6]);

/** Whether a read-back of files in `directory` can read from the device (O_DIRECT), as far as its file system type tells. */
export function deviceReadBackPossible(directory: string): boolean {
	if (fsSync.constants.O_DIRECT === undefined) return false;
	try {
		return !memoryFileSystems.has(fsSync.statfsSync(directory).type);
	} catch {
		return false;
	}
}

/** Aligned buffers found once, reused by every read-back of the process (one runs at a time). */
let directBuffers: Buffer[] | undefined;
let cacheBuffers: Buffer[] | undefined;

/** Open `file` for the read-back (of data at `probeAt` on): with O_DIRECT and aligned buffers when the file system takes them, else plainly. */
async function openForReadBack(file: string, probeAt: number): Promise<{handle: fs.FileHandle; buffers: Buffer[]; source: ReadBackSource; size: number}> {
	const direct = fsSync.constants.O_DIRECT;
	const fileSize = (await fs.stat(file)).size;
	// Reads no longer than the file needs (still whole alignment units).
	const size = Math.max(alignment, Math.min(readSize, Math.ceil(fileSize / alignment) * alignment));
	if (direct !== undefined && deviceReadBackPossible(path.dirname(file))) {
		const handle = await fs.open(file, fsSync.constants.O_RDONLY | direct).catch(() => undefined);
		if (handle) {
			if (!directBuffers) {
				const first = await alignedBuffer(handle, readSize, alignDown(probeAt)).catch(() => undefined);
				const second = first ? await alignedBuffer(handle, readSize, alignDown(probeAt)).catch(() => undefined) : undefined;
				if (first && second) directBuffers = [first, second];
			}

			if (directBuffers) return {handle, buffers: directBuffers, source: 'device', size};
			await handle.close();
		}
	}

	cacheBuffers ??= [Buffer.allocUnsafeSlow(readSize), Buffer.allocUnsafeSlow(readSize)];
	return {handle: await fs.open(file, 'r'), buffers: cacheBuffers, source: 'cache', size};
}

/** A run of whole ciphertext blocks in an age file: bytes [start, end), the first block's counter, whether it ends with the final block. */
export type BlockRange = {start: number; end: number; counter: number; final: boolean};


/**
 * Read `file` (an age file whose payload starts at `payload.offset`) back and authenticate every
 * block with `payload.key`; throws StreamAuthError naming the first block that fails, or an
 * AgeFormatError when the file is truncated or has trailing data. `stopped` is asked between
 * reads (an interruption ends the read-back; the caller keeps both files).
 */
export async function readBack(file: string, payload: {key: Buffer; offset: number}, stopped: () => boolean = () => false): Promise<ReadBack> {
	const size = (await fs.stat(file)).size;
	plaintextSizeOf(size - payload.offset, file);
	return readBackRange(file, payload.key, {start: payload.offset, end: size, counter: 0, final: true}, stopped);
}

/** The same for some blocks of the file only (a --low-space lock checks each chunk it writes). */
export async function readBackRange(file: string, key: Buffer, range: BlockRange, stopped: () => boolean = () => false): Promise<ReadBack> {
	const {handle, buffers, source, size: bufferSize} = await openForReadBack(file, range.start);
	try {
		const size = (await handle.stat()).size;
		if (range.end > size) throw new Error(`${file} is ${size} bytes, shorter than the ${range.end} the read-back expects`);
		let counter = range.counter;
		// Ciphertext read but not yet checked: it may end inside a block.
		let carry = Buffer.alloc(0);
		let position = alignDown(range.start);
		let turn = 0;
		const readAt = async (at: number, buffer: Buffer) => (at >= range.end ? 0 : (await handle.read(buffer, 0, bufferSize, at)).bytesRead);
		let pending = readAt(position, buffers[0]!);
		while (position < range.end) {
			if (stopped()) throw Object.assign(new Error(`the read-back of ${file} was interrupted`), {code: 'EINTR'});
			const buffer = buffers[turn]!;
			const bytes = await pending;
			if (bytes === 0) throw new Error(`${file} ended early during the read-back (it was ${size} bytes)`);
			const at = position;
			position += bytes;
			turn ^= 1;
			// The next read runs while this one is authenticated.
			pending = readAt(position, buffers[turn]!);
			let data = buffer.subarray(Math.max(0, range.start - at), Math.min(bytes, range.end - at));
			const last = position >= range.end;
			if (carry.length > 0) {
				// The block the last read cut: completed from this one and checked alone, so that the
				// rest is checked where it lies (no copy of the whole read).
				const taken = Math.min(encryptedBlockSize - carry.length, data.length);
				const joined = Buffer.concat([carry, data.subarray(0, taken)]);
				data = data.subarray(taken);
				if (joined.length < encryptedBlockSize && !last) {
					carry = joined;
					continue;
				}

				authenticateRange(key, joined, counter, last && data.length === 0 && range.final);
				counter += 1;
				carry = Buffer.alloc(0);
				if (data.length === 0) continue;
			}

			// Whole blocks now; at the range's end, all that is left (the final block may be short).
			const usable = last ? data.length : data.length - (data.length % encryptedBlockSize);
			if (usable > 0) {
				authenticateRange(key, data.subarray(0, usable), counter, last && range.final);
				counter += Math.ceil(usable / encryptedBlockSize);
			}

			carry = Buffer.from(data.subarray(usable));
		}

		// An empty payload (an empty file) is one empty final block.
		if (counter === range.counter && range.start === range.end && range.final) {
			authenticateRange(key, Buffer.alloc(0), counter, true);
			counter += 1;
		}

		await pending;
		return {source, blocks: counter - range.counter, bytes: range.end - range.start};
	} finally {
		await handle.close();
	}
}

/** SHA-256 (hex) of the tags of whole encrypted blocks `cipher` (the last may be short): the chunk MAC the workers compute (chunk-work.ts). */
export function hashTags(cipher: Buffer, sum = createHash('sha256')): ReturnType<typeof createHash> {
	const blocks = Math.ceil(cipher.length / encryptedBlockSize);
	for (let block = 0; block < blocks; block++) {
		const end = Math.min((block + 1) * encryptedBlockSize, cipher.length);
		sum.update(cipher.subarray(end - tagSize, end));
	}

	return sum;
}

/** The proof of one chunk a --low-space unlock wrote: the SHA-256 of the tag digests of its `parts` spans (blockSpans), in order. */
export type ChunkProof = {parts: number; tags: string};

/** Combine the spans' tag digests (the workers' chunk MACs) into a chunk's proof. */
export function proofOf(macs: string[]): ChunkProof {
	return {parts: macs.length, tags: createHash('sha256').update(macs.join('\n')).digest('hex')};
}

/**
 * The read-back of plaintext a --low-space unlock wrote: bytes [start, end) of `file` (block
 * `counter` onward; `final`: the range ends with the stream's last block) read again from the
 * device where the file system allows it, encrypted again under the payload key, span by span as
 * the workers decrypted it, and the digest of their tags compared with `proof`, made from the
 * ciphertext the decrypt authenticated. Equal, the plaintext on disk is exactly what that
 * ciphertext holds; else it throws.
 */
export async function readBackPlainRange(file: string, key: Buffer, range: BlockRange, proof: ChunkProof): Promise<ReadBack> {
	const {handle, buffers, source, size: bufferSize} = await openForReadBack(file, range.start);
	try {
		const sealed = Buffer.allocUnsafe(bufferSize + Math.ceil(bufferSize / blockSize) * tagSize + tagSize);
		const buffer = buffers[0]!;
		const macs: string[] = [];
		let blocks = 0;
		for (const span of blockSpans(range.start, range.end, proof.parts)) {
			const sum = createHash('sha256');
			let position = span.start;
			let counter = span.start / blockSize;
			do {
				const {bytesRead} = position < span.end ? await handle.read(buffer, 0, Math.min(bufferSize, alignUp(span.end - position)), position) : {bytesRead: 0};
				const length = Math.min(bytesRead, span.end - position);
				if (length <= 0 && position < span.end) throw new Error(`${file} ended early during the read-back (at byte ${position}, expected ${range.end})`);
				const last = position + length >= span.end;
				const cipher = encryptRange(key, buffer.subarray(0, length), counter, last && range.final && span.end === range.end, sealed);
				hashTags(cipher, sum);
				counter += Math.max(1, Math.ceil(length / blockSize));
				position += length;
			} while (position < span.end);

			blocks += counter - span.start / blockSize;
			macs.push(sum.digest('hex'));
		}

		if (proofOf(macs).tags !== proof.tags) throw new Error(`${file}: bytes ${range.start}-${range.end} read back differ from what the ciphertext authenticated`);
		return {source, blocks, bytes: range.end - range.start};
	} finally {
		await handle.close();
	}
}
