import {describe, expect, it} from 'vitest';
import {baseChunkSize, chunkAt, chunkCount, defaultChunkSize, GiB, maxChunks, MiB, planChunks, targetMaxChunks, TiB, type Chunk} from '../../source/chunker/plan.js';

/** Every property a plan must have: ids 0..n-1, contiguous half-open ranges covering [0, size). */
function expectWellFormed(plan: Chunk[], size: number, chunkSize: number): void {
	expect(plan.length).toBe(chunkCount(size, chunkSize));
	let offset = 0;
	for (const [index, chunk] of plan.entries()) {
		expect(chunk.id).toBe(index);
		expect(chunk.start).toBe(offset);
		expect(chunk.size).toBe(chunk.end - chunk.start);
		expect(chunk.size).toBeLessThanOrEqual(chunkSize);
		// Only the last chunk may be shorter than chunkSize (and only it may be empty).
		if (index < plan.length - 1) expect(chunk.size).toBe(chunkSize);
		expect(chunkAt(size, chunkSize, index)).toEqual(chunk);
		offset = chunk.end;
	}

	expect(offset).toBe(size);
}

describe('planChunks', () => {
	it('plans an empty file as one empty chunk', () => {
		expect(planChunks(0, 1024)).toEqual([{id: 0, start: 0, end: 0, size: 0}]);
		expect(chunkCount(0, 1024)).toBe(1);
		expect(chunkAt(0, 1024, 0)).toEqual({id: 0, start: 0, end: 0, size: 0});
	});

	it('plans one byte as one one-byte chunk', () => {
		expect(planChunks(1, 1024)).toEqual([{id: 0, start: 0, end: 1, size: 1}]);
		expect(planChunks(1, 1)).toEqual([{id: 0, start: 0, end: 1, size: 1}]);
	});

	it('plans a file smaller than a chunk as one chunk of its size', () => {
		expect(planChunks(1000, 4096)).toEqual([{id: 0, start: 0, end: 1000, size: 1000}]);
	});

	it('plans exact multiples without an empty trailing chunk', () => {
		const plan = planChunks(4 * 1024, 1024);
		expect(plan).toHaveLength(4);
		expect(plan.at(-1)).toEqual({id: 3, start: 3072, end: 4096, size: 1024});
		expectWellFormed(plan, 4096, 1024);
		expect(planChunks(1024, 1024)).toEqual([{id: 0, start: 0, end: 1024, size: 1024}]);
	});

	it('makes the last chunk shorter when the size is not a multiple', () => {
		const plan = planChunks(2500, 1000);
		expect(plan).toEqual([
			{id: 0, start: 0, end: 1000, size: 1000},
			{id: 1, start: 1000, end: 2000, size: 1000},
			{id: 2, start: 2000, end: 2500, size: 500},
		]);
		expect(planChunks(1025, 1024).at(-1)).toEqual({id: 1, start: 1024, end: 1025, size: 1});
	});

	it('always yields contiguous half-open ranges covering the file (many sizes)', () => {
		for (const chunkSize of [1, 2, 3, 7, 64, 1000, 4096]) {
			for (const size of [0, 1, 2, 3, 63, 64, 65, 999, 1000, 1001, 4095, 4096, 4097, 12_345]) {
				if (size / chunkSize > 2000) continue;
				expectWellFormed(planChunks(size, chunkSize), size, chunkSize);
			}
		}
	});

	it('rejects invalid sizes and chunk sizes', () => {
		for (const size of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
			expect(() => planChunks(size, 1024)).toThrow(/size must be a non-negative integer/);
			expect(() => chunkCount(size, 1024)).toThrow(RangeError);
		}

		for (const chunkSize of [0, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
			expect(() => planChunks(1024, chunkSize)).toThrow(/chunk size must be a positive integer/);
			expect(() => chunkAt(1024, chunkSize, 0)).toThrow(RangeError);
		}
	});

	it(`has at most maxChunks (${2 ** 24}) chunks, and says which chunk size fits`, () => {
		expect(maxChunks).toBe(2 ** 24);
		expect(chunkCount(TiB, 64 * 1024)).toBe(maxChunks);
		expect(() => chunkCount(TiB + 1, 64 * 1024)).toThrow(RangeError);
		expect(() => chunkCount(2 * TiB, 64 * 1024)).toThrow(
			"2.00 TiB in chunks of 64.0 KiB is 33554432 chunks, more than the 16777216 a job can have: use a chunk size of 128KiB or more (--chunk-size, or 'cage config set chunkSize')",
		);
		expect(() => planChunks(2 ** 53 - 1, 1)).toThrow(/use a chunk size of 512MiB or more/);
		expect(chunkCount(2 ** 53 - 1, 512 * MiB)).toBeLessThanOrEqual(maxChunks);
	});

	it('chunkAt rejects ids outside the plan', () => {
		expect(() => chunkAt(2500, 1000, 3)).toThrow(/chunk 3 is outside the plan \(0\.\.2\)/);
		expect(() => chunkAt(2500, 1000, -1)).toThrow(RangeError);
		expect(() => chunkAt(2500, 1000, 1.5)).toThrow(RangeError);
		expect(() => chunkAt(0, 1000, 1)).toThrow(RangeError);
	});
});

describe('defaultChunkSize', () => {
	it('is 16 MiB up to 4096 chunks of it, then doubles', () => {
		expect(defaultChunkSize(0)).toBe(baseChunkSize);
		expect(defaultChunkSize(1)).toBe(16 * MiB);
		expect(defaultChunkSize(64 * GiB)).toBe(16 * MiB);
		expect(defaultChunkSize(64 * GiB + 1)).toBe(32 * MiB);
		expect(defaultChunkSize(TiB)).toBe(256 * MiB);
	});

	it('keeps every plan at or under the chunk target', () => {
		for (const size of [0, 1, 17 * MiB, 64 * GiB - 1, 64 * GiB, 64 * GiB + 1, 100 * GiB, TiB, 3 * TiB + 12_345, 2 ** 52]) {
			const chunkSize = defaultChunkSize(size);
			expect(chunkCount(size, chunkSize)).toBeLessThanOrEqual(targetMaxChunks);
			// And the chunk size is no larger than needed: half of it would exceed the target.
			if (chunkSize > baseChunkSize) expect(Math.ceil(size / (chunkSize / 2))).toBeGreaterThan(targetMaxChunks);
		}
	});

	it('plans a 1 TiB file quickly, by count and in full', () => {
		const started = performance.now();
		const chunkSize = defaultChunkSize(TiB);
		expect(chunkCount(TiB, chunkSize)).toBe(4096);
		const plan = planChunks(TiB, chunkSize);
		expect(plan).toHaveLength(4096);
		expect(plan.at(-1)).toEqual({id: 4095, start: TiB - 256 * MiB, end: TiB, size: 256 * MiB});
		// Even a million 1 MiB chunks is integer arithmetic only.
		expect(chunkCount(TiB, MiB)).toBe(1024 * 1024);
		expect(chunkAt(TiB + 1, MiB, 1024 * 1024)).toEqual({id: 1024 * 1024, start: TiB, end: TiB + 1, size: 1});
		expect(performance.now() - started).toBeLessThan(1000);
	});
});
