/**
 * The summary left after a job shows the average the live pane showed, not a second figure.
 */
import {cleanup, render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import {Summary} from '../../source/ui/Summary.js';
import {Throughput} from '../../source/ui/Throughput.js';
import {reduceEvents, selectedJob} from '../../source/telemetry/reducer.js';
import {EventScript} from '../telemetry/synthetic.js';
import {MiB, mono} from './fixtures.js';

afterEach(() => cleanup());

const average = (frame: string, pattern: RegExp) => pattern.exec(frame)?.[1];

describe('Summary', () => {
	it('gives the live average: the job\'s set-up before job:start (in durationMs) and its pauses do not count', () => {
		const script = new EventScript();
		script.start({size: 40 * MiB, chunks: 40, chunkSize: MiB});
		let bytes = 0;
		for (let id = 0; id < 10; id++) bytes = script.chunk(id, MiB, 100, bytes);
		script.send({type: 'job:paused', bytesDone: bytes});
		script.wait(2000);
		script.send({type: 'job:resumed', bytesDone: bytes});
		for (let id = 10; id < 20; id++) bytes = script.chunk(id, MiB, 100, bytes);
		const live = render(<Throughput job={selectedJob(reduceEvents(script.events))!} theme={mono} width={100} height={6} />).lastFrame()!;
		// The job spent 1.5 s on its header and workers before job:start: durationMs counts it.
		script.send({type: 'job:done', outcome: 'completed', bytesDone: bytes, durationMs: 1500 + 2000 + 2000});
		const end = render(<Summary job={selectedJob(reduceEvents(script.events))!} theme={mono} width={100} />).lastFrame()!;
		expect(average(live, /avg ([\d.]+ \S+)/)).toBe('10.0 MiB/s');
		expect(average(end, /average\s+([\d.]+ \S+)/)).toBe('10.0 MiB/s');
	});
});
