/**
 * The throughput chart as text: a multi-row bar plot of the rate over the job's whole time, in
 * eighth blocks, with the rate limit as a dashed line, the spans when the job was paused, stalled
 * or outside its main phase marked on the time axis, and the rate axis labelled. Pure: the
 * component only colours the runs.
 */
import {TimelineMark, timelineColumns, type Timeline} from '../telemetry/timeline.js';

const eighths = ' ▁▂▃▄▅▆▇█';

/** Glyphs of the chart that are not bars, distinct without colour. */
export const chartGlyphs = {limit: '╌', axis: '─', paused: '═', stall: '!', side: '~'} as const;

/** What a run of chart text is, for its colour. */
export type ChartPart = 'label' | 'bar' | 'limit' | 'axis' | 'paused' | 'stall' | 'side';

export type ChartRun = {part: ChartPart; text: string};

export type Chart = {
	/** `height` rows of runs, the time axis last; every row exactly `width` columns. */
	rows: ChartRun[][];
	/** The top of the rate axis, bytes/s. */
	max: number;
	/** Time one column stands for, ms. */
	columnMs: number;
	/** Which marks appear (for the legend). */
	marks: number;
};

/** The smallest of 1, 2, 2.5, 5 x 10^k MiB/s at or above `rate` (at least 1 MiB/s). */
export function niceMax(rate: number): number {
	const mib = Math.max(1, rate / 2 ** 20);
	const power = 10 ** Math.floor(Math.log10(mib));
	for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= mib - 1e-9) return step * power * 2 ** 20;
	return 10 * power * 2 ** 20;
}

/** A rate axis label in at most 6 columns: `0`, `512K/s`, `2.5M/s`, `120M/s`, `1.5G/s`. */
export function axisLabel(rate: number): string {
	if (rate <= 0) return '0';
	const units: Array<[string, number]> = [
		['G', 2 ** 30],
		['M', 2 ** 20],
		['K', 2 ** 10],
	];
	for (const [unit, scale] of units) {
		const value = rate / scale;
		if (value >= 1 || unit === 'K') return `${value >= 10 || Number.isInteger(value) ? Math.round(value) : value.toFixed(1)}${unit}/s`;
	}

	return `${Math.round(rate)}B/s`;
}

function push(runs: ChartRun[], part: ChartPart, text: string): void {
	const last = runs.at(-1);
	if (last?.part === part) last.text += text;
	else runs.push({part, text});
}

/**
 * Plot `timeline` into `width` x `height` cells (at least two rows: one of bars, the axis). The
 * columns are the timeline's spans (merged when there are more than fit), oldest on the left.
 */
export function renderChart(timeline: Timeline, width: number, height: number, limit: number | null = null): Chart {
	const gutter = 8;
	const plotWidth = Math.max(1, width - gutter);
	const plotRows = Math.max(1, height - 1);
	const {columns, spanMs} = timelineColumns(timeline, plotWidth);
	let peak = 0;
	let marks = 0;
	for (const column of columns) {
		if (column.rate > peak) peak = column.rate;
		marks |= column.mark;
	}

	const max = niceMax(Math.max(peak, limit ?? 0));
	const limitRow = limit !== null && limit > 0 ? plotRows - 1 - Math.min(plotRows - 1, Math.floor((limit / max) * plotRows - 1e-9)) : -1;
	const rows: ChartRun[][] = [];
	for (let row = 0; row < plotRows; row++) {
		const runs: ChartRun[] = [];
		const tick = row === 0 ? axisLabel(max) : row === plotRows - 1 && plotRows > 1 ? '0' : plotRows >= 5 && row === Math.floor(plotRows / 2) ? axisLabel(max * (1 - (row + 0.5) / plotRows)) : '';
		push(runs, 'label', `${tick.slice(0, gutter - 2).padStart(gutter - 2)} ┤`);
		const base = (plotRows - 1 - row) * 8;
		for (let index = 0; index < plotWidth; index++) {
			const column = columns[index];
			const fill = column ? Math.max(0, Math.min(8, Math.round((column.rate / max) * plotRows * 8) - base)) : 0;
			if (fill === 0 && row === limitRow) push(runs, 'limit', chartGlyphs.limit);
			else push(runs, 'bar', eighths[fill]!);
		}

		rows.push(runs);
	}

	if (height >= 2) {
		const axis: ChartRun[] = [];
		push(axis, 'label', `${' '.repeat(gutter - 2)} └`);
		for (let index = 0; index < plotWidth; index++) {
			const mark = columns[index]?.mark ?? 0;
			if (mark & TimelineMark.stall) push(axis, 'stall', chartGlyphs.stall);
			else if (mark & TimelineMark.paused) push(axis, 'paused', chartGlyphs.paused);
			else if (mark & TimelineMark.side) push(axis, 'side', chartGlyphs.side);
			else push(axis, 'axis', chartGlyphs.axis);
		}

		rows.push(axis);
	}

	return {rows, max, columnMs: spanMs, marks: marks | (limitRow >= 0 ? markLimit : 0)};
}

/** A legend bit of its own: the limit line is drawn. */
const markLimit = 8;

/** The legend of what the chart shows: the marks that appear, and the limit line when drawn. */
export function chartLegend(marks: number): string {
	const parts: string[] = [];
	if (marks & TimelineMark.paused) parts.push(`${chartGlyphs.paused} paused`);
	if (marks & TimelineMark.stall) parts.push(`${chartGlyphs.stall} stall`);
	if (marks & TimelineMark.side) parts.push(`${chartGlyphs.side} checks/sync`);
	if (marks & markLimit) parts.push(`${chartGlyphs.limit} limit`);
	return parts.join('  ');
}
