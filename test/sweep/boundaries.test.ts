import {describe, expect, test} from 'vitest';
import fc from 'fast-check';
import {planRecordParts, type SplitPlan} from '../../source/sweep/boundaries.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function plan(text: string, boundaries: 'jsonl' | 'json', chunkSize: number): Promise<{bytes: Uint8Array; plan: SplitPlan}> {
	const bytes = encoder.encode(text);
	// Reads of at most 7 bytes: boundaries are found across read edges.
	const read = async (buffer: Uint8Array, length: number, position: number) => {
		const part = bytes.subarray(position, Math.min(bytes.length, position + Math.min(length, 7)));
		buffer.set(part);
		return part.length;
	};
	return {bytes, plan: await planRecordParts(read, bytes.length, boundaries, chunkSize)};
}

const plaintexts = ({bytes, plan: {parts}}: {bytes: Uint8Array; plan: SplitPlan}) => parts.map(part => part.prefix + decoder.decode(bytes.subarray(part.start, part.end)) + part.suffix);
const value = fc.jsonValue({maxDepth: 3}).filter(item => item !== undefined);
const tricky = fc.constantFrom('a,b', '[', ']', '{', '"', '\\', '\\"', 'é', '\n');

describe('record boundaries', () => {
	test('JSON Lines: the parts are whole lines, at least a chunk each but the last, and concatenated give the file', async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(fc.oneof(value.map(item => JSON.stringify(item)), fc.constant('')), {maxLength: 30}), fc.boolean(), fc.integer({min: 1, max: 200}), async (lines, finalNewline, chunkSize) => {
				const text = lines.join('\n') + (finalNewline && lines.length > 0 ? '\n' : '');
				const result = await plan(text, 'jsonl', chunkSize);
				const texts = plaintexts(result);
				expect(texts.join('')).toBe(text);
				for (const [index, part] of result.plan.parts.entries()) {
					if (index < texts.length - 1) {
						expect(texts[index]!.endsWith('\n')).toBe(true);
						expect(part.end - part.start).toBeGreaterThanOrEqual(chunkSize);
					}
				}

				expect(result.plan.parts.reduce((sum, part) => sum + part.records, 0)).toBe(text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0));
			}),
			{numRuns: 300},
		);
	});

	test('a top-level array: every part is an array of its own, and their elements are the array', async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(fc.oneof(value, tricky), {maxLength: 30}), fc.constantFrom(0, 1, 2), fc.integer({min: 1, max: 300}), async (elements, indent, chunkSize) => {
				const text = `${JSON.stringify(elements, null, indent)}\n`;
				const result = await plan(text, 'json', chunkSize);
				const parts = plaintexts(result).map(part => JSON.parse(part) as unknown[]);
				// As JSON has them (-0 is written 0).
				expect(parts.flat(1)).toEqual(JSON.parse(JSON.stringify(elements)));
				expect(result.plan.parts.reduce((sum, part) => sum + part.records, 0)).toBe(elements.length);
				if (parts.length > 1) expect(result.plan.shape).toBe('array');
			}),
			{numRuns: 300},
		);
	});

	test('concatenated top-level values: every part is whole values', async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(fc.oneof(value, tricky), {minLength: 1, maxLength: 20}), fc.integer({min: 1, max: 100}), async (values, chunkSize) => {
				const text = values.map(item => JSON.stringify(item)).join(' \n');
				const result = await plan(text, 'json', chunkSize);
				// An array first makes the shape an array; values here start with anything else.
				fc.pre(result.plan.shape === 'values');
				const parsed = plaintexts(result).flatMap(part => part.trim() === '' ? [] : part.trim().split(' \n').filter(Boolean).map(item => JSON.parse(item) as unknown));
				expect(parsed).toEqual(JSON.parse(JSON.stringify(values)));
				expect(result.plan.parts.reduce((sum, part) => sum + part.records, 0)).toBe(values.length);
			}),
			{numRuns: 300},
		);
	});

	test('a record larger than a chunk is reported, where it starts and how long it is', async () => {
		const lines = ['{"a":1}', JSON.stringify({big: 'x'.repeat(500)}), '{"b":2}', ''];
		const {plan: result} = await plan(lines.join('\n'), 'jsonl', 100);
		expect(result.oversizedCount).toBe(1);
		expect(result.oversized).toEqual([{start: 8, bytes: lines[1]!.length + 1}]);
		const {plan: one} = await plan(JSON.stringify({whole: 'y'.repeat(300)}), 'json', 100);
		expect(one.parts).toHaveLength(1);
		expect(one.oversizedCount).toBe(1);
	});
});
