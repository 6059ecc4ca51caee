/**
 * What a sweep learns about a document besides its validity, in memory that depends on neither
 * the file's size nor how many distinct keys it has: counts, histograms, a key-frequency sketch,
 * a capped structural fingerprint and the anomalies seen. Statistics of consecutive parts merge
 * in order into the statistics of the whole.
 */
import {sweepAnomalyCodes} from '../chunker/events.js';
import {FrequencySketch, type SketchState} from './sketch.js';
import {giveTable, releasedTable, takeTable} from './tables.js';

/** Value types, as the scanner numbers them. */
export const valueTypes = ['object', 'array', 'string', 'number', 'true', 'false', 'null'] as const;

export type ValueType = (typeof valueTypes)[number];

/** Stable codes of what a sweep reports as anomalies (also the `anomaly` events' codes, defined with them). */
export {sweepAnomalyCodes};

export type SweepAnomalyCode = (typeof sweepAnomalyCodes)[number];

/** Whether an anomaly makes the input invalid. */
export const sweepAnomalySeverity: Record<SweepAnomalyCode, 'info' | 'warn' | 'error'> = {
	'json-deep-nesting': 'warn',
	'json-huge-token': 'info',
	'json-invalid-utf8': 'error',
	'json-lone-surrogate': 'warn',
	'json-bom': 'info',
	'json-control-character': 'error',
	'json-mixed-line-endings': 'info',
	'json-duplicate-key': 'warn',
	'json-nan-infinity': 'error',
	'json-trailing-comma': 'error',
	'json-syntax-error': 'error',
};

/** Depth histogram buckets: depths 0..62 and one for 63 and deeper. */
export const depthBuckets = 64;
/** Length histograms: bucket b counts lengths in [2^(b-1), 2^b) (bucket 0: length 0). */
export const lengthBuckets = 40;
/** Structural fingerprint cap: the first this many distinct (path, type) pairs in file order. */
export const fingerprintCap = 256;

export type AnomalyRecord = {code: SweepAnomalyCode; count: number; offset: number; line: number; message: string};

/** One (key path, type) pair of the structural fingerprint; the path is known only in this process. */
/**
 * One (key path, type) pair of the structural fingerprint; the path is known only in this process.
 * No counts: the first pairs of each part merge into exactly the first pairs of the whole, counts
 * of pairs a part could not keep would not.
 */
export type FingerprintEntry = {id: number; type: number; path?: string};

export type LargestToken = {bytes: number; offset: number; type: ValueType} | null;

/** The serializable form (no key names, no string contents). */
export type StatisticsState = {
	types: number[];
	keys: number;
	duplicateKeys: number;
	depths: number[];
	maxDepth: number;
	stringLengths: number[];
	numberLengths: number[];
	largest: LargestToken;
	/** With `path` only in a transfer between threads of one process (toState(true)). */
	fingerprint: Array<[id: number, type: number, path?: string]>;
	/** More distinct pairs were seen than the fingerprint keeps. */
	fingerprintFull: boolean;
	anomalies: AnomalyRecord[];
	sketch: SketchState;
};

/** SweepStatistics.saveCounts: the counters of the types, depths and lengths, then keys and duplicate keys. */
export const savedCounters = valueTypes.length + depthBuckets + 2 * lengthBuckets + 2;

export type SavedCounts = {counters: Float64Array; anomalies: AnomalyRecord[]; sketch: SketchState};

/** log2 bucket of a length. */
export function lengthBucket(length: number): number {
	if (length === 0) return 0;
	const bucket = 32 - Math.clz32(length);
	return bucket < lengthBuckets ? bucket : lengthBuckets - 1;
}

/** Counters a scanner updates as it reads. Fields are public for the scanner's hot loop. */
export class SweepStatistics {
	readonly types = new Float64Array(valueTypes.length);
	keys = 0;
	duplicateKeys = 0;
	readonly depths = new Float64Array(depthBuckets);
	maxDepth = 0;
	readonly stringLengths = new Float64Array(lengthBuckets);
	readonly numberLengths = new Float64Array(lengthBuckets);
	largest: LargestToken = null;
	readonly fingerprint = new Map<number, FingerprintEntry>();
	/**
	 * Fingerprint ids (+ 1, by id mod its length) with nothing left to learn: present with a path,
	 * or absent while the fingerprint is full (it never shrinks). The scanner skips the map for them.
	 */
	fingerprintSettled = takeTable(4096);
	fingerprintFull = false;
	readonly anomalies = new Map<SweepAnomalyCode, AnomalyRecord>();
	sketch = new FrequencySketch();

	/**
	 * No scan adds to these any more (a chunk's, once composed): the scan's tables go back to the
	 * thread's (tables.ts). They can still be merged, saved and reported; a scan into them would
	 * stay correct, only slower.
	 */
	releaseScanTables(): void {
		giveTable(this.fingerprintSettled);
		this.fingerprintSettled = releasedTable;
		this.sketch.releaseCache();
	}

	/** Count an anomaly; the first occurrence keeps its place and message. */
	anomaly(code: SweepAnomalyCode, offset: number, line: number, message: string): void {
		const known = this.anomalies.get(code);
		if (known) known.count++;
		else this.anomalies.set(code, {code, count: 1, offset, line, message});
	}

	/** A string or number token of `bytes` ended: its length is counted; true when it is the largest so far (see largestAt). */
	token(type: 2 | 3, bytes: number): boolean {
		(type === 2 ? this.stringLengths : this.numberLengths)[lengthBucket(bytes)]!++;
		return !this.largest || bytes > this.largest.bytes;
	}

