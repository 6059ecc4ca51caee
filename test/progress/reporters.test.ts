import {describe, expect, it} from 'vitest';
import type {CageEvent} from '../../source/chunker/events.js';
import {plainReporter} from '../../source/progress/reporters.js';

const MiB = 1024 * 1024;

function lines(events: Array<Record<string, unknown>>): string[] {
	let text = '';
	const sink = plainReporter({write: (chunk: string) => (text += chunk)});
	let seq = 0;
	for (const event of events) sink({job: 'j', seq: seq++, ...event} as unknown as CageEvent);
	return text.trim().split('\n');
}

describe('plain progress lines', () => {
	const start = {type: 'job:start', kind: 'encrypt', source: '/d/big', output: '/d/big.age', size: 800 * MiB, chunkSize: 16 * MiB, chunks: 50, jobs: 2, pid: 1, ts: 0};

	it('a fresh job: its bytes, time and rate', () => {
		const out = lines([{...start, chunksDone: 0, bytesDone: 0, resumed: false}, {type: 'job:done', outcome: 'completed', bytesDone: 800 * MiB, durationMs: 2000, ts: 2000}]);
		expect(out.at(-1)).toBe('completed: 800 MiB in 2.0s (400 MiB/s)');
	});

	it('a resumed job: the total, and what this run did in its time at its rate', () => {
		const out = lines([{...start, chunksDone: 37, bytesDone: 592 * MiB, resumed: true}, {type: 'job:done', outcome: 'completed', bytesDone: 800 * MiB, durationMs: 500, ts: 500}]);
		expect(out[0]).toContain('(resuming at chunk 37/50, 592 MiB done)');
		expect(out.at(-1)).toBe('completed: 800 MiB (208 MiB in this run) in 0.5s (416 MiB/s)');
	});
});
