/**
 * The age payload STREAM (https://age-encryption.org/v1, "Payload") on node's native
 * ChaCha20-Poly1305: 64 KiB plaintext blocks, each sealed under the payload key with a 12-byte
 * nonce made of an 11-byte big-endian block counter and a last-block flag byte.
 *
 * Because every block's nonce is a function of its index, any range of blocks can be encrypted or
 * decrypted independently, at its computed offset: that is what lets chunks run in parallel and a
 * job resume in the middle of a file.
 */
import {createCipheriv, createDecipheriv, hkdfSync} from 'node:crypto';
import {AgeFormatError, StreamAuthError} from './errors.js';
import {tagCheckAvailable, tagMatches} from './poly1305-check.js';

/** Plaintext bytes per STREAM block. */
export const blockSize = 64 * 1024;
/** Poly1305 tag bytes per block. */
export const tagSize = 16;
/** Ciphertext bytes per full block. */
export const encryptedBlockSize = blockSize + tagSize;
/** Bytes of the payload nonce that follows the header. */
export const nonceSize = 16;

/** payload key = HKDF-SHA256(ikm = file key, salt = nonce, info = "payload"), 32 bytes. */
export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
	return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
}

/** The 12-byte ChaCha20-Poly1305 nonce of block `counter`. */
export function blockNonce(counter: number, final: boolean, into: Buffer = Buffer.alloc(12)): Buffer {
	into.fill(0);
	// Bytes 0..10: the big-endian counter (2^48 blocks is 16 EiB, so 6 low bytes suffice); byte 11: the flag.
	into.writeUIntBE(counter, 5, 6);
	into.writeUInt8(final ? 1 : 0, 11);
	return into;
}

/** Number of blocks of a plaintext of `size` bytes (an empty plaintext is one empty block). */
export function blockCount(size: number): number {
	return Math.max(1, Math.ceil(size / blockSize));
}

/** Ciphertext bytes of the payload (after header and nonce) for `size` plaintext bytes. */
export function ciphertextPayloadSize(size: number): number {
	return size + blockCount(size) * tagSize;
}

/**
 * Plaintext bytes for a payload of `cipherSize` bytes.
 * @throws AgeFormatError when no plaintext has that ciphertext size (truncated or trailing data).
 */
export function plaintextSizeOf(cipherSize: number, name = 'the input'): number {
	if (cipherSize < tagSize) throw new AgeFormatError(`${name} is truncated: the payload is ${Math.max(0, cipherSize)} bytes, too short to hold even one block`);
	if (cipherSize === tagSize) return 0;
	const full = Math.floor(cipherSize / encryptedBlockSize);
	const rest = cipherSize % encryptedBlockSize;
	if (rest > 0 && rest <= tagSize) {
		throw new AgeFormatError(`${name} is truncated or has trailing data: its last block is ${rest} bytes, not a valid ciphertext block`);
	}

	return full * blockSize + (rest > 0 ? rest - tagSize : 0);
}

/** Where plaintext range [start, end) of a `total`-byte plaintext lies in the payload ciphertext. */
export function blockRange(start: number, end: number, total: number): {firstBlock: number; endBlock: number; cipherStart: number; cipherEnd: number} {
	const firstBlock = Math.floor(start / blockSize);
	const blocks = blockCount(total);
	const endBlock = end >= total ? blocks : Math.ceil(end / blockSize);
	// A range that ends inside the last block ends where the (possibly short) last block does.
	const cipherEnd = endBlock === blocks ? ciphertextPayloadSize(total) : endBlock * encryptedBlockSize;
	return {firstBlock, endBlock, cipherStart: firstBlock * encryptedBlockSize, cipherEnd};
}

/**
 * Plaintext range [start, end) (`start` at a block boundary) as up to `parts` consecutive runs of
 * whole blocks (the last may end with the stream's short final block): one per worker, so that
 * one chunk is encrypted or decrypted on every core.
 */
export function blockSpans(start: number, end: number, parts: number): Array<{start: number; end: number}> {
	const per = Math.max(1, Math.ceil(Math.ceil((end - start) / blockSize) / Math.max(1, Math.floor(parts)))) * blockSize;
	const spans: Array<{start: number; end: number}> = [];
	for (let at = start; at < end; at += per) spans.push({start: at, end: Math.min(end, at + per)});
	return spans.length > 0 ? spans : [{start, end}];
}

const nonceScratch = Buffer.alloc(12);

function sealBlock(key: Buffer, plain: Uint8Array, counter: number, final: boolean, out: Buffer, at: number): number {
	const cipher = createCipheriv('chacha20-poly1305', key, blockNonce(counter, final, nonceScratch), {authTagLength: tagSize});
	let written = 0;
	if (plain.length > 0) written = cipher.update(plain).copy(out, at);
	cipher.final();
	written += cipher.getAuthTag().copy(out, at + written);
	return written;
}

/**
 * Encrypt consecutive blocks starting at block `counter`. `plain` must be a whole number of
 * blocks, except when `final` is set: then its last (possibly short or empty) block carries the
 * last-block flag. Writes into `out` when it is large enough.
 */
