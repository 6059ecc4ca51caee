import {describe, expect, it} from 'vitest';
import {busyBudget, frameBudget, nextInterval, saturatedBudget, saturatedShare, slowestIntervalMs} from '../../source/ui/hooks/use-frame.js';

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

	it('takes a quarter of the budget while the job keeps every core busy', () => {
		expect(frameBudget(0.2)).toBe(busyBudget);
		expect(frameBudget(saturatedShare - 0.01)).toBe(busyBudget);
		expect(frameBudget(saturatedShare)).toBe(saturatedBudget);
		expect(frameBudget(1)).toBe(saturatedBudget);
		// A 12 ms frame every 100 ms is within the idle budget, and settles near 500 ms when saturated.
		expect(nextInterval(100, 0.12 * 0.75, 10, busyBudget)).toBe(100);
		let interval = 100;
		for (let frame = 0; frame < 10; frame++) interval = nextInterval(interval, 12 / interval, 10, saturatedBudget);
		expect(interval).toBeGreaterThanOrEqual(400);
		expect(interval).toBeLessThanOrEqual(600);
	});
});
