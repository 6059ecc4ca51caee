import os from 'node:os';
import {performance} from 'node:perf_hooks';
import {useEffect, useState} from 'react';
import type {DashboardStore} from '../store.js';

/** The share of the main thread the dashboard may take while the machine has idle cores. */
export const busyBudget = 0.1;
/**
 * The share it may take while the job keeps every core busy: there, each frame's CPU is taken
 * from the cipher workers, so the dashboard draws about twice a second instead of ten times.
 */
export const saturatedBudget = 0.025;
/** The share of all cores this process must use for the machine to count as saturated. */
export const saturatedShare = 0.85;
/** The slowest the dashboard redraws on its own (key presses always redraw at once). */
export const slowestIntervalMs = 1000;

/** The dashboard's CPU budget, from the share of all the machine's cores this process used. */
export function frameBudget(processShare: number): number {
	return processShare >= saturatedShare ? saturatedBudget : busyBudget;
}

/**
 * The next frame interval, from the main thread's event-loop utilisation since the last frame.
 * A frame of the dashboard costs 5–20 ms of CPU (React, the layout engine and Ink's text output,
 * all redone in full each frame), so the dashboard slows down until the main thread is busy at
 * most `budget` of the time; it speeds up again, to `fps`, when there is room.
 */
export function nextInterval(current: number, utilization: number, fps: number, budget = busyBudget): number {
	const fastest = Math.max(1, Math.round(1000 / fps));
	if (utilization > budget) return Math.min(slowestIntervalMs, Math.round(current * Math.min(2, utilization / budget)));
	if (utilization < budget / 2) return Math.max(fastest, Math.round(current * 0.8));
	return Math.max(fastest, current);
}

/**
 * Re-render at most `fps` times a second, and only when the state changed (or once a second, so
 * clocks move while nothing happens), within the CPU budget above (the tighter one while this
 * process keeps all cores busy). Returns a frame counter to key
 * memoized work on.
 */
export function useFrame(store: DashboardStore, fps: number): number {
	const [frame, setFrame] = useState(0);
	useEffect(() => {
		let shown = store.state.version;
		let shownAt = Date.now();
		let interval = Math.max(1, Math.round(1000 / fps));
		let usage = performance.eventLoopUtilization();
		let cpu = process.cpuUsage();
		let cpuAt = performance.now();
		const cores = os.availableParallelism();
		let timer: NodeJS.Timeout | undefined;
		const render = () => {
			shown = store.state.version;
			shownAt = Date.now();
			setFrame(value => value + 1);
		};

		const tick = () => {
			const now = performance.eventLoopUtilization();
			const cpuNow = process.cpuUsage();
			const at = performance.now();
			const share = (cpuNow.user - cpu.user + cpuNow.system - cpu.system) / 1000 / (Math.max(1, at - cpuAt) * cores);
			interval = nextInterval(interval, performance.eventLoopUtilization(now, usage).utilization, fps, frameBudget(share));
			usage = now;
			cpu = cpuNow;
			cpuAt = at;
			if (store.state.version !== shown || Date.now() - shownAt >= 1000) render();
			timer = setTimeout(tick, interval);
			timer.unref();
		};

		timer = setTimeout(tick, interval);
		timer.unref();
		const unsubscribe = store.subscribe(render);
		return () => {
			clearTimeout(timer);
			unsubscribe();
		};
	}, [store, fps]);
	return frame;
}
