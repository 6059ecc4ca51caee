/**
 * Safe split points: where a JSON Lines file or a JSON document can be cut so that every part
 * holds whole records. JSON Lines: after a newline. JSON: between elements of the top-level array
 * (a part then becomes a valid array of its own: '[' before it, ']' after it, the comma between
 * the two parts dropped), or between concatenated top-level values. Each cut is moved to the
 * first record boundary at or after where the chunk size puts it; a record longer than a chunk is
 * reported. One pass over the bytes, in bounded memory (a lexer of strings, escapes and depth: it
 * does not validate; sweep the file first when in doubt).
 */
import type {ReadAt} from './document.js';

export type Boundaries = 'jsonl' | 'json';

/** One part of a split: source bytes [start, end), and what goes around them. */
export type SplitPart = {
	start: number;
	end: number;
	/** JSON Lines: lines; a top-level array: elements; values: top-level values. */
	records: number;
	/** Added before and after the source bytes ('[' and ']' for parts of a top-level array). */
	prefix: string;
	suffix: string;
};

/** A record longer than the chunk size: [start, start + bytes). */
export type OversizedRecord = {start: number; bytes: number};

export type SplitPlan = {
	/** lines (JSON Lines), array (the parts of a top-level array), values (concatenated values or one value). */
	shape: 'lines' | 'array' | 'values';
	parts: SplitPart[];
	/** The first few records longer than a chunk, and how many there are. */
	oversized: OversizedRecord[];
	oversizedCount: number;
};

/** Oversized records listed (the rest counted). */
const listedOversized = 20;
const blockSize = 2 ** 20;

type Boundary = {end: number; next: number};

/**
 * The record boundaries of the input, in order: a record ends at `end`, the next starts at
 * `next` (JSON arrays: the comma between them is in neither).
 */
async function * recordBoundaries(read: ReadAt, size: number, boundaries: Boundaries, shape: {value: 'lines' | 'array' | 'values'; element: boolean}): AsyncGenerator<Boundary> {
	const buffer = new Uint8Array(Math.min(blockSize, Math.max(1, size)));
	shape.value = boundaries === 'jsonl' ? 'lines' : 'values';
	let started = false;
	let inString = false;
	let escape = false;
	let depth = 0;
	/** values: inside a number or literal at the top level. */
	let inScalar = false;
	for (let position = 0; position < size; ) {
		const got = await read(buffer, Math.min(buffer.length, size - position), position);
		if (got === 0) throw Object.assign(new Error(`unexpected end of file at byte ${position} (the file shrank while being read)`), {code: 'ESHRANK'});
		if (boundaries === 'jsonl') {
			for (let at = buffer.indexOf(0x0a); at >= 0 && at < got; at = buffer.indexOf(0x0a, at + 1)) yield {end: position + at + 1, next: position + at + 1};
			position += got;
			continue;
		}

		for (let i = 0; i < got; i++) {
			const b = buffer[i]!;
			if (inString) {
				if (escape) escape = false;
				else if (b === 0x5c) escape = true;
				else if (b === 0x22) {
					inString = false;
					if (depth === 0 && shape.value === 'values') yield {end: position + i + 1, next: position + i + 1};
				}

				continue;
			}

			const space = b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
			if (inScalar) {
				if (space || b === 0x22 || b === 0x5b || b === 0x7b || b === 0x5d || b === 0x7d || b === 0x2c) {
					inScalar = false;
					yield {end: position + i, next: position + i};
				} else continue;
			}

			if (space) continue;
			if (!started) {
				started = true;
				if (b === 0x5b) shape.value = 'array';
			}

			// array: the element after the last comma has begun (not just the closing ']').
			if (depth >= 1 && !(depth === 1 && (b === 0x5d || b === 0x2c))) shape.element = true;
			if (b === 0x22) inString = true;
			else if (b === 0x5b || b === 0x7b) depth++;
			else if (b === 0x5d || b === 0x7d) {
				depth--;
				if (depth === 0 && shape.value === 'values') yield {end: position + i + 1, next: position + i + 1};
			} else if (b === 0x2c) {
				if (depth === 1 && shape.value === 'array') {
					shape.element = false;
					yield {end: position + i, next: position + i + 1};
				}
			} else if (depth === 0 && shape.value === 'values') inScalar = true;
		}

		position += got;
	}

	if (inScalar) yield {end: size, next: size};
}

/** Plan the parts of a split of `size` bytes into pieces of about `chunkSize`, cut at record boundaries. */
export async function planRecordParts(read: ReadAt, size: number, boundaries: Boundaries, chunkSize: number): Promise<SplitPlan> {
	const shape = {value: 'lines' as SplitPlan['shape'], element: false};
	const cuts: Boundary[] = [];
	const counts: number[] = [];
	const oversized: OversizedRecord[] = [];
	let oversizedCount = 0;
	let partStart = 0;
	let recordStart = 0;
	let records = 0;
	for await (const boundary of recordBoundaries(read, size, boundaries, shape)) {
		records++;
		if (boundary.end - recordStart > chunkSize) {
			if (oversized.length < listedOversized) oversized.push({start: recordStart, bytes: boundary.end - recordStart});
			oversizedCount++;
		}

		recordStart = boundary.next;
		// The cut goes to the first boundary at or after where the chunk size puts it; none at the very end.
		if (boundary.end - partStart >= chunkSize && boundary.next < size) {
			cuts.push(boundary);
			counts.push(records);
			records = 0;
			partStart = boundary.next;
		}
	}

	// The last record: what follows the last boundary, when it holds more than white space.
	if (size - recordStart > chunkSize) {
		if (oversized.length < listedOversized) oversized.push({start: recordStart, bytes: size - recordStart});
		oversizedCount++;
	}

	// The last record has no boundary after it (values end with theirs).
	const tail = records + ((shape.value === 'lines' && recordStart < size) || (shape.value === 'array' && shape.element) ? 1 : 0);
	const parts: SplitPart[] = [];
	let start = 0;
	const array = shape.value === 'array' && cuts.length > 0;
	for (const [index, cut] of [...cuts, {end: size, next: size}].entries()) {
		const last = index === cuts.length;
		parts.push({start, end: cut.end, records: last ? tail : counts[index]!, prefix: array && index > 0 ? '[' : '', suffix: array && !last ? ']' : ''});
		start = cut.next;
	}

	return {shape: shape.value, parts, oversized, oversizedCount};
}
