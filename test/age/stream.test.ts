import {randomBytes} from 'node:crypto';
import {Decrypter, Encrypter, generateX25519Identity, identityToRecipient} from 'age-encryption';
import {beforeAll, describe, expect, it} from 'vitest';
import {AgeFormatError, StreamAuthError} from '../../source/age/errors.js';
import {createHeader, readHeader} from '../../source/age/header.js';
import {
	blockCount,
	blockNonce,
	blockRange,
	blockSize,
	ciphertextPayloadSize,
	authenticateRange,
	decryptRange,
	encryptedBlockSize,
	encryptRange,
	payloadKey,
	plaintextSizeOf,
	tagSize,
} from '../../source/age/stream.js';
import {bytesFrom, memoryReader, prng} from './helpers.js';

const key = Buffer.from(randomBytes(32));
const special = [0, 1, 15, 16, 17, 65_535, 65_536, 65_537, 2 * 65_536, 3 * 65_536 + 5, 5 * 65_536 - 1];

/** The error `action` throws, which must be a StreamAuthError. */
function authErrorOf(action: () => unknown): StreamAuthError {
	try {
		action();
	} catch (error) {
		expect(error).toBeInstanceOf(StreamAuthError);
		return error as StreamAuthError;
	}

	throw new Error('expected a StreamAuthError, nothing was thrown');
}

describe('STREAM arithmetic', () => {
	it('builds the nonce from an 11-byte big-endian counter and the last-block flag', () => {
		expect(blockNonce(0, false).toString('hex')).toBe('000000000000000000000000');
		expect(blockNonce(0, true).toString('hex')).toBe('000000000000000000000001');
		expect(blockNonce(0x01_02_03, true).toString('hex')).toBe('000000000000000001020301');
		expect(blockNonce(2 ** 40 + 5, false).toString('hex')).toBe('000000000001000000000500');
	});

	it('sizes payloads: an empty plaintext is one empty block', () => {
		expect(blockCount(0)).toBe(1);
		expect(ciphertextPayloadSize(0)).toBe(16);
		expect(ciphertextPayloadSize(1)).toBe(17);
		expect(ciphertextPayloadSize(65_536)).toBe(65_552);
		expect(ciphertextPayloadSize(65_537)).toBe(65_552 + 17);
		for (const size of [...special, 10 * 65_536, 10 * 65_536 + 3]) expect(plaintextSizeOf(ciphertextPayloadSize(size))).toBe(size);
	});

	it('plaintextSizeOf rejects sizes no payload can have', () => {
		expect(() => plaintextSizeOf(0, 'x.age')).toThrow(AgeFormatError);
		expect(() => plaintextSizeOf(0, 'x.age')).toThrow('x.age is truncated: the payload is 0 bytes, too short to hold even one block');
		expect(() => plaintextSizeOf(15)).toThrow(/truncated/);
		expect(() => plaintextSizeOf(-3)).toThrow(/the payload is 0 bytes/);
		for (const bad of [encryptedBlockSize + 1, encryptedBlockSize + 16, 3 * encryptedBlockSize + 10]) {
			expect(() => plaintextSizeOf(bad, 'y.age')).toThrow(/y\.age is truncated or has trailing data: its last block is \d+ bytes/);
		}
	});

	it('maps plaintext ranges to whole ciphertext blocks', () => {
		const total = 3 * blockSize + 100;
		expect(blockRange(0, blockSize, total)).toEqual({firstBlock: 0, endBlock: 1, cipherStart: 0, cipherEnd: encryptedBlockSize});
		expect(blockRange(blockSize, total, total)).toEqual({firstBlock: 1, endBlock: 4, cipherStart: encryptedBlockSize, cipherEnd: ciphertextPayloadSize(total)});
		expect(blockRange(0, 0, 0)).toEqual({firstBlock: 0, endBlock: 1, cipherStart: 0, cipherEnd: 16});
		// A range ending inside the last (short) block ends where the payload does.
		expect(blockRange(2 * blockSize, total - 1, total)).toEqual({
			firstBlock: 2,
			endBlock: 4,
			cipherStart: 2 * encryptedBlockSize,
			cipherEnd: ciphertextPayloadSize(total),
		});
	});

	it('refuses a non-final range that is not whole blocks', () => {
		expect(() => encryptRange(key, Buffer.alloc(100), 0, false)).toThrow(RangeError);
	});
});

