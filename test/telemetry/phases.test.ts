import {describe, expect, it} from 'vitest';
import {reduceEvents, selectedJob} from '../../source/telemetry/reducer.js';
import {TimelineMark} from '../../source/telemetry/timeline.js';
import {EventScript} from './synthetic.js';

const MiB = 2 ** 20;

describe('phases', () => {
	it('rate and ETA count only the main phase: a resume check of 10 s is neither throughput nor time', () => {
		const script = new EventScript();
		script.start({size: 100 * MiB, chunks: 100, chunksDone: 50, bytesDone: 50 * MiB, resumed: true});
		script.send({type: 'job:phase', phase: 'opening'});
		script.send({type: 'job:phase', phase: 'verifying', done: 0, total: 8});
		script.wait(5000);
		script.send({type: 'job:phase', phase: 'verifying', done: 4, total: 8});
		const checking = selectedJob(reduceEvents(script.events))!;
		expect(checking.phase).toEqual({name: 'verifying', done: 4, total: 8});
		expect(checking.etaMs).toBeNull();
		expect(checking.throughput.current).toBe(0);
		script.wait(5000);
		script.send({type: 'job:phase', phase: 'processing'});
		let bytes = 50 * MiB;
		for (let id = 50; id < 60; id++) bytes = script.chunk(id, MiB, 100, bytes);
		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.phase?.name).toBe('processing');
		// 10 MiB in 1 s of main phase: 10 MiB/s, not 10 MiB over 11 s.
		expect(job.throughput.average).toBeCloseTo(10 * MiB, -4);
		expect(job.etaMs).toBeCloseTo(4000, -2);
		expect(job.sideMs).toBe(10_000);
		expect(job.timeline.marks[0]! & TimelineMark.side).toBeTruthy();
		expect(job.timeline.marks.at(-1)! & TimelineMark.side).toBe(0);
	});

	it('a job that never says its phase (an older log) counts as before', () => {
		const script = new EventScript();
		script.start({size: 10 * MiB, chunks: 10});
		let bytes = 0;
		for (let id = 0; id < 5; id++) bytes = script.chunk(id, MiB, 100, bytes);
		const job = selectedJob(reduceEvents(script.events))!;
		expect(job.phase).toBeNull();
		expect(job.throughput.average).toBeCloseTo(10 * MiB, -4);
	});
});
