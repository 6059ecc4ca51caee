/**
 * The keys each open object has had, for duplicate-key detection: one open-addressing table of
 * key hashes per nesting level, stamped with the object it belongs to, so that opening an object
 * clears its level at once and nothing is allocated per object or per key.
 */
export class DuplicateKeys {
	readonly levels: number;
	/** Keys kept per object (later ones are not checked). */
	readonly perObject: number;
	readonly #slots: number;
	readonly #hashes: Int32Array;
	readonly #stamps: Int32Array;
	readonly #serials: Int32Array;
	readonly #sizes: Int32Array;
	#next = 1;

	constructor(levels: number, perObject: number) {
		this.levels = levels;
		this.perObject = perObject;
		this.#slots = 2 ** Math.ceil(Math.log2(perObject * 2));
		this.#hashes = new Int32Array(levels * this.#slots);
		this.#stamps = new Int32Array(levels * this.#slots);
		this.#serials = new Int32Array(levels);
		this.#sizes = new Int32Array(levels);
		for (let level = 0; level < levels; level++) this.clear(level);
	}

	/** A new object opens at `level`: it has no keys yet. */
	clear(level: number): void {
		if (this.#next === 0x7fffffff) {
			// Stamps would repeat: start them over (after two billion objects).
			this.#stamps.fill(0);
			this.#next = 1;
			for (let other = 0; other < this.levels; other++) if (other !== level) this.#serials[other] = this.#next++;
		}

		this.#serials[level] = this.#next++;
		this.#sizes[level] = 0;
	}

	/** Whether the object at `level` already had `hash`; if not, it is added (while under `perObject`). */
	seenOrAdd(level: number, hash: number): boolean {
		const mask = this.#slots - 1;
		const base = level * this.#slots;
		const serial = this.#serials[level]!;
		const stamps = this.#stamps;
		const hashes = this.#hashes;
		for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
			const at = base + slot;
			if (stamps[at] !== serial) {
				if (this.#sizes[level]! < this.perObject) {
					stamps[at] = serial;
					hashes[at] = hash;
					this.#sizes[level]!++;
				}

				return false;
			}

			if (hashes[at] === hash) return true;
		}
	}

	/** The keys of the object at `level`, sorted (for a checkpoint). */
	keys(level: number): number[] {
		const keys: number[] = [];
		const base = level * this.#slots;
		const serial = this.#serials[level]!;
		for (let slot = 0; slot < this.#slots; slot++) if (this.#stamps[base + slot] === serial) keys.push(this.#hashes[base + slot]!);
		return keys.sort((a, b) => a - b);
	}
}
