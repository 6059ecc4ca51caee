import {Box, Text} from 'ink';
import {settledBytes} from '../telemetry/reducer.js';
import {ChunkState, type JobView} from '../telemetry/state.js';
import {formatBytes, formatDuration, formatRate} from '../size.js';
import {fit, percent} from './format.js';
import {Pane} from './Pane.js';
import {ProgressBar} from './ProgressBar.js';
import {Sparkline} from './Sparkline.js';
import type {Theme} from './theme.js';

type Props = {job: JobView; theme: Theme; width: number; height: number};

/** Current, average and peak rate, a sparkline, the progress bar, bytes done and ETA. */
export function Throughput({job, theme, width, height}: Props) {
	const inner = Math.max(1, width - 4);
	const {throughput} = job;
	const eta = job.size === null ? (job.kind === null ? '--' : 'stream') : job.state === 'paused' ? 'paused' : job.etaMs === null ? '--' : formatDuration(job.etaMs);
	// The average is a rate over more than a second too, so the peak is never below it (a rate limit
	// catching up after a pause can lift the average past every whole-second window).
	const rates = `now ${formatRate(throughput.current)}  ·  avg ${formatRate(throughput.average)}  ·  peak ${formatRate(Math.max(throughput.peak, throughput.average))}  ·  ETA ${eta}`;
	const settled = settledBytes(job);
	const ratio = job.size ? settled / job.size : job.ending?.outcome === 'completed' ? 1 : 0;
	const label = job.size === null ? '' : ` ${percent(settled, job.size).padStart(6)}`;
	const counts = job.chunkCounts;
	const skipped = job.bytesSkipped > 0 ? `, ${formatBytes(job.bytesSkipped)} skipped` : '';
	const bytes = job.size === null ? `${formatBytes(job.bytesDone)}${job.kind === null ? '' : ' (size unknown)'}` : `${formatBytes(job.bytesDone)} / ${formatBytes(job.size)}${skipped}`;
	const chunks = `chunks ${counts[ChunkState.done]}/${job.chunkCount} done, ${counts[ChunkState.running]} running, ${counts[ChunkState.failed]} failed, ${counts[ChunkState.skipped]} skipped`;
	return (
		<Pane title="Throughput" width={width} height={height} theme={theme}>
			<Text wrap="truncate" color={theme.pane.text}>
				{fit(rates, inner)}
			</Text>
			<Sparkline values={throughput.history} width={inner} color={theme.pane.sparkline} />
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
