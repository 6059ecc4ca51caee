/** Small helpers shared by the age tests. */
import {createHash} from 'node:crypto';

/** A positioned reader over bytes in memory, in the shape `readHeader` takes. */
export function memoryReader(bytes: Uint8Array) {
	return async (buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> => {
		const available = Math.max(0, Math.min(length, bytes.length - position));
		buffer.set(bytes.subarray(position, position + available), offset);
		return available;
	};
}

/** A seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
	let state = seed >>> 0;
	return () => {
		state = (state + 0x6d_2b_79_f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
	};
}

/** Deterministic pseudo-random bytes. */
export function bytesFrom(random: () => number, length: number): Buffer {
	const out = Buffer.allocUnsafe(length);
	for (let index = 0; index < length; index++) out[index] = Math.floor(random() * 256);
	return out;
}

export function sha256(bytes: Uint8Array): string {
	return createHash('sha256').update(bytes).digest('hex');
}
