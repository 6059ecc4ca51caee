/**
 * JobEmitter's numbering: every event takes the next seq except the transient progress updates
 * between two samples, so a log that writes each seq once has no gaps and no repeats.
 */
import {describe, expect, it} from 'vitest';
import {JobEmitter} from '../../source/chunker/emitter.js';
import type {CageEvent} from '../../source/chunker/events.js';

describe('JobEmitter', () => {
	it('numbers one progress sample a second (injected clock); the updates between repeat the seq before them', () => {
		let clock = 0;
		const emitter = new JobEmitter('j', () => clock);
		const seen: CageEvent[] = [];
		emitter.pipe(event => seen.push(event));
		emitter.send({type: 'job:paused', bytesDone: 0});
		for (let index = 0; index < 25; index++) {
			clock += 100;
			emitter.send({type: 'chunk:progress', chunk: 0, bytes: index, bytesDone: index});
		}

		emitter.send({type: 'job:resumed', bytesDone: 0});
		const summary = seen.map(event => `${event.seq}${event.type === 'chunk:progress' ? 'p' : ''}@${event.ts}`);
		// Samples at 100 ms (the first), 1100 ms and 2100 ms; the job:resumed after them is seq 4.
		expect(seen.filter((event, index) => index === 0 || event.seq !== seen[index - 1]!.seq).map(event => `${event.seq}@${event.ts}`)).toEqual(['0@0', '1@100', '2@1100', '3@2100', '4@2500']);
		expect(summary[2]).toBe('1p@200');
		expect(emitter.seq).toBe(5);
	});

	it('a progress event as the very first event is numbered (there is nothing to repeat)', () => {
		const emitter = new JobEmitter('j', () => 5);
		expect(emitter.send({type: 'chunk:progress', chunk: 0, bytes: 1, bytesDone: 1}).seq).toBe(0);
		expect(emitter.send({type: 'chunk:progress', chunk: 0, bytes: 2, bytesDone: 2}).seq).toBe(0);
		expect(emitter.send({type: 'job:paused', bytesDone: 2}).seq).toBe(1);
	});
});
