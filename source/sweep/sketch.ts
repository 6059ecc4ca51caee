/**
 * Key frequencies in bounded memory: a Misra-Gries summary keyed by a hash of the key's bytes.
 * With at most `capacity` distinct keys every count is exact; beyond that a count is low by at
 * most (keys seen) / (capacity + 1), and any key more frequent than that is in the summary.
 * Summaries merge (Agarwal et al., "Mergeable summaries"), which is how chunks combine.
 */

import {giveTable, releasedTable, takeTable} from './tables.js';

/** One counted key; `name` is known only while this process saw the key (never checkpointed). */
export type SketchEntry = {hash: number; count: number; name?: string};

/** The serializable form: hashes and counts only, no key names. */
export type SketchState = {capacity: number; entries: Array<[hash: number, count: number, name?: string]>; decrements: number};

/** Names a key when it enters the summary. */
export interface KeyNamer {
	keyName(): string | undefined;
	/** The summary is full and about to decrement every count (the one change `subtract` cannot undo). */
	beforeDecrement(): void;
}

/** Slots of the cache in front of the summary (a power of two). */
const cacheSlots = 2048;

/** A bounded frequency summary of key hashes (small non-negative integers). */
export class FrequencySketch {
	readonly capacity: number;
	readonly #entries = new Map<number, SketchEntry>();
	/** A direct-mapped cache in front of the map (hash + 1 by slot, and the entry): most keys repeat. */
	#cacheKeys = takeTable(cacheSlots);
	readonly #cacheEntries = new Array<SketchEntry | undefined>(cacheSlots);
	/** The most any count is under its true value. */
	decrements = 0;

	constructor(capacity = 1024) {
		this.capacity = capacity;
	}

	/** Count one occurrence; `namer` is asked only when the key enters the summary. */
	add(hash: number, namer: KeyNamer): void {
		// Most keys repeat and are named: the cache answers, in a method small enough to inline.
		const slot = hash & (cacheSlots - 1);
		if (this.#cacheKeys[slot] === hash + 1) {
			const entry = this.#cacheEntries[slot]!;
			entry.count++;
			if (entry.name === undefined) this.#name(entry, namer);
			return;
		}

		this.#addUncached(hash, slot, namer);
	}

	#name(entry: SketchEntry, namer: KeyNamer): void {
		const known = namer.keyName();
		if (known !== undefined) entry.name = known;
	}

	#addUncached(hash: number, slot: number, namer: KeyNamer): void {
		const entry = this.#entries.get(hash);
		if (entry) {
			this.#cacheKeys[slot] = hash + 1;
			this.#cacheEntries[slot] = entry;
			entry.count++;
			if (entry.name === undefined) this.#name(entry, namer);
			return;
		}

		if (this.#entries.size < this.capacity) {
			const known = namer.keyName();
			this.#entries.set(hash, known === undefined ? {hash, count: 1} : {hash, count: 1, name: known});
			return;
		}

		// Full: the new key and one occurrence of every counted key cancel out.
		namer.beforeDecrement();
		this.decrements++;
		for (const [key, counted] of this.#entries) {
			if (--counted.count === 0) {
				this.#entries.delete(key);
				if (this.#cacheKeys[key & (cacheSlots - 1)] === key + 1) this.#cacheKeys[key & (cacheSlots - 1)] = 0;
			}
		}
	}

	/**
	 * Nothing is added any more (a chunk's summary, once composed): the cache goes back to the
	 * thread's tables. Adding after it stays correct, without the cache.
	 */
	releaseCache(): void {
		giveTable(this.#cacheKeys);
		this.#cacheKeys = releasedTable;
		this.#cacheEntries.fill(undefined);
	}

	/**
	 * Take back the occurrences `other` counted (a bad JSON Lines line's keys), which were added to
	 * this summary after all that it held then, with no decrement since: exactly undone, so keys the
	 * line brought in leave the summary.
	 */
	subtract(other: FrequencySketch): void {
		for (const entry of other.#entries.values()) {
			const mine = this.#entries.get(entry.hash);
			if (!mine) continue;
			mine.count -= entry.count;
			if (mine.count > 0) continue;
			this.#entries.delete(entry.hash);
			const slot = entry.hash & (cacheSlots - 1);
			if (this.#cacheKeys[slot] === entry.hash + 1) this.#cacheKeys[slot] = 0;
		}
	}

	/** Count nothing again (for reuse; the cache is kept). */
	clear(): void {
		for (const hash of this.#entries.keys()) {
			const slot = hash & (cacheSlots - 1);
			if (this.#cacheKeys[slot] === hash + 1) this.#cacheKeys[slot] = 0;
		}

		this.#entries.clear();
		this.decrements = 0;
	}

	/** Fold another summary (of the bytes after this one's) into this one. */
	merge(other: FrequencySketch): void {
		this.#cacheKeys.fill(0);
		for (const entry of other.#entries.values()) {
			const mine = this.#entries.get(entry.hash);
			if (mine) {
				mine.count += entry.count;
				if (mine.name === undefined && entry.name !== undefined) mine.name = entry.name;
			} else {
				this.#entries.set(entry.hash, {...entry});
			}
		}

		this.decrements += other.decrements;
		if (this.#entries.size <= this.capacity) return;
		// Subtract the (capacity+1)-th largest count from all and keep the positive ones.
		const counts = [...this.#entries.values()].map(entry => entry.count).sort((a, b) => b - a);
		const cut = counts[this.capacity]!;
		this.decrements += cut;
		for (const [key, entry] of this.#entries) {
			entry.count -= cut;
			if (entry.count <= 0) this.#entries.delete(key);
		}
	}

	/** The `k` most frequent keys, highest count first (ties: lower hash first, so the order is stable). */
	top(k: number): SketchEntry[] {
		return [...this.#entries.values()].sort((a, b) => b.count - a.count || a.hash - b.hash).slice(0, k);
	}

	/** True when every count is exact (no key was ever dropped). */
	get exact(): boolean {
		return this.decrements === 0;
	}

	/** `withNames` only between threads of one process: a checkpoint holds no key names. */
	toState(withNames = false): SketchState {
		return {
			capacity: this.capacity,
			entries: [...this.#entries.values()].map(entry => (withNames && entry.name !== undefined ? [entry.hash, entry.count, entry.name] : [entry.hash, entry.count])),
			decrements: this.decrements,
		};
	}

	static fromState(state: SketchState): FrequencySketch {
		const sketch = new FrequencySketch(state.capacity);
		for (const [hash, count, name] of state.entries) sketch.#entries.set(hash, name === undefined ? {hash, count} : {hash, count, name});
		sketch.decrements = state.decrements;
		return sketch;
	}
}
