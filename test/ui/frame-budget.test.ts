import {describe, expect, it} from 'vitest';
import {busyBudget, nextInterval, slowestIntervalMs} from '../../source/ui/hooks/use-frame.js';

describe('the frame budget', () => {
	it('keeps the fastest rate (fps) while the main thread is mostly idle', () => {
		expect(nextInterval(100, 0.01, 10)).toBe(100);
		expect(nextInterval(100, busyBudget * 0.75, 10)).toBe(100);
	});

	it('slows down in proportion to the overshoot, at most doubling per frame', () => {
		expect(nextInterval(100, busyBudget * 1.5, 10)).toBe(150);
		expect(nextInterval(100, busyBudget * 5, 10)).toBe(200);
	});

	it('never waits longer than a second between frames', () => {
		let interval = 100;
		for (let frame = 0; frame < 20; frame++) interval = nextInterval(interval, 0.9, 10);
		expect(interval).toBe(slowestIntervalMs);
	});

	it('speeds up again when there is room, back to fps and no further', () => {
		let interval = slowestIntervalMs;
		const seen: number[] = [];
		for (let frame = 0; frame < 20; frame++) {
			interval = nextInterval(interval, 0.01, 10);
			seen.push(interval);
		}

		expect(seen[0]).toBe(800);
		expect(seen.at(-1)).toBe(100);
		expect(Math.min(...seen)).toBe(100);
	});
});
