import {cleanup, render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import {chartGlyphs, niceMax, renderChart} from '../../source/ui/chart.js';
import {Throughput} from '../../source/ui/Throughput.js';
import {reduceEvents, selectedJob} from '../../source/telemetry/reducer.js';
import {addToTimeline, createTimeline, markTimeline, TimelineMark, timelineSpans} from '../../source/telemetry/timeline.js';
import {EventScript} from '../telemetry/synthetic.js';
import {MiB, mono} from './fixtures.js';

const text = (chart: ReturnType<typeof renderChart>) => chart.rows.map(runs => runs.map(run => run.text).join(''));

afterEach(() => {
	cleanup();
});

describe('timeline', () => {
	it('keeps the whole job at a fixed size: pairs of spans merge and the span doubles', () => {
		const timeline = createTimeline(0);
		for (let second = 0; second < timelineSpans * 3; second++) addToTimeline(timeline, second * 1000 + 500, MiB);
		expect(timeline.bytes.length).toBeLessThanOrEqual(timelineSpans);
		expect(timeline.spanMs).toBe(4000);
		expect(timeline.bytes[0]).toBe(4 * MiB);
		expect(timeline.bytes.reduce((a, b) => a + b, 0)).toBe(timelineSpans * 3 * MiB);
	});

	it('marks spans, and merged spans keep their marks', () => {
		const timeline = createTimeline(0);
		addToTimeline(timeline, 500, MiB);
		markTimeline(timeline, 2000, 4500, TimelineMark.paused);
		expect(timeline.marks.slice(0, 5)).toEqual([0, 0, 1, 1, 1]);
		for (let second = 5; second < timelineSpans + 2; second++) addToTimeline(timeline, second * 1000, MiB);
		expect(timeline.marks.slice(0, 3)).toEqual([0, 1, 1]);
	});
});

describe('renderChart', () => {
	it('scales the bars to the highest rate, labels the axis and fills exactly width x height', () => {
		const timeline = createTimeline(0);
		for (let second = 0; second < 10; second++) addToTimeline(timeline, second * 1000 + 999, (second < 5 ? 10 : 5) * MiB);
		timeline.lastTs = 10_000;
		const chart = renderChart(timeline, 40, 5);
		const rows = text(chart);
		expect(rows).toHaveLength(5);
		for (const row of rows) expect(row).toHaveLength(40);
		expect(niceMax(10 * MiB)).toBe(10 * MiB);
		expect(chart.max).toBe(10 * MiB);
		expect(rows[0]).toMatch(/^ *10M\/s ┤/);
		expect(rows[3]).toMatch(/^ *0 ┤/);
		// 10 MiB/s fills all four rows; 5 MiB/s half of them.
		const plot = rows.slice(0, 4).map(row => row.slice(rows[0]!.indexOf('┤') + 1));
		expect(plot.map(row => row.slice(0, 5))).toEqual(['█████', '█████', '█████', '█████']);
		expect(plot.map(row => row.slice(5, 10))).toEqual(['     ', '     ', '█████', '█████']);
		expect(rows[4]).toMatch(/└─+$/);
	});

	it('grows with the pane: more rows give finer bars, more columns show more spans', () => {
		const timeline = createTimeline(0);
		for (let second = 0; second < 300; second++) addToTimeline(timeline, second * 1000 + 999, (1 + (second % 10)) * MiB);
		timeline.lastTs = 300_000;
		const small = renderChart(timeline, 76, 3);
		const big = renderChart(timeline, 196, 12);
		expect(small.columnMs).toBeGreaterThan(big.columnMs);
		expect(text(big)).toHaveLength(12);
		for (const row of text(big)) expect(row).toHaveLength(196);
	});

	it('draws the rate limit as a line and marks pauses and stalls on the time axis', () => {
		const timeline = createTimeline(0);
		for (let second = 0; second < 6; second++) addToTimeline(timeline, second * 1000 + 999, second === 2 || second === 3 ? 0 : 4 * MiB);
		markTimeline(timeline, 2000, 3999, TimelineMark.paused);
		addToTimeline(timeline, 5500, 0, TimelineMark.stall);
		const chart = renderChart(timeline, 30, 5, 8 * MiB);
		const rows = text(chart);
		expect(chart.max).toBe(10 * MiB);
		expect(rows.some(row => row.includes(chartGlyphs.limit.repeat(5)))).toBe(true);
		const axis = rows.at(-1)!.slice(rows.at(-1)!.indexOf('└') + 1);
		expect(axis.slice(0, 6)).toBe(`──${chartGlyphs.paused}${chartGlyphs.paused}─${chartGlyphs.stall}`);
	});
});

describe('Throughput pane', () => {
	it('plots the job from its events and says the span and marks in its title', () => {
		const script = new EventScript();
		script.start({size: 100 * MiB, chunks: 100, rate: 20 * MiB});
		let bytes = 0;
		for (let id = 0; id < 10; id++) bytes = script.chunk(id, MiB, 200, bytes);
		script.send({type: 'job:paused', bytesDone: bytes});
		script.wait(3000);
		script.send({type: 'job:resumed', bytesDone: bytes});
		for (let id = 10; id < 20; id++) bytes = script.chunk(id, MiB, 200, bytes);
		const job = selectedJob(reduceEvents(script.events))!;
		const {lastFrame} = render(<Throughput job={job} theme={mono} width={80} height={12} />);
		const frame = lastFrame()!;
		expect(frame).toContain('Throughput · 7.0s, 1 column = 1.0s · ═ paused  ╌ limit');
		expect(frame).toContain('(limit 20.0 MiB/s)');
		expect(frame).toContain('═══');
		for (const line of frame.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
		expect(frame.split('\n')).toHaveLength(12);
	});

	it('says the phase of a job outside its main work, with the check\'s own progress, and no ETA', () => {
		const script = new EventScript();
		script.start({size: 100 * MiB, chunks: 100, chunksDone: 50, bytesDone: 50 * MiB, resumed: true});
		script.send({type: 'job:phase', phase: 'verifying', done: 3, total: 8});
		const job = selectedJob(reduceEvents(script.events))!;
		const frame = render(<Throughput job={job} theme={mono} width={100} height={8} />).lastFrame()!;
		expect(frame).toContain('verifying the resume sample 3/8 (37.5%)');
		expect(frame).toContain('ETA after this');
		expect(frame).not.toContain('now ');
	});
});
