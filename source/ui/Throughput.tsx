import {Box, Text} from 'ink';
import {useMemo} from 'react';
import {phaseLabel} from '../telemetry/describe.js';
import {settledBytes} from '../telemetry/reducer.js';
import {ChunkState, type JobView} from '../telemetry/state.js';
import {formatBytes, formatDuration, formatRate} from '../size.js';
import {chartLegend, renderChart, type ChartPart} from './chart.js';
import {fit, percent} from './format.js';
import {Pane} from './Pane.js';
import {ProgressBar} from './ProgressBar.js';
import type {Theme} from './theme.js';

type Props = {
	job: JobView;
	theme: Theme;
	width: number;
	height: number;
	/** Changes whenever the job may have changed (the frame counter): the job is updated in place. */
	frame?: number;
};

/** Rows of the pane that are not the chart: the rates, the progress bar, the bytes and chunks. */
export const throughputTextRows = 3;

function partColour(theme: Theme, part: ChartPart): string | undefined {
	switch (part) {
		case 'bar': {
			return theme.pane.sparkline;
		}

		case 'limit':
		case 'stall': {
			return theme.severity.warn;
		}

		case 'paused': {
			return theme.state.paused;
		}

		default: {
			return theme.pane.muted;
		}
	}
}

/** What the job is doing when not its main work, with the progress of a check. */
function phaseText(job: JobView): string | undefined {
	const {phase} = job;
	if (!phase || phase.name === 'processing' || job.ending) return undefined;
	const progress = phase.total === undefined ? '' : ` ${phase.done ?? 0}/${phase.total} (${percent(phase.done ?? 0, phase.total)})`;
	return `${phaseLabel(phase.name, job.kind)}${progress}`;
}

/** Current, average and peak rate, the chart over the whole job, the progress bar, bytes done and ETA. */
export function Throughput({job, theme, width, height, frame = 0}: Props) {
	const inner = Math.max(1, width - 4);
	const chartRows = Math.max(0, height - 2 - throughputTextRows);
	const {throughput} = job;
	const side = phaseText(job);
	const eta =
		job.size === null ? (job.kind === null ? '--' : 'stream') : job.state === 'paused' ? 'paused' : side ? 'after this' : job.etaMs === null ? '--' : formatDuration(job.etaMs);
	// The average is a rate over more than a second too, so the peak is never below it (a rate limit
	// catching up after a pause can lift the average past every whole-second window).
	// The ETA before the averages: on a narrow pane the line is cut from its end.
	const figures = `ETA ${eta}  ·  avg ${formatRate(throughput.average)}  ·  peak ${formatRate(Math.max(throughput.peak, throughput.average))}`;
	const limit = job.rateLimit ? ` (limit ${formatRate(job.rateLimit)})` : '';
	const rates = side ? `${side}  ·  ${figures}` : `now ${formatRate(throughput.current)}${limit}  ·  ${figures}`;
	const settled = settledBytes(job);
	const ratio = job.size ? settled / job.size : job.ending?.outcome === 'completed' ? 1 : 0;
	const label = job.size === null ? '' : ` ${percent(settled, job.size).padStart(6)}`;
	const counts = job.chunkCounts;
	const skipped = job.bytesSkipped > 0 ? `, ${formatBytes(job.bytesSkipped)} skipped` : '';
	const bytes = job.size === null ? `${formatBytes(job.bytesDone)}${job.kind === null ? '' : ' (size unknown)'}` : `${formatBytes(job.bytesDone)} / ${formatBytes(job.size)}${skipped}`;
	// A batch's totals are its files'; the chunks (of the current file) are in the chunk map's title.
	const {batch} = job;
	const chunks = batch
		? `files ${batch.done}/${batch.total} done, ${batch.current ? 1 : 0} running, ${batch.failed} failed, ${batch.skipped - batch.failed} skipped`
		: `chunks ${counts[ChunkState.done]}/${job.chunkCount} done, ${counts[ChunkState.running]} running, ${counts[ChunkState.failed]} failed, ${counts[ChunkState.skipped]} skipped`;
	const chart = useMemo(
		() => (chartRows >= 2 ? renderChart(job.timeline, inner, chartRows, job.rateLimit) : null),
		// eslint-disable-next-line react-hooks/exhaustive-deps -- the timeline is updated in place; frame/version say when
		[job.timeline, job.rateLimit, job.version, frame, inner, chartRows],
	);
	const spanned = Math.max(0, job.timeline.lastTs - job.timeline.start);
	const legend = chart ? chartLegend(chart.marks) : '';
	const title = chart ? `Throughput · ${formatDuration(spanned)}, 1 column = ${formatDuration(chart.columnMs)}${legend ? ` · ${legend}` : ''}` : 'Throughput';
	return (
		<Pane title={title} width={width} height={height} theme={theme}>
			<Text wrap="truncate" color={theme.pane.text}>
				{fit(rates, inner)}
			</Text>
			{chart?.rows.map((runs, row) => (
				<Text key={row} wrap="truncate">
					{runs.map((run, index) => (
						<Text key={index} color={partColour(theme, run.part)}>
							{run.text}
						</Text>
					))}
				</Text>
			))}
			<Box>
				<ProgressBar ratio={ratio} width={Math.max(1, inner - label.length)} color={theme.pane.bar} emptyColor={theme.pane.barEmpty} />
				<Text color={theme.pane.text}>{label}</Text>
			</Box>
			<Text wrap="truncate" color={theme.pane.text}>
				{fit(`${bytes}  ·  ${chunks}`, inner)}
			</Text>
		</Pane>
	);
}