describe('encryptRange/decryptRange', () => {
	it('round-trips random ranges of random sizes (seeded), and chunked encryption equals whole encryption', () => {
		const random = prng(0x5eed);
		const sizes = [...special, ...Array.from({length: 12}, () => Math.floor(random() * 6 * blockSize))];
		for (const total of sizes) {
			const plain = bytesFrom(random, total);
			const cipher = encryptRange(key, plain, 0, true);
			expect(cipher.length).toBe(ciphertextPayloadSize(total));
			expect(decryptRange(key, cipher, 0, true).equals(plain)).toBe(true);

			// Encrypting block-aligned pieces at their counters gives the same bytes (parallel chunks).
			const blocks = blockCount(total);
			const cut = Math.floor(random() * blocks);
			const head = encryptRange(key, plain.subarray(0, cut * blockSize), 0, false);
			const tail = encryptRange(key, plain.subarray(cut * blockSize), cut, true);
			expect(Buffer.concat([head, tail]).equals(cipher)).toBe(true);

			// Any plaintext range decrypts from just its blocks.
			for (let trial = 0; trial < 4; trial++) {
				const start = Math.floor(random() * (total + 1));
				const end = start + Math.floor(random() * (total - start + 1));
				const range = blockRange(start, end, total);
				const final = range.endBlock === blocks;
				// The range never reaches past the payload, and a range in the last block ends with it.
				expect(range.cipherEnd).toBe(final ? cipher.length : range.endBlock * encryptedBlockSize);
				const got = decryptRange(key, cipher.subarray(range.cipherStart, range.cipherEnd), range.firstBlock, final);
				const expected = plain.subarray(range.firstBlock * blockSize, Math.min(total, range.endBlock * blockSize));
				expect(got.equals(expected)).toBe(true);
				expect(got.subarray(start - range.firstBlock * blockSize, end - range.firstBlock * blockSize).equals(plain.subarray(start, end))).toBe(true);
			}
		}
	});

	it('writes into a caller buffer when it is large enough', () => {
		const plain = randomBytes(blockSize + 10);
		const out = Buffer.alloc(2 * encryptedBlockSize);
		const cipher = encryptRange(key, plain, 0, true, out);
		expect(cipher.buffer).toBe(out.buffer);
		expect(decryptRange(key, cipher, 0, true).equals(plain)).toBe(true);
	});

	it('names the tampered block, also when decrypting from a later counter', () => {
		const plain = randomBytes(5 * blockSize + 77);
		const cipher = encryptRange(key, plain, 0, true);
		for (const block of [0, 2, 5]) {
			const tampered = Buffer.from(cipher);
			tampered[block * encryptedBlockSize + 10]! ^= 0x01;
			const error = authErrorOf(() => decryptRange(key, tampered, 0, true));
			expect(error.counter).toBe(block);
			expect(error.code).toBe('EAUTH');
			expect(error.message).toBe(`block ${block} failed authentication: the block was modified, or the file is corrupt or cut short`);
		}

		// A tag byte, in a range that starts at block 3.
		const tampered = Buffer.from(cipher);
		tampered[5 * encryptedBlockSize - 1]! ^= 0x80;
		const error = authErrorOf(() => decryptRange(key, tampered.subarray(3 * encryptedBlockSize), 3, true));
		expect(error.counter).toBe(4);
	});

	it('fails under the wrong key or the wrong counter', () => {
		const cipher = encryptRange(key, randomBytes(100), 0, true);
		expect(authErrorOf(() => decryptRange(Buffer.from(randomBytes(32)), cipher, 0, true)).counter).toBe(0);
		expect(authErrorOf(() => decryptRange(key, cipher, 1, true)).counter).toBe(1);
	});

	it('describes truncation at a block boundary as truncation', () => {
		const plain = randomBytes(3 * blockSize + 500);
		const cipher = encryptRange(key, plain, 0, true);
		const truncated = cipher.subarray(0, 2 * encryptedBlockSize);
		const error = authErrorOf(() => decryptRange(key, truncated, 0, true));
		expect(error.counter).toBe(1);
		expect(error.message).toBe('block 1 failed authentication: the file is truncated: it ends without the final block');
	});

	it('describes data after the final block as trailing data', () => {
		const plain = randomBytes(blockSize);
		const cipher = encryptRange(key, plain, 0, true);
		for (const extra of [randomBytes(17), randomBytes(encryptedBlockSize)]) {
			const error = authErrorOf(() => decryptRange(key, Buffer.concat([cipher, extra]), 0, true));
			expect(error.counter).toBe(0);
			expect(error.message).toBe('block 0 failed authentication: there is data after the final block (trailing data)');
		}
	});

	it('rejects an empty final block after a full one (only an empty file has one)', () => {
		const full = encryptRange(key, randomBytes(blockSize), 0, false);
		const empty = encryptRange(key, Buffer.alloc(0), 1, true);
		const error = authErrorOf(() => decryptRange(key, Buffer.concat([full, empty]), 0, true));
		expect(error.counter).toBe(1);
		expect(error.message).toMatch(/empty final block/);
		// While an empty file is exactly one empty final block.
		expect(decryptRange(key, encryptRange(key, Buffer.alloc(0), 0, true), 0, true)).toHaveLength(0);
		expect(encryptRange(key, Buffer.alloc(0), 0, true)).toHaveLength(tagSize);
	});
});

