import {describe, expect, it} from 'vitest';
import {AbortedError, SharedControl} from '../../source/chunker/control.js';

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
});
