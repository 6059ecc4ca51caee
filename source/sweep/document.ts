/**
 * One JSON document on every core. A chunk is scanned on its own, speculatively: its sync point
 * is found by lexing its first bytes from each start state a chunk edge can have (outside a
 * string, inside one, inside one just after a backslash); the hypothesis that stays lexically
 * possible gives the first ',' at the shallowest depth, guessed to sit between elements of the
 * top-level array. The chunk's unit — from its sync point to the next chunk's — is scanned by a
 * full scanner started in that guessed state (speculation.ts). Units are composed in
 * order: where the real state at a sync point is the guessed one, the unit's result is exact and
 * is shifted (lines, columns, indices) and merged; where it is not (a document that is not an
 * array of records, a bad guess), the unit is scanned again from the real state. Either way the
 * result is the one-thread scan's.
 */
import type {Chunk} from '../chunker/plan.js';
import {blocks} from './blocks.js';
import {JsonScanner} from './scanner.js';
import type {ScannerState, ScannerTransfer} from './scanner-state.js';
import {atSpeculativeStart, rebase, speculativeScanner, topIndex} from './speculation.js';
import type {SweepOptions} from './processor.js';

export type ReadAt = (buffer: Uint8Array, length: number, position: number) => Promise<number>;

/** Bytes of a chunk's start lexed to find its sync point. */
export const syncWindow = 2 ** 18;
/** Bytes read per call. */
const blockSize = 2 ** 20;

/** What one chunk's unit scan found. */
export type DocumentUnit =
	/** The chunk has no sync point: the unit before it reads through it. */
	| {kind: 'none'}
	| {kind: 'unit'; speculative: boolean; start: number; end: number; scanned: ScannerTransfer};

/** One chunk's task: its unit, from the given exact state (the first chunk of a run) or speculatively. */
export type DocumentTask = {chunk: Chunk; chunkSize: number; size: number; options: SweepOptions; from: ScannerState | 'start' | 'speculate'};

const H_OUT = 0;
const H_IN = 1;
const H_ESCAPE = 2;

/** Bytes a valid document can have outside strings. */
const outside = new Uint8Array(256);
for (const byte of Buffer.from(' \t\r\n{}[]:,"0123456789-+.eEtruefalsn')) outside[byte] = 1;

/**
 * The sync point of `bytes` (which start at absolute offset `base`): the offset just after the
 * first ',' at the shallowest depth under the first start state that stays lexically possible,
 * or -1.
 */
export function findSyncPoint(bytes: Uint8Array, base: number): number {
	for (const hypothesis of [H_OUT, H_IN, H_ESCAPE]) {
		let inString = hypothesis !== H_OUT;
		let escape = hypothesis === H_ESCAPE;
		let depth = 0;
		let best = -1;
		let bestDepth = Number.POSITIVE_INFINITY;
		let alive = true;
		for (let i = 0; i < bytes.length; i++) {
			const b = bytes[i]!;
			if (inString) {
				if (escape) escape = false;
				else if (b === 0x5c) escape = true;
				else if (b === 0x22) inString = false;
				else if (b < 0x20) {
					alive = false;
					break;
				}

				continue;
			}

			if (outside[b] === 0) {
				alive = false;
				break;
			}

			if (b === 0x22) inString = true;
			else if (b === 0x7b || b === 0x5b) depth++;
			else if (b === 0x7d || b === 0x5d) depth--;
			else if (b === 0x2c && depth < bestDepth) {
				bestDepth = depth;
				best = i + 1;
			}
		}

		if (alive && best >= 0) return base + best;
	}

	return -1;
}

async function readFully(read: ReadAt, buffer: Uint8Array, length: number, position: number): Promise<number> {
	let done = 0;
	while (done < length) {
		const got = await read(buffer.subarray(done), length - done, position + done);
		if (got === 0) throw Object.assign(new Error(`unexpected end of file at byte ${position + done} (the file shrank while being swept)`), {code: 'ESHRANK'});
		done += got;
	}

	return done;
}

/** The sync point of chunk `index` (-1: none; chunk 0 has none, it starts the document). */
export async function syncPointOf(read: ReadAt, index: number, chunkSize: number, size: number): Promise<number> {
	const start = index * chunkSize;
	if (index === 0 || start >= size) return -1;
	const length = Math.min(syncWindow, chunkSize, size - start);
	const buffer = blocks.take(syncWindow);
	try {
		const got = await readFully(read, buffer, length, start);
		return findSyncPoint(buffer.subarray(0, got), start);
	} finally {
		blocks.give(buffer);
	}
}

