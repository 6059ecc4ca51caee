import {performance} from 'node:perf_hooks';
import {useEffect, useState} from 'react';
import type {DashboardStore} from '../store.js';

/** The share of the main thread the dashboard aims to leave to the job (see `nextInterval`). */
export const busyBudget = 0.1;
/** The slowest the dashboard redraws on its own (key presses always redraw at once). */
export const slowestIntervalMs = 1000;

/**
 * The next frame interval, from the main thread's event-loop utilisation since the last frame.
 * A frame of the dashboard costs 5–20 ms of CPU (React, the layout engine and Ink's text output,
 * all redone in full each frame). On a machine whose cores the job keeps busy, that time comes
 * out of the job, so the dashboard slows down until the main thread is busy at most
 * `busyBudget` of the time; it speeds up again, to `fps`, when there is room.
 */
export function nextInterval(current: number, utilization: number, fps: number): number {
	const fastest = Math.max(1, Math.round(1000 / fps));
	if (utilization > busyBudget) return Math.min(slowestIntervalMs, Math.round(current * Math.min(2, utilization / busyBudget)));
	if (utilization < busyBudget / 2) return Math.max(fastest, Math.round(current * 0.8));
	return Math.max(fastest, current);
}

/**
 * Re-render at most `fps` times a second, and only when the state changed (or once a second, so
 * clocks move while nothing happens), within the CPU budget above. Returns a frame counter to key
 * memoized work on.
 */
export function useFrame(store: DashboardStore, fps: number): number {
	const [frame, setFrame] = useState(0);
	useEffect(() => {
		let shown = store.state.version;
		let shownAt = Date.now();
		let interval = Math.max(1, Math.round(1000 / fps));
		let usage = performance.eventLoopUtilization();
		let timer: NodeJS.Timeout | undefined;
		const render = () => {
			shown = store.state.version;
			shownAt = Date.now();
			setFrame(value => value + 1);
		};

		const tick = () => {
			const now = performance.eventLoopUtilization();
			interval = nextInterval(interval, performance.eventLoopUtilization(now, usage).utilization, fps);
			usage = now;
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
