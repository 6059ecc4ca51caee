import {describe, expect, it} from 'vitest';
import {expiredGenerations} from '../../source/backup/retention.js';
import type {Generation, GenerationStatus} from '../../source/backup/registry.js';

const day = 24 * 60 * 60 * 1000;
const now = Date.parse('2026-12-02T00:00:00Z');

function gen(generation: number, daysAgo: number, status: GenerationStatus = 'complete'): Generation {
	return {
		generation,
		file: `f.00000000.g${generation}.age`,
		createdAt: new Date(now - daysAgo * day).toISOString(),
		status,
		source: {path: '/f', size: 1, mtimeMs: 0, ino: 1, dev: 1},
		size: 1,
		chunkSize: 65_536,
		recipients: [],
		passphrase: false,
	};
}

const numbers = (list: Generation[]) => list.map(g => g.generation).sort((a, b) => a - b);

describe('expiredGenerations', () => {
	it('keep-last 2 of five removes 1..3 and keeps the newest, whatever the list order and the clocks say', () => {
		// Listed newest first and shuffled; generation 5 was made on a machine whose clock was behind,
		// so by date it is the oldest: the older Cage deleted it.
		const generations = [gen(3, 3), gen(5, 10), gen(1, 5), gen(4, 2), gen(2, 4)];
		expect(numbers(expiredGenerations(generations, {keepLast: 2, keepDays: 0}, now))).toEqual([1, 2, 3]);
		expect(numbers(expiredGenerations(generations.reverse(), {keepLast: 2, keepDays: 0}, now))).toEqual([1, 2, 3]);
	});

	it('keep-all removes nothing', () => {
		expect(expiredGenerations([gen(1, 900), gen(2, 800)], {keepLast: 0, keepDays: 0}, now)).toEqual([]);
	});

	it('never removes a generation being written, nor counts it among the last N', () => {
		const generations = [gen(1, 3), gen(2, 2), gen(3, 1), gen(4, 0, 'partial')];
		expect(numbers(expiredGenerations(generations, {keepLast: 2, keepDays: 0}, now))).toEqual([1]);
		expect(numbers(expiredGenerations([gen(1, 100, 'partial'), gen(2, 1)], {keepLast: 1, keepDays: 1}, now))).toEqual([]);
	});

	it('keep-days removes what is older than D days, but never the newest complete generation', () => {
		expect(numbers(expiredGenerations([gen(1, 30), gen(2, 20), gen(3, 2)], {keepLast: 0, keepDays: 7}, now))).toEqual([1, 2]);
		expect(numbers(expiredGenerations([gen(1, 30), gen(2, 20)], {keepLast: 0, keepDays: 7}, now))).toEqual([1]);
	});

	it('keep-last-and-days: the last N always stay; others go only when older than D days', () => {
		const generations = [gen(1, 40), gen(2, 30), gen(3, 5), gen(4, 50), gen(5, 60)];
		// 4 and 5 are the last 2 (old as they are); 3 is young; 1 and 2 are old.
		expect(numbers(expiredGenerations(generations, {keepLast: 2, keepDays: 10}, now))).toEqual([1, 2]);
	});

	it('a damaged generation newer than the N-th complete one stays; older ones go', () => {
		const generations = [gen(1, 4), gen(2, 3, 'damaged'), gen(3, 2), gen(4, 1, 'damaged'), gen(5, 0)];
		expect(numbers(expiredGenerations(generations, {keepLast: 2, keepDays: 0}, now))).toEqual([1, 2]);
	});

	it('finishes the journal: generations marked pruning always go', () => {
		expect(numbers(expiredGenerations([gen(1, 0, 'pruning'), gen(2, 0)], {keepLast: 5, keepDays: 0}, now))).toEqual([1]);
	});
});
