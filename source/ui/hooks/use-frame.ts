import {useEffect, useState} from 'react';
import type {DashboardStore} from '../store.js';

/**
 * Re-render at most `fps` times a second, and only when the state changed (or once a second, so
 * clocks move while nothing happens). Returns a frame counter to key memoized work on.
 */
export function useFrame(store: DashboardStore, fps: number): number {
	const [frame, setFrame] = useState(0);
	useEffect(() => {
		let shown = store.state.version;
		let shownAt = Date.now();
		const render = () => {
			shown = store.state.version;
			shownAt = Date.now();
			setFrame(value => value + 1);
		};

		const timer = setInterval(() => {
			if (store.state.version !== shown || Date.now() - shownAt >= 1000) render();
		}, Math.max(1, Math.round(1000 / fps)));
		timer.unref();
		const unsubscribe = store.subscribe(render);
		return () => {
			clearInterval(timer);
			unsubscribe();
		};
	}, [store, fps]);
	return frame;
}
