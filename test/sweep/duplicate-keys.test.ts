import {expect, test} from 'vitest';
import fc from 'fast-check';
import {DuplicateKeys} from '../../source/sweep/duplicate-keys.js';

test('per-level key sets behave as a Set capped per object, cleared when an object opens', () => {
	const operation = fc.oneof(fc.tuple(fc.constant('open' as const), fc.nat(3), fc.constant(0)), fc.tuple(fc.constant('key' as const), fc.nat(3), fc.integer({min: 0, max: 40})));
	fc.assert(
		fc.property(fc.array(operation, {maxLength: 300}), operations => {
			const table = new DuplicateKeys(4, 8);
			const model = Array.from({length: 4}, () => new Set<number>());
			for (const [kind, level, hash] of operations) {
				if (kind === 'open') {
					table.clear(level);
					model[level]!.clear();
					continue;
				}

				// Hashes that collide in the table's slots (multiples of 16) as well as others.
				const key = hash * 16 + (hash % 3);
				const seen = model[level]!.has(key);
				if (!seen && model[level]!.size < 8) model[level]!.add(key);
				expect(table.seenOrAdd(level, key)).toBe(seen);
			}

			for (let level = 0; level < 4; level++) expect(table.keys(level)).toEqual([...model[level]!].sort((a, b) => a - b));
		}),
		{numRuns: 300},
	);
});
