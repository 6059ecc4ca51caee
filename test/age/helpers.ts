/** Small helpers shared by the age tests. */
import {createHash} from 'node:crypto';
import {prng} from '../helpers/prng.js';

/** A positioned reader over bytes in memory, in the shape `readHeader` takes. */
export function memoryReader(bytes: Uint8Array) {
	return async (buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> => {
		const available = Math.max(0, Math.min(length, bytes.length - position));
		buffer.set(bytes.subarray(position, position + available), offset);
		return available;
	};
}

export {prng};

/** Deterministic pseudo-random bytes. */
export function bytesFrom(random: () => number, length: number): Buffer {
	const out = Buffer.allocUnsafe(length);
	for (let index = 0; index < length; index++) out[index] = Math.floor(random() * 256);
	return out;
}

export function sha256(bytes: Uint8Array): string {
	return createHash('sha256').update(bytes).digest('hex');
}