export function encryptRange(key: Buffer, plain: Uint8Array, counter: number, final: boolean, out?: Buffer): Buffer {
	const blocks = final ? blockCount(plain.length) : plain.length / blockSize;
	if (!Number.isInteger(blocks)) throw new RangeError('encryptRange: a non-final range must be whole blocks');
	const length = plain.length + blocks * tagSize;
	const target = out && out.length >= length ? out : Buffer.allocUnsafe(length);
	let at = 0;
	for (let block = 0; block < blocks; block++) {
		const slice = plain.subarray(block * blockSize, Math.min(plain.length, (block + 1) * blockSize));
		at += sealBlock(key, slice, counter + block, final && block === blocks - 1, target, at);
	}

	return target.subarray(0, length);
}

function openBlock(key: Buffer, cipher: Uint8Array, counter: number, final: boolean): Buffer | undefined {
	if (cipher.length < tagSize) return undefined;
	const decipher = createDecipheriv('chacha20-poly1305', key, blockNonce(counter, final, Buffer.alloc(12)), {authTagLength: tagSize});
	decipher.setAuthTag(cipher.subarray(cipher.length - tagSize));
	try {
		const plain = decipher.update(cipher.subarray(0, cipher.length - tagSize));
		decipher.final();
		return plain;
	} catch {
		return undefined;
	}
}

/** openBlock, its plaintext copied to `out` at `at` when given: its plaintext length, or -1. */
function openInto(key: Buffer, cipher: Uint8Array, counter: number, final: boolean, out: Buffer | undefined, at: number): number {
	const plain = openBlock(key, cipher, counter, final);
	if (!plain) return -1;
	if (out) plain.copy(out, at);
	return plain.length;
}

const checkNonce = Buffer.alloc(12);

/** Whether block `counter`'s tag holds, without decrypting it: its plaintext length, or -1. */
function checkBlock(key: Buffer, cipher: Uint8Array, counter: number, final: boolean): number {
	if (cipher.length < tagSize) return -1;
	const body = cipher.length - tagSize;
	return tagMatches(key, blockNonce(counter, final, checkNonce), cipher.subarray(0, body), cipher.subarray(body)) ? body : -1;
}

/**
 * Decrypt consecutive blocks starting at block `counter`, authenticating each before any of its
 * plaintext is returned. When `final` is set, the last block must carry the last-block flag.
 * @throws StreamAuthError naming the block; it tells truncation and trailing data apart from
 * tampering where the flag shows which it is.
 */
export function decryptRange(key: Buffer, cipher: Uint8Array, counter: number, final: boolean, into?: Buffer): Buffer {
	const blocks = Math.ceil(cipher.length / encryptedBlockSize) || (final ? 1 : 0);
	const length = Math.max(0, cipher.length - blocks * tagSize);
	const out = into && into.length >= length ? into : Buffer.allocUnsafe(length);
	return out.subarray(0, openRange(key, cipher, counter, final, out));
}

/**
 * Authenticate consecutive blocks as decryptRange does, keeping no plaintext (`cage verify`): the
 * same checks and errors, without copying each block's plaintext out of the cipher's buffer.
 * @throws StreamAuthError naming the block.
 */
export function authenticateRange(key: Buffer, cipher: Uint8Array, counter: number, final: boolean): void {
	openRange(key, cipher, counter, final, undefined);
}

/** decryptRange's loop: every block opened and checked; its plaintext copied to `out` when given. Returns the bytes copied. */
function openRange(key: Buffer, cipher: Uint8Array, counter: number, final: boolean, out: Buffer | undefined): number {
	const blocks = Math.ceil(cipher.length / encryptedBlockSize) || (final ? 1 : 0);
	// With nowhere to put the plaintext, the tags alone are checked (poly1305-check.ts says why).
	const check = out === undefined && tagCheckAvailable() ? checkBlock : undefined;
	let at = 0;
	for (let block = 0; block < blocks; block++) {
		const slice = cipher.subarray(block * encryptedBlockSize, Math.min(cipher.length, (block + 1) * encryptedBlockSize));
		const isFinal = final && block === blocks - 1;
		const index = counter + block;
		const length = check ? check(key, slice, index, isFinal) : openInto(key, slice, index, isFinal, out, at);
		if (length < 0) {
			const flipped = check ? check(key, slice, index, !isFinal) >= 0 : openBlock(key, slice, index, !isFinal) !== undefined;
			const why = flipped
				? isFinal
					? 'the file is truncated: it ends without the final block'
					: 'there is data after the final block (trailing data)'
				: 'the block was modified, or the file is corrupt or cut short';
			throw new StreamAuthError(`block ${index} failed authentication: ${why}`, index);
		}

		if (isFinal && slice.length === tagSize && index > 0) {
			throw new StreamAuthError(`block ${index} is an empty final block, which only an empty file may have`, index);
		}

		at += length;
	}

	return at;
}