/** Scan from `scanner`'s offset to `end` (the end of the input: finish too); stops reading at the first error. */
export async function scanRange(read: ReadAt, scanner: JsonScanner, end: number, size: number, gate: (bytes: number) => Promise<void> = async () => {}, progress: (offset: number) => void = () => {}): Promise<void> {
	const buffer = blocks.take(Math.min(blockSize, Math.max(1, size)));
	try {
		while (scanner.offset < end && !scanner.failed) {
			const length = Math.min(buffer.length, end - scanner.offset);
			await gate(length);
			const got = await readFully(read, buffer, length, scanner.offset);
			scanner.scan(buffer, 0, got);
			progress(scanner.offset);
		}
	} finally {
		blocks.give(buffer);
	}

	if (end >= size && !scanner.failed) scanner.finish();
}

/** Scan one chunk's unit (pure but for the reads, so a worker thread can run it). */
export async function scanDocumentUnit(read: ReadAt, task: DocumentTask, gate?: (bytes: number) => Promise<void>, progress?: (bytes: number) => void): Promise<DocumentUnit> {
	const {chunk, chunkSize, size, options} = task;
	const scannerOptions = {format: 'json' as const, maxDepth: options.maxDepth, ...(options.hugeToken ? {hugeToken: options.hugeToken} : {})};
	let scanner: JsonScanner;
	if (task.from === 'speculate') {
		const sync = await syncPointOf(read, chunk.id, chunkSize, size);
		if (sync < 0) return {kind: 'none'};
		scanner = speculativeScanner({...scannerOptions, offset: sync});
	} else scanner = task.from === 'start' ? new JsonScanner(scannerOptions) : JsonScanner.fromState(task.from);
	const start = scanner.offset;
	// The unit ends at the next chunk's sync point (chunks without one are read through).
	let end = size;
	const chunks = Math.ceil(size / chunkSize);
	for (let index = Math.floor(start / chunkSize) + 1; index < chunks; index++) {
		const sync = await syncPointOf(read, index, chunkSize, size);
		if (sync >= 0) {
			end = sync;
			break;
		}
	}

	await scanRange(read, scanner, end, size, gate, offset => progress?.(Math.min(chunk.size, Math.max(0, offset - chunk.start))));
	return {kind: 'unit', speculative: task.from === 'speculate', start, end, scanned: scanner.toTransfer()};
}

/**
 * Compose the units of a document in chunk order into the one-thread scan's state. Holds the scan
 * of the prefix composed so far.
 */
export class DocumentComposer {
	/** The prefix's scanner (its state is exactly the one-thread scan's at its offset). */
	scanner: JsonScanner;
	/** Units whose guess held, and units scanned again. */
	speculationsHeld = 0;
	rescans = 0;
	readonly #read: ReadAt;
	readonly #size: number;
	readonly #maxDepth: number;

	constructor(read: ReadAt, size: number, maxDepth: number, scanner: JsonScanner) {
		this.#read = read;
		this.#size = size;
		this.#maxDepth = maxDepth;
		this.scanner = scanner;
	}

	/**
	 * Add the unit of the next chunk, which ends at `chunkEnd`. Afterwards the scan has read at
	 * least to there (or failed): bytes no unit covers (after units of none, when speculation was
	 * given up) are scanned here, in order.
	 */
	async add(unit: DocumentUnit, chunkEnd: number, gate?: (bytes: number) => Promise<void>): Promise<void> {
		await this.#addUnit(unit, gate);
		const current = this.scanner;
		if (!current.failed && current.offset < chunkEnd) await scanRange(this.#read, current, chunkEnd, this.#size, gate);
	}

	async #addUnit(unit: DocumentUnit, gate?: (bytes: number) => Promise<void>): Promise<void> {
		if (unit.kind === 'none') return;
		if (!unit.speculative) {
			this.scanner = JsonScanner.fromTransfer(unit.scanned);
			return;
		}

		// After the first error there is nothing to add; a unit that starts before the prefix's end was read by it (after a resume).
		let current = this.scanner;
		if (current.failed || unit.start < current.offset) return;
		if (current.offset < unit.start) await scanRange(this.#read, current, unit.start, this.#size, gate);
		current = this.scanner;
		if (current.failed) return;
		if (!atSpeculativeStart(current)) {
			this.rescans++;
			await scanRange(this.#read, current, unit.end, this.#size, gate);
			return;
		}

		this.speculationsHeld++;
		const next = JsonScanner.fromTransfer(unit.scanned);
		rebase(next, current.line, current.lineStart, topIndex(current));
		// The guess cannot know how deep the prefix went: nesting past --max-depth is reported once per document.
		const maxDepth = this.#maxDepth;
		const nesting = next.stats.anomalies.get('json-deep-nesting');
		if (nesting && current.stats.maxDepth > maxDepth && next.stats.maxDepth > maxDepth && --nesting.count === 0) next.stats.anomalies.delete('json-deep-nesting');
		current.stats.merge(next.stats);
		next.stats = current.stats;
		this.scanner = next;
	}
}
