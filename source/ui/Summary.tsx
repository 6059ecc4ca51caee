import {Box, Text} from 'ink';
import {outputLabel} from '../chunker/events.js';
import {settledBytes} from '../telemetry/reducer.js';
import {ChunkState, type JobView} from '../telemetry/state.js';
import {formatBytes, formatDuration, formatRate} from '../size.js';
import {clock, fit, percent} from './format.js';
import type {Theme} from './theme.js';

type Props = {job: JobView; theme: Theme; width: number; maxAnomalies?: number};

function Row({label, value, theme, width}: {label: string; value: string; theme: Theme; width: number}) {
	return (
		<Text wrap="truncate">
			<Text color={theme.pane.muted}>{label.padEnd(11)}</Text>
			<Text color={theme.pane.text}>{fit(value, Math.max(1, width - 15))}</Text>
		</Text>
	);
}

/** What stays on screen after the job: outcome, bytes, time, average rate, chunks, anomalies. */
export function Summary({job, theme, width, maxAnomalies = 3}: Props) {
	const outcome = job.ending?.outcome ?? job.state;
	const durationMs = job.ending?.durationMs ?? job.lastTs - job.startedAt;
	// The reducer's average, which the live pane showed: one figure, not a second one from durationMs
	// (which also counts the job's set-up before its job:start).
	const rate = job.throughput.average;
	const counts = job.chunkCounts;
	const {info, warn, error} = job.anomalyCounts;
	// The percentage is progress: the bytes done and, in a batch, those of the files skipped.
	const skipped = job.bytesSkipped > 0 ? `, ${formatBytes(job.bytesSkipped)} skipped` : '';
	// A resumed job's time and average are this run's: say how much of the total this run did.
	const thisRun = job.startBytes > 0 ? `, ${formatBytes(Math.max(0, job.bytesDone - job.startBytes))} in this run` : '';
	const bytes = job.size === null ? `${formatBytes(job.bytesDone)}${thisRun}` : `${formatBytes(job.bytesDone)} of ${formatBytes(job.size)}${skipped} (${percent(settledBytes(job), job.size)})${thisRun}`;
	const colour = theme.state[job.state];
	return (
		<Box flexDirection="column" borderStyle="round" borderColor={colour ?? theme.pane.border} paddingX={1} width={width} flexShrink={0}>
			<Text wrap="truncate">
				<Text bold color={theme.pane.title}>
					cage {job.kind ?? 'job'}{' '}
				</Text>
				<Text bold color={colour}>
					{outcome}
				</Text>
			</Text>
			{/* Whole, however long: it names the file, the chunk and what to do. */}
			{job.ending?.error ? <Text color={theme.severity.error}>{job.ending.error}</Text> : null}
			{job.batch ? (
				<Row label="files" value={`${job.batch.total} in the batch: ${job.batch.done} done, ${job.batch.skipped} skipped`} theme={theme} width={width} />
			) : (
				<Row
					label="files"
					value={job.kind === null ? 'not in the part of the log read (the job started before this watch)' : `${job.source ?? 'stdin'} -> ${outputLabel(job.kind, job.output)}`}
					theme={theme}
					width={width}
				/>
			)}
			<Row label="bytes" value={bytes} theme={theme} width={width} />
			<Row label="time" value={`${formatDuration(durationMs)}${job.pausedMs > 0 ? ` (${formatDuration(job.pausedMs)} paused)` : ''}`} theme={theme} width={width} />
			<Row label="average" value={`${formatRate(rate)}  ·  peak ${formatRate(Math.max(job.throughput.peak, rate))}`} theme={theme} width={width} />
			{/* A batch's chunk counts are its last file's: not a summary of the job. */}
			{job.batch ? null : (
				<Row
					label="chunks"
					value={`${counts[ChunkState.done]}/${job.chunkCount} done, ${counts[ChunkState.failed]} failed, ${counts[ChunkState.skipped]} skipped`}
					theme={theme}
					width={width}
				/>
			)}
			<Row label="anomalies" value={`${info + warn + error} (${error} error, ${warn} warn, ${info} info)`} theme={theme} width={width} />
			{job.anomalies.slice(0, maxAnomalies).map(anomaly => (
				<Text key={`${anomaly.seq}-${anomaly.code}`} wrap="truncate">
					{'           '}
					<Text color={theme.severity[anomaly.severity]}>{fit(`${clock(anomaly.ts)} ${anomaly.code}: ${anomaly.message}`, Math.max(1, width - 15))}</Text>
				</Text>
			))}
		</Box>
	);
}
