/**
 * Read buffers a sweep takes and gives back, one set per thread. A fresh 1 MiB buffer for every
 * chunk (and 256 KiB for every sync window) was a fresh mapping of zeroed pages each time, system
 * time, and stayed mapped until a garbage collection came for it: about 15 of them were alive at
 * once at the peak of a 1 GiB sweep.
 */

/** Buffers kept per size: as many as a thread reads into at once. */
const keptPerSize = 4;

/** Buffers by size, for reuse. */
export class BlockPool {
	readonly #free = new Map<number, Uint8Array[]>();

	/** A buffer of `size` bytes (its contents are whatever it held last). */
	take(size: number): Uint8Array {
		return this.#free.get(size)?.pop() ?? new Uint8Array(size);
	}

	/** `buffer` is not used any more. */
	give(buffer: Uint8Array): void {
		const free = this.#free.get(buffer.length);
		if (!free) this.#free.set(buffer.length, [buffer]);
		else if (free.length < keptPerSize && !free.includes(buffer)) free.push(buffer);
	}
}

/** This thread's pool (each worker thread loads its own copy of this module). */
export const blocks = new BlockPool();