	/** The largest token so far is of `type` and `bytes` at `offset` (the offset, past 2 GiB a heap number, is passed only then). */
	largestAt(type: 2 | 3, bytes: number, offset: number): void {
		this.largest = {bytes, offset, type: valueTypes[type]!};
	}

	/**
	 * Count nothing again, for a scanner that is reused to measure one JSON Lines line (the
	 * fingerprint is kept: such a scan's fingerprint is never read).
	 */
	clearCounts(): void {
		this.types.fill(0);
		this.depths.fill(0);
		this.stringLengths.fill(0);
		this.numberLengths.fill(0);
		this.keys = 0;
		this.duplicateKeys = 0;
		this.maxDepth = 0;
		this.largest = null;
		this.anomalies.clear();
		this.sketch.clear();
	}

	/**
	 * What a subtraction needs to go back to (see JsonScanner's #saveLine): the counters (into
	 * `counters` when given), the anomalies and the key summary; not the fingerprint, which is only
	 * ever appended to, nor the maxima.
	 */
	saveCounts(counters: Float64Array = new Float64Array(savedCounters)): SavedCounts {
		counters.set(this.types, 0);
		counters.set(this.depths, valueTypes.length);
		counters.set(this.stringLengths, valueTypes.length + depthBuckets);
		counters.set(this.numberLengths, valueTypes.length + depthBuckets + lengthBuckets);
		counters[savedCounters - 2] = this.keys;
		counters[savedCounters - 1] = this.duplicateKeys;
		return {counters, anomalies: this.anomalies.size > 0 ? [...this.anomalies.values()].map(record => ({...record})) : [], sketch: this.sketch.toState(true)};
	}

	/** Put back what saveCounts saved. */
	restoreCounts(saved: SavedCounts): void {
		const {counters} = saved;
		this.types.set(counters.subarray(0, valueTypes.length));
		this.depths.set(counters.subarray(valueTypes.length, valueTypes.length + depthBuckets));
		this.stringLengths.set(counters.subarray(valueTypes.length + depthBuckets, valueTypes.length + depthBuckets + lengthBuckets));
		this.numberLengths.set(counters.subarray(valueTypes.length + depthBuckets + lengthBuckets, savedCounters - 2));
		this.keys = counters[savedCounters - 2]!;
		this.duplicateKeys = counters[savedCounters - 1]!;
		this.anomalies.clear();
		for (const record of saved.anomalies) this.anomalies.set(record.code, {...record});
		this.sketch.releaseCache();
		this.sketch = FrequencySketch.fromState(saved.sketch);
	}

	/** Fold the statistics of the bytes that follow into these. */
	merge(next: SweepStatistics): void {
		for (let i = 0; i < this.types.length; i++) this.types[i]! += next.types[i]!;
		for (let i = 0; i < depthBuckets; i++) this.depths[i]! += next.depths[i]!;
		for (let i = 0; i < lengthBuckets; i++) {
			this.stringLengths[i]! += next.stringLengths[i]!;
			this.numberLengths[i]! += next.numberLengths[i]!;
		}

		this.keys += next.keys;
		this.duplicateKeys += next.duplicateKeys;
		this.maxDepth = Math.max(this.maxDepth, next.maxDepth);
		if (next.largest && (!this.largest || next.largest.bytes > this.largest.bytes)) this.largest = {...next.largest};
		for (const entry of next.fingerprint.values()) {
			const mine = this.fingerprint.get(entry.id);
			if (mine) {
				if (mine.path === undefined && entry.path !== undefined) mine.path = entry.path;
			} else if (this.fingerprint.size < fingerprintCap) {
				this.fingerprint.set(entry.id, {...entry});
			} else {
				this.fingerprintFull = true;
			}
		}

		this.fingerprintFull ||= next.fingerprintFull;
		for (const record of next.anomalies.values()) {
			const mine = this.anomalies.get(record.code);
			if (mine) mine.count += record.count;
			else this.anomalies.set(record.code, {...record});
		}

		this.sketch.merge(next.sketch);
	}

	/** `withNames`: keep key names and paths too, for a worker thread's result (never for a checkpoint). */
	toState(withNames = false): StatisticsState {
		return {
			types: [...this.types],
			keys: this.keys,
			duplicateKeys: this.duplicateKeys,
			depths: [...this.depths],
			maxDepth: this.maxDepth,
			stringLengths: [...this.stringLengths],
			numberLengths: [...this.numberLengths],
			largest: this.largest,
			fingerprint: [...this.fingerprint.values()].map(entry => (withNames && entry.path !== undefined ? [entry.id, entry.type, entry.path] : [entry.id, entry.type])),
			fingerprintFull: this.fingerprintFull,
			// Messages name bytes and positions, never contents.
			anomalies: [...this.anomalies.values()].map(record => ({...record})),
			sketch: this.sketch.toState(withNames),
		};
	}

	static fromState(state: StatisticsState): SweepStatistics {
		const stats = new SweepStatistics();
		stats.types.set(state.types);
		stats.keys = state.keys;
		stats.duplicateKeys = state.duplicateKeys;
		stats.depths.set(state.depths);
		stats.maxDepth = state.maxDepth;
		stats.stringLengths.set(state.stringLengths);
		stats.numberLengths.set(state.numberLengths);
		stats.largest = state.largest;
		for (const [id, type, path] of state.fingerprint) stats.fingerprint.set(id, path === undefined ? {id, type} : {id, type, path});
		stats.fingerprintFull = state.fingerprintFull;
		for (const record of state.anomalies) stats.anomalies.set(record.code, {...record});
		stats.sketch = FrequencySketch.fromState(state.sketch);
		return stats;
	}
}
