/**
 * The keys each open object has had, for duplicate-key detection, with nothing allocated per
 * object or per key. Each nesting level keeps a list of its object's distinct keys in order; the
 * list outlives the object as the reference for the next object at that level, since objects of
 * one shape repeat: while an object's keys follow the reference (a list without duplicates), each
 * key is new by a single comparison. Off the reference, a key is looked for in the list (short) or
 * in an open-addressing table of the level (long lists), stamped with the object it belongs to so
 * that opening an object clears it at once. Lists grow and tables are made as objects need them:
 * a scanner is made per chunk, and most documents nest a few levels of small objects.
 */
export class DuplicateKeys {
	readonly levels: number;
	/** Keys kept per object (later ones are not checked). */
	readonly perObject: number;
	/** Lists longer than this are also in the table. */
	readonly #linear: number;
	readonly #slots: number;
	/** By level: the distinct keys of its object, in order (then of the object before, past count). */
	readonly #lists: Int32Array[];
	/** By level: how many keys of the list are the open object's. */
	readonly #counts: Int32Array;
	/** By level: how many keys of the list are valid (the open object's, or the previous object's beyond them). */
	readonly #lengths: Int32Array;
	/** By level: how many keys of the list are in the table (for the open object). */
	readonly #tabled: Int32Array;
	/** By level: its table's hashes and the stamps saying which object each slot is of (made when needed). */
	readonly #hashes: Array<Int32Array | undefined>;
	readonly #stamps: Array<Int32Array | undefined>;
	readonly #serials: Int32Array;
	#next = 1;

	constructor(levels: number, perObject: number, linear = 16) {
		this.levels = levels;
		this.perObject = perObject;
		this.#linear = linear;
		this.#slots = 2 ** Math.ceil(Math.log2(perObject * 2));
		this.#lists = Array.from({length: levels}, () => new Int32Array(Math.min(perObject, 16)));
		this.#counts = new Int32Array(levels);
		this.#lengths = new Int32Array(levels);
		this.#tabled = new Int32Array(levels);
		this.#hashes = Array.from({length: levels}, () => undefined);
		this.#stamps = Array.from({length: levels}, () => undefined);
		this.#serials = new Int32Array(levels);
		for (let level = 0; level < levels; level++) this.clear(level);
	}

	/** A new object opens at `level`: it has no keys yet. */
	clear(level: number): void {
		if (this.#next === 0x7fffffff) {
			// Stamps would repeat: start them over (after two billion objects).
			for (const stamps of this.#stamps) stamps?.fill(0);
			this.#next = 1;
			for (let other = 0; other < this.levels; other++) if (other !== level) this.#serials[other] = this.#next++;
		}

		this.#serials[level] = this.#next++;
		this.#counts[level] = 0;
		this.#tabled[level] = 0;
	}

	/** Whether the object at `level` already had `hash`; if not, it is added (while under `perObject`). */
	seenOrAdd(level: number, hash: number): boolean {
		const count = this.#counts[level]!;
		if (count < this.#lengths[level]!) {
			// The keys so far are the reference's first ones, which has no duplicates.
			if (this.#lists[level]![count] === hash) {
				this.#counts[level] = count + 1;
				return false;
			}

			// Off it: a new key truncates the list to this object's (a repeated one leaves it a prefix).
		}

		return this.#offReference(level, hash, count);
	}

	/** seenOrAdd once the object left its reference: the list holds exactly its keys. */
	#offReference(level: number, hash: number, count: number): boolean {
		let list = this.#lists[level]!;
		if (count <= this.#linear) {
			for (let k = 0; k < count; k++) if (list[k] === hash) return true;
		} else {
			this.#fillTable(level, count);
			if (this.#inTable(level, hash, false)) return true;
		}

		if (count >= this.perObject) return false;
		if (count === list.length) {
			const grown = new Int32Array(Math.min(this.perObject, list.length * 2));
			grown.set(list);
			list = this.#lists[level] = grown;
		}

		list[count] = hash;
		this.#counts[level] = count + 1;
		this.#lengths[level] = count + 1;
		if (count + 1 > this.#linear) this.#fillTable(level, count + 1);
		return false;
	}

	/** Put the first `count` keys of the level's list in its table (those not there yet). */
	#fillTable(level: number, count: number): void {
		const list = this.#lists[level]!;
		for (let k = this.#tabled[level]!; k < count; k++) this.#inTable(level, list[k]!, true);
		this.#tabled[level] = count;
	}

	/** Whether the level's table has `hash` (for its open object); with `add`, put it there if not. */
	#inTable(level: number, hash: number, add: boolean): boolean {
		const mask = this.#slots - 1;
		const serial = this.#serials[level]!;
		const stamps = (this.#stamps[level] ??= new Int32Array(this.#slots));
		const hashes = (this.#hashes[level] ??= new Int32Array(this.#slots));
		for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
			if (stamps[slot] !== serial) {
				if (add) {
					stamps[slot] = serial;
					hashes[slot] = hash;
				}

				return false;
			}

			if (hashes[slot] === hash) return true;
		}
	}

	/** The keys of the object at `level`, sorted (for a checkpoint). */
	keys(level: number): number[] {
		return [...this.#lists[level]!.subarray(0, this.#counts[level]!)].sort((a, b) => a - b);
	}
}
