import {randomBytes} from 'node:crypto';
import {describe, expect, it} from 'vitest';
import {chunkDigest, digestKey} from '../../source/age/chunk-digest.js';
import {loadXxh3} from '../../source/age/xxh3.js';

describe('chunk digests', () => {
	it('the native and the WebAssembly XXH3 give the same sum, however the bytes are split', async () => {
		const native = await loadXxh3();
		const wasm = await loadXxh3({prefer: 'wasm'});
		expect(native.kind).toBe('native');
		expect(wasm.kind).toBe('wasm');
		// XXH3-64 of the empty input, seed 0 (the reference implementation's value).
		expect(Buffer.from(wasm.create().digest()).toString('hex')).toBe('2d06800538d394c2');
		expect(Buffer.from(native.create().digest()).toString('hex')).toBe('2d06800538d394c2');
		const data = randomBytes(3 * 1024 * 1024 + 17);
		for (const cuts of [[data.length], [1, 64, 1000, 1 << 20], [240, 241, 1 << 21]]) {
			const sums = [native, wasm].map(({create}) => {
				const sum = create();
				let at = 0;
				for (const cut of [...cuts, data.length]) {
					sum.update(data.subarray(at, Math.max(at, Math.min(cut, data.length))));
					at = Math.max(at, Math.min(cut, data.length));
				}

				return Buffer.from(sum.digest()).toString('hex');
			});
			expect(sums[0]).toBe(sums[1]);
		}
	});

	it('is keyed and bound to the chunk\'s place: another key or offset gives another digest', async () => {
		const {create} = await loadXxh3();
		const sum = create();
		sum.update(Buffer.from('the bytes of a chunk'));
		const bytes = sum.digest();
		const key = digestKey(Buffer.alloc(32, 1));
		const digest = chunkDigest(key, 0, bytes);
		expect(digest).toMatch(/^[\da-f]{32}$/);
		expect(chunkDigest(key, 0, bytes)).toBe(digest);
		expect(chunkDigest(digestKey(Buffer.alloc(32, 2)), 0, bytes)).not.toBe(digest);
		expect(chunkDigest(key, 65_536, bytes)).not.toBe(digest);
		// The digest is not the sum itself: nothing in a checkpoint confirms a guess of the plaintext without the key.
		expect(digest).not.toContain(Buffer.from(bytes).toString('hex'));
	});
});
