import {describe, expect, it, vi} from 'vitest';
import {AbortedError, maxBurstMs, SharedControl} from '../../source/chunker/control.js';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

describe('SharedControl', () => {
	it('lets bytes through at once when no rate is set', async () => {
		const control = new SharedControl();
		const started = performance.now();
		for (let index = 0; index < 100; index++) await control.gate(10 * 2 ** 20);
		expect(performance.now() - started).toBeLessThan(500);
	});

	it('holds the byte rate roughly to the limit', async () => {
		const control = new SharedControl();
		control.setRate(1_000_000); // 1 MB/s
		expect(control.rate).toBe(1_000_000);
		const started = performance.now();
		// 400 kB in 40 kB steps: ideally 0.4 s.
		for (let index = 0; index < 10; index++) await control.gate(40_000);
		const elapsed = performance.now() - started;
		expect(elapsed).toBeGreaterThan(300);
		expect(elapsed).toBeLessThan(2000);
	});

	it('shares one rate budget between gates running at once', async () => {
		const control = new SharedControl();
		control.setRate(2_000_000);
		const started = performance.now();
		// Four consumers of 200 kB each: 800 kB at 2 MB/s is ~0.4 s, not 0.1 s.
		await Promise.all(
			Array.from({length: 4}, async () => {
				for (let index = 0; index < 5; index++) await control.gate(40_000);
			}),
		);
		const elapsed = performance.now() - started;
		expect(elapsed).toBeGreaterThan(300);
		expect(elapsed).toBeLessThan(2000);
	});

	it('setRate(0) lifts the limit and negative rates mean unlimited', async () => {
		const control = new SharedControl();
		control.setRate(1000);
		control.setRate(0);
		const started = performance.now();
		await control.gate(1_000_000);
		control.setRate(-5);
		expect(control.rate).toBe(0);
		await control.gate(1_000_000);
		expect(performance.now() - started).toBeLessThan(200);
	});

	it('pause blocks gate() until resume', async () => {
		const control = new SharedControl();
		control.pause();
		expect(control.paused).toBe(true);
		let passed = false;
		const gate = control.gate(1).then(() => {
			passed = true;
		});
		await sleep(300);
		expect(passed).toBe(false);
		control.resume();
		expect(control.paused).toBe(false);
		await gate;
		expect(passed).toBe(true);
	});

	it('time spent paused does not turn into a burst of rate budget', async () => {
		const control = new SharedControl();
		control.setRate(500_000);
		control.pause();
		await sleep(400);
		control.resume();
		const started = performance.now();
		// Without a window restart, 200 kB would pass at once on 0.4 s of saved-up budget.
		await control.gate(100_000);
		await control.gate(100_000);
		expect(performance.now() - started).toBeGreaterThan(250);
	});

	it('abort throws AbortedError from gate, also while paused or waiting on the rate', async () => {
		const aborted = new SharedControl();
		aborted.abort();
		expect(aborted.aborted).toBe(true);
		await expect(aborted.gate(1)).rejects.toBeInstanceOf(AbortedError);
		expect(() => aborted.gateSync(1)).toThrow(AbortedError);

		const paused = new SharedControl();
		paused.pause();
		const waiting = paused.gate(1);
		await sleep(50);
		paused.abort();
		await expect(waiting).rejects.toMatchObject({name: 'AbortedError', code: 'ABORTED'});
		expect(paused.paused).toBe(false);

		const limited = new SharedControl();
		limited.setRate(1000);
		const controller = new AbortController();
		const started = performance.now();
		// 100 kB at 1 kB/s is 100 s; the signal ends the wait at once.
		const slow = limited.gate(100_000, controller.signal);
		setTimeout(() => controller.abort(), 50);
		await expect(slow).rejects.toBeInstanceOf(AbortedError);
		expect(performance.now() - started).toBeLessThan(2000);
	});

	it('a view built from the handle sees the same pause, abort and rate', async () => {
		const control = new SharedControl();
		const view = new SharedControl(control.handle);
		control.setRate(12_345);
		expect(view.rate).toBe(12_345);
		control.pause();
		expect(view.paused).toBe(true);
		control.resume();
		expect(view.paused).toBe(false);
		view.abort();
		expect(control.aborted).toBe(true);
		await expect(control.gate(1)).rejects.toBeInstanceOf(AbortedError);
	});

	it('gateSync holds the rate too (blocking, as in a worker thread)', () => {
		const control = new SharedControl();
		control.setRate(1_000_000);
		const started = performance.now();
		for (let index = 0; index < 5; index++) control.gateSync(50_000);
		const elapsed = performance.now() - started;
		expect(elapsed).toBeGreaterThan(180);
		expect(elapsed).toBeLessThan(2000);
	});

	describe('after the process was stopped (injected clock)', () => {
		const MiB = 2 ** 20;
		const rate = 100 * MiB;
		/**
		 * Drive a limited job on a fake clock: `workers` consumers of 1 MiB blocks, each waiting what
		 * `reserve` says and then taking `workMs` to process its block. Returns the bytes whose
		 * block started in each of the `seconds` after `from` (the clock's value when asked).
		 */
		function simulate(control: SharedControl, clock: {now: number}, {workers = 2, workMs = 1, until}: {workers?: number; workMs?: number; until: number}): Array<{at: number; bytes: number}> {
			const free = Array.from({length: workers}, () => clock.now);
			const started: Array<{at: number; bytes: number}> = [];
			for (;;) {
				const worker = free.indexOf(Math.min(...free));
				clock.now = free[worker]!;
				if (clock.now >= until) return started;
				const wait = control.reserve(MiB);
				started.push({at: clock.now + wait, bytes: MiB});
				free[worker] = clock.now + wait + workMs;
			}
		}

		const inWindow = (started: Array<{at: number; bytes: number}>, from: number, to: number) => started.filter(({at}) => at >= from && at < to).reduce((sum, {bytes}) => sum + bytes, 0);

		it('does not pay back the lost time: a 5 s stop, then the next second stays near the rate', () => {
			const clock = {now: 1_000_000};
			const control = new SharedControl(undefined, {now: () => clock.now});
			control.setRate(rate);
			const before = simulate(control, clock, {until: 1_000_000 + 3000});
			// Running: 100 MiB a second (one block of slack for the last block in flight).
			expect(inWindow(before, 1_001_000, 1_002_000)).toBeGreaterThanOrEqual(99 * MiB);
			expect(inWindow(before, 1_001_000, 1_002_000)).toBeLessThanOrEqual(101 * MiB);
			// SIGSTOP for 5 s: nothing runs; SIGCONT.
			const resumedAt = clock.now + 5000;
			clock.now = resumedAt;
			const after = simulate(control, clock, {until: resumedAt + 6000});
			for (let second = 0; second < 6; second++) {
				const bytes = inWindow(after, resumedAt + second * 1000, resumedAt + (second + 1) * 1000);
				// At most the burst allowance above the rate, in the first second and every other.
				expect(bytes, `second ${second} after SIGCONT`).toBeLessThanOrEqual(rate + (rate * maxBurstMs) / 1000 + MiB);
				expect(bytes, `second ${second} after SIGCONT`).toBeGreaterThanOrEqual(99 * MiB);
			}
		});

		it('a burst never exceeds one second\'s worth, however long the job ran below the rate', () => {
			const clock = {now: 5000};
			const control = new SharedControl(undefined, {now: () => clock.now});
			control.setRate(rate);
			// A slow disk: 1 MiB blocks take 50 ms each, 20 MiB/s for a minute.
			simulate(control, clock, {workers: 1, workMs: 50, until: 65_000});
			// The disk is fast again: what passes at once (no wait at all) is the burst.
			let burst = 0;
			while (control.reserve(MiB) === 0) burst += MiB;
			expect(burst).toBeLessThanOrEqual(rate);
			expect(burst).toBeLessThanOrEqual((rate * maxBurstMs) / 1000 + MiB);
		});

		it('a clock that went back (the wall clock set back) does not stall the limiter: the clock is monotonic', () => {
			const control = new SharedControl();
			control.setRate(rate);
			const spy = vi.spyOn(Date, 'now').mockReturnValue(Date.now() - 3_600_000);
			try {
				expect(control.reserve(MiB)).toBeLessThan(100);
			} finally {
				spy.mockRestore();
			}
		});

		it('a view built from the handle shares the schedule', () => {
			const clock = {now: 10_000};
			const control = new SharedControl(undefined, {now: () => clock.now});
			const view = new SharedControl(control.handle, {now: () => clock.now});
			control.setRate(MiB);
			expect(control.reserve(MiB / 2)).toBeCloseTo(500, 3);
			expect(view.reserve(MiB / 2)).toBeCloseTo(1000, 3);
		});
	});
});
