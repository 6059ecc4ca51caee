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

test('objects that follow the shape of the one before, leave it, and outgrow the short lists behave as Sets too', () => {
	// Few distinct hashes and shapes that repeat: objects follow their level's previous object, then
	// part from it; a list limit of 3 sends longer objects to the table.
	const shape = fc.array(fc.integer({min: 0, max: 12}), {maxLength: 14});
	fc.assert(
		fc.property(fc.array(fc.tuple(fc.nat(2), fc.oneof(shape, fc.constant([0, 1, 2, 3, 4, 5, 6, 7, 8]), fc.constant([0, 1, 2, 3, 4, 5, 6, 7, 8, 0]))), {maxLength: 40}), objects => {
			const table = new DuplicateKeys(3, 10, 3);
			for (const [level, keys] of objects) {
				table.clear(level);
				const model = new Set<number>();
				for (const key of keys) {
					const hash = key * 16;
					const seen = model.has(hash);
					if (!seen && model.size < 10) model.add(hash);
					expect(table.seenOrAdd(level, hash)).toBe(seen);
				}

				expect(table.keys(level)).toEqual([...model].sort((a, b) => a - b));
			}
		}),
		{numRuns: 500},
	);
});
