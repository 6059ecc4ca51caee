import {describe, expect, it} from 'vitest';
import {applyEvent, createDashboardState} from '../../source/telemetry/reducer.js';
import {EventScript} from './synthetic.js';

describe('eviction', () => {
	it('a job evicted for newer ones stays out until it starts again, so more jobs than the cap do not evict one another on every line', () => {
		const state = createDashboardState({jobs: 2});
		const scripts = ['a', 'b', 'c'].map(id => new EventScript(id));
		for (const script of scripts) applyEvent(state, script.start({chunks: 4}));
		// The job shown (the first, still running) stays; the next oldest goes.
		expect(state.order).toEqual(['a', 'c']);
		for (const script of scripts) applyEvent(state, script.send({type: 'chunk:start', chunk: 0, start: 0, size: 1, attempt: 1}));
		expect(state.order).toEqual(['a', 'c']);
		expect(state.jobs.has('b')).toBe(false);
		// Started again: it is back (and the other job not shown goes).
		applyEvent(state, scripts[1]!.start({chunks: 4}));
		expect(state.order).toEqual(['a', 'b']);
	});
});
