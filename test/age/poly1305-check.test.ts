import {createCipheriv, randomBytes} from 'node:crypto';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {tagCheckAvailable, tagMatches} from '../../source/age/poly1305-check.js';
import {authenticateRange, blockNonce, blockSize, decryptRange, encryptedBlockSize, encryptRange, tagSize} from '../../source/age/stream.js';

/** What decryptRange (node's AEAD, which decrypts) says of `cipher`: 'ok' or its error message. */
function byDecrypting(key: Buffer, cipher: Buffer, counter: number, final: boolean): string {
	try {
		decryptRange(key, cipher, counter, final, Buffer.alloc(cipher.length));
		return 'ok';
	} catch (error) {
		return (error as Error).message;
	}
}

/** What authenticateRange (the tags alone, through libsodium) says of it. */
function byTags(key: Buffer, cipher: Buffer, counter: number, final: boolean): string {
	try {
		authenticateRange(key, cipher, counter, final);
		return 'ok';
	} catch (error) {
		return (error as Error).message;
	}
}

describe('checking tags without decrypting (poly1305-check.ts)', () => {
	it('is available here: sodium-native loads (else every check would silently fall back to decrypting)', () => {
		expect(tagCheckAvailable()).toBe(true);
	});

	it("agrees with node's ChaCha20-Poly1305 on the tag of every length from 0 to 300 bytes and around a block, at any offset in a buffer", () => {
		const key = randomBytes(32);
		const lengths = [...Array.from({length: 301}, (_, index) => index), blockSize - 17, blockSize - 1, blockSize];
		for (const length of lengths) {
			const nonce = blockNonce(length, length % 2 === 0);
			const cipher = createCipheriv('chacha20-poly1305', key, nonce, {authTagLength: 16});
			const body = Buffer.concat([cipher.update(randomBytes(length)), cipher.final()]);
			const tag = cipher.getAuthTag();
			// Placed at an odd offset of a larger buffer: the check must read the view, not its backing store.
			const backing = Buffer.alloc(length + 16 + 7);
			body.copy(backing, 3);
			tag.copy(backing, 3 + length);
			const view = backing.subarray(3, 3 + length);
			expect(tagMatches(key, nonce, view, backing.subarray(3 + length, 3 + length + 16)), `length ${length}`).toBe(true);
			const wrongTag = Buffer.from(tag);
			wrongTag[length % 16]! ^= 1;
			expect(tagMatches(key, nonce, view, wrongTag), `length ${length}, tag flipped`).toBe(false);
			expect(tagMatches(key, blockNonce(length, length % 2 !== 0), view, tag), `length ${length}, other flag`).toBe(false);
			if (length > 0) {
				const flipped = Buffer.from(view);
				flipped[length - 1]! ^= 0x80;
				expect(tagMatches(key, nonce, flipped, tag), `length ${length}, last byte flipped`).toBe(false);
			}
		}
	});

	it('gives the verdict and the message decrypting gives, for ranges of blocks intact, flipped, cut, extended and mis-flagged (property)', () => {
		fc.assert(
			fc.property(
				fc.integer({min: 0, max: 4 * blockSize + 300}),
				fc.integer({min: 0, max: 40}),
				fc.boolean(),
				fc.constantFrom('intact', 'flip', 'cut', 'extend', 'flag'),
				fc.nat(),
				(length, counter, final, damage, where) => {
					const key = randomBytes(32);
					const plain = randomBytes(final ? length : Math.floor(length / blockSize) * blockSize);
					let cipher = Buffer.from(encryptRange(key, plain, counter, final));
					let checkFinal = final;
					if (damage === 'flip' && cipher.length > 0) cipher[where % cipher.length]! ^= 1 << (where % 8);
					if (damage === 'cut' && cipher.length > 0) cipher = cipher.subarray(0, cipher.length - 1 - (where % Math.min(cipher.length, encryptedBlockSize)));
					if (damage === 'extend') cipher = Buffer.concat([cipher, randomBytes(1 + (where % 40))]);
					if (damage === 'flag') checkFinal = !final;
					const expected = byDecrypting(key, cipher, counter, checkFinal);
					expect(byTags(key, cipher, counter, checkFinal)).toBe(expected);
					// Intact is valid, but for an empty final block after others, which age forbids
					// (only an empty file has one): both ways refuse it alike.
					if (damage === 'intact') expect(expected).toBe(final && plain.length === 0 && counter > 0 ? `block ${counter} is an empty final block, which only an empty file may have` : 'ok');
					if (damage === 'flip' && cipher.length > 0) expect(expected).not.toBe('ok');
				},
			),
			{numRuns: 300},
		);
	});

	it('refuses a cut final block the way decrypting does: the truncation named, with the block', () => {
		const key = randomBytes(32);
		const cipher = encryptRange(key, randomBytes(2 * blockSize + 5), 0, true);
		const cut = cipher.subarray(0, 2 * encryptedBlockSize);
		expect(byTags(key, cut, 0, true)).toBe(byDecrypting(key, cut, 0, true));
		expect(byTags(key, cut, 0, true)).toMatch(/block 1 failed authentication: the file is truncated/);
		expect(byTags(key, Buffer.alloc(tagSize), 3, true)).toBe(byDecrypting(key, Buffer.alloc(tagSize), 3, true));
	});
});