describe('authenticateRange (cage verify)', () => {
	it('passes exactly what decryptRange passes and fails with the same error where it fails', () => {
		const plain = randomBytes(4 * blockSize + 123);
		const cipher = encryptRange(key, plain, 0, true);
		expect(() => authenticateRange(key, cipher, 0, true)).not.toThrow();
		expect(() => authenticateRange(key, cipher.subarray(2 * encryptedBlockSize), 2, true)).not.toThrow();
		expect(() => authenticateRange(key, encryptRange(key, Buffer.alloc(0), 0, true), 0, true)).not.toThrow();
		const tampered = Buffer.from(cipher);
		tampered[3 * encryptedBlockSize + 5]! ^= 0x04;
		const cases: Array<[Buffer, number, boolean]> = [
			[tampered, 0, true],
			[cipher.subarray(0, 2 * encryptedBlockSize), 0, true],
			[Buffer.concat([cipher, randomBytes(40)]), 0, true],
			[cipher, 0, false],
			[cipher, 1, true],
		];
		for (const [bytes, counter, final] of cases) {
			const expected = authErrorOf(() => decryptRange(key, bytes, counter, final));
			const got = authErrorOf(() => authenticateRange(key, bytes, counter, final));
			expect(got.message).toBe(expected.message);
			expect(got.counter).toBe(expected.counter);
		}
	});
});

describe('interoperability with age-encryption (typage)', () => {
	let identity: string;
	let recipient: string;

	beforeAll(async () => {
		identity = await generateX25519Identity();
		recipient = await identityToRecipient(identity);
	});

	it.each([0, 1, 65_535, 65_536, 65_537, 3 * 65_536 + 11])('decrypts a %d-byte file made by the library with readHeader + decryptRange', async size => {
		const plain = randomBytes(size);
		const encrypter = new Encrypter();
		encrypter.addRecipient(recipient);
		const file = await encrypter.encrypt(plain);
		const header = await readHeader(memoryReader(file), {identities: [identity]}, 'lib.age');
		const payload = file.subarray(header.payloadOffset);
		expect(plaintextSizeOf(payload.length)).toBe(size);
		const got = decryptRange(payloadKey(header.fileKey, header.nonce), payload, 0, true);
		expect(got.equals(plain)).toBe(true);
	});

	it.each([0, 1, 65_535, 65_536, 65_537, 3 * 65_536 + 11])('makes a %d-byte file the library decrypts (createHeader + encryptRange)', async size => {
		const plain = randomBytes(size);
		const {header, fileKey, nonce} = await createHeader({recipients: [recipient]});
		expect(fileKey).toHaveLength(16);
		expect(nonce).toHaveLength(16);
		const file = Buffer.concat([header, nonce, encryptRange(payloadKey(fileKey, nonce), plain, 0, true)]);
		const decrypter = new Decrypter();
		decrypter.addIdentity(identity);
		expect(Buffer.from(await decrypter.decrypt(file)).equals(plain)).toBe(true);
	});

	it('makes a multi-recipient file each identity opens', async () => {
		const other = await generateX25519Identity();
		const plain = randomBytes(1000);
		const {header, fileKey, nonce} = await createHeader({recipients: [recipient, await identityToRecipient(other), recipient]});
		expect(Buffer.from(header).toString('latin1').match(/^-> X25519 /gm)).toHaveLength(2);
		const file = Buffer.concat([header, nonce, encryptRange(payloadKey(fileKey, nonce), plain, 0, true)]);
		for (const key_ of [identity, other]) {
			const decrypter = new Decrypter();
			decrypter.addIdentity(key_);
			expect(Buffer.from(await decrypter.decrypt(file)).equals(plain)).toBe(true);
		}
	});

	it('round-trips a passphrase file both ways', async () => {
		const plain = randomBytes(70_000);
		const {header, fileKey, nonce} = await createHeader({passphrase: 'correct horse battery staple'});
		const file = Buffer.concat([header, nonce, encryptRange(payloadKey(fileKey, nonce), plain, 0, true)]);
		const decrypter = new Decrypter();
		decrypter.addPassphrase('correct horse battery staple');
		expect(Buffer.from(await decrypter.decrypt(file)).equals(plain)).toBe(true);

		const read = await readHeader(memoryReader(file), {passphrase: 'correct horse battery staple'});
		expect(Buffer.from(read.fileKey).equals(Buffer.from(fileKey))).toBe(true);
		expect(read.payloadOffset).toBe(header.length + 16);
	}, 120_000);
});
