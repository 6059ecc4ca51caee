import {describe, expect, test} from 'vitest';
import fc from 'fast-check';
import {planChunks} from '../../source/chunker/plan.js';
import {DocumentComposer, findSyncPoint, scanDocumentUnit, type DocumentUnit, type ReadAt} from '../../source/sweep/document.js';
import {JsonScanner} from '../../source/sweep/scanner.js';

const encoder = new TextEncoder();
const maxDepth = 3;

function reader(bytes: Uint8Array): ReadAt {
	return async (buffer, length, position) => {
		const part = bytes.subarray(position, Math.min(bytes.length, position + length));
		buffer.set(part);
		return part.length;
	};
}

/** Everything a scan reports, names included. */
function full(scanner: JsonScanner) {
	return {error: scanner.error, stats: scanner.stats.toState(true), failed: scanner.failed};
}

function oneThread(bytes: Uint8Array) {
	const scanner = new JsonScanner({format: 'json', maxDepth});
	scanner.scan(bytes);
	scanner.finish();
	return scanner;
}

/** Scan every chunk's unit (in `order`, as threads would finish), then compose them in chunk order. */
async function parallel(bytes: Uint8Array, chunkSize: number, order: number[]) {
	const read = reader(bytes);
	const chunks = planChunks(bytes.length, chunkSize);
	const units = new Map<number, DocumentUnit>();
	const sequence = [...new Set([...order.filter(index => index < chunks.length), ...chunks.map(chunk => chunk.id)])];
	for (const index of sequence) {
		const chunk = chunks[index]!;
		units.set(index, await scanDocumentUnit(read, {chunk, chunkSize, size: bytes.length, options: {format: 'json', maxDepth}, from: index === 0 ? 'start' : 'speculate'}));
	}

	const composer = new DocumentComposer(read, bytes.length, maxDepth, new JsonScanner({format: 'json', maxDepth}));
	for (const chunk of chunks) await composer.add(units.get(chunk.id)!, chunk.end);
	return composer;
}

function parseVerdict(bytes: Uint8Array): boolean {
	try {
		JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(bytes));
		return true;
	} catch {
		return false;
	}
}

const record = fc.record({id: fc.integer(), name: fc.string({unit: 'grapheme', maxLength: 10}), tags: fc.array(fc.constantFrom('a', '"q"', 'é\\', '\u{1f600}'), {maxLength: 3}), deep: fc.jsonValue({maxDepth: 4}), ok: fc.boolean()});
/** Top-level arrays of records (where the guess holds) and any JSON value (where it mostly does not), compact or indented. */
const documentBytes = fc.oneof(
	fc.tuple(fc.array(record, {maxLength: 25}), fc.constantFrom(0, 1, 2)).map(([records, indent]) => encoder.encode(JSON.stringify(records, null, indent))),
	fc.jsonValue({maxDepth: 5}).map(value => encoder.encode(JSON.stringify(value) ?? 'null')),
);
const mutated = fc
	.tuple(documentBytes, fc.array(fc.tuple(fc.nat(), fc.integer({min: 0, max: 255}), fc.constantFrom('set', 'insert', 'delete')), {maxLength: 3}))
	.map(([bytes, edits]) => {
		const out = [...bytes];
		for (const [position, byte, kind] of edits) {
			const at = out.length === 0 ? 0 : position % out.length;
			if (kind === 'set' && out.length > 0) out[at] = byte;
			else if (kind === 'insert') out.splice(at, 0, byte);
			else out.splice(at, 1);
		}

		return Uint8Array.from(out);
	})
	.filter(bytes => !(bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf));

describe('one document in parallel units', () => {
	test('the sync point: after the first shallowest comma, under the start state that stays possible', () => {
		const inside = encoder.encode('ab cd", "e": [1, 2]}, {"f": 3}]');
		// From outside a string 'a' is impossible; from inside, the string ends at the first '"'.
		expect(findSyncPoint(inside, 100)).toBe(100 + inside.indexOf(0x2c, inside.indexOf(0x7d)) + 1);
		expect(findSyncPoint(encoder.encode('1, 2, [3, 4], 5'), 10)).toBe(12);
		expect(findSyncPoint(encoder.encode('"unterminated \n'), 0)).toBe(-1);
	});

	test('an array of records: every unit after the first is speculative and its guess holds', async () => {
		const records = Array.from({length: 400}, (_, id) => ({id, name: `n${id}`, text: 'quote " backslash \\ é', nested: {list: [1, 2, {deep: [id]}]}}));
		const bytes = encoder.encode(JSON.stringify(records, null, 1));
		const composer = await parallel(bytes, 4096, []);
		expect(composer.rescans).toBe(0);
		expect(composer.speculationsHeld).toBe(planChunks(bytes.length, 4096).length - 1);
		expect(full(composer.scanner)).toEqual(full(oneThread(bytes)));
		expect(composer.scanner.error).toBeNull();
	});

	test('an error deep in a later unit: offset, line, column and path as one thread has them', async () => {
		const records = Array.from({length: 300}, (_, id) => ({id, v: [id, {k: 'x'}]}));
		const text = JSON.stringify(records, null, 1).replace('"k": "x"\n   }\n  ]\n },\n {\n  "id": 250', '"k": "x"\n   }\n  ]\n },\n {\n  "id": 25O');
		const bytes = encoder.encode(text);
		const composer = await parallel(bytes, 2048, []);
		const one = oneThread(bytes);
		expect(one.error?.path).toEqual([{index: 250}, {key: 'id'}]);
		expect(composer.scanner.error).toEqual(one.error);
		expect(composer.speculationsHeld).toBeGreaterThan(5);
	});

	test('random documents, mutations, chunk sizes and finishing orders: the verdict is JSON.parse’s, the report the one-thread scan’s', async () => {
		let held = 0;
		await fc.assert(
			fc.asyncProperty(
				mutated.chain(bytes => fc.tuple(fc.constant(bytes), fc.integer({min: 1, max: Math.max(1, bytes.length)}), fc.array(fc.nat(40), {maxLength: 40}))),
				async ([bytes, chunkSize, order]) => {
					const composer = await parallel(bytes, chunkSize, order);
					held += composer.speculationsHeld;
					expect(full(composer.scanner)).toEqual(full(oneThread(bytes)));
					expect(composer.scanner.error === null).toBe(parseVerdict(bytes));
				},
			),
			{numRuns: 400},
		);
		// The speculative path is exercised, not only the rescans.
		expect(held).toBeGreaterThan(100);
	});
});
