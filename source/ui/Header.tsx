import {Box, Text} from 'ink';
import {outputLabel} from '../chunker/events.js';
import type {JobView} from '../telemetry/state.js';
import {formatBytes, formatDuration} from '../size.js';
import {fit, fitPath} from './format.js';
import type {Theme} from './theme.js';

type Props = {
	job: JobView;
	theme: Theme;
	width: number;
	/** Milliseconds since the job started. */
	elapsedMs: number;
	/** "job 2/3" in watch mode. */
	position?: string;
	/** Stopping after q, before job:done. */
	stopping?: boolean;
};

/** The current file and the counts; a long path is cut (from the left), never the counts. */
function batchLine(batch: NonNullable<JobView['batch']>, width: number): string {
	const counts = `  ·  files done ${batch.done} · skipped ${batch.skipped} · total ${batch.total}`;
	if (!batch.current) return fit(`between files${counts}`, width);
	const prefix = `file ${batch.current.index + 1}/${batch.total}: `;
	const size = ` (${formatBytes(batch.current.size)})`;
	const room = width - prefix.length - size.length - counts.length;
	if (room < 8) return fit(`${prefix}${fitPath(batch.current.path, Math.max(8, width - prefix.length - size.length))}${size}${counts}`, width);
	return `${prefix}${fitPath(batch.current.path, room)}${size}${counts}`;
}

/** Command, state and elapsed time; source -> output; the current file of a batch. */
export function Header({job, theme, width, elapsedMs, position, stopping = false}: Props) {
	const state = stopping && job.ending === null ? 'stopping' : job.state;
	const stateColour = stopping && job.ending === null ? theme.state.paused : theme.state[job.state];
	const left = `cage ${job.kind ?? 'job'}${job.resumed ? ' (resumed)' : ''}`;
	const right = `elapsed ${formatDuration(elapsedMs)}${position ? `  ${position}` : ''}`;
	const from = job.source ?? 'stdin';
	const to = outputLabel(job.kind, job.output);
	const pathWidth = Math.max(8, Math.floor((width - 4) / 2));
	const batch = job.batch;
	return (
		<Box flexDirection="column" width={width} flexShrink={0}>
			<Box width={width} justifyContent="space-between">
				<Text wrap="truncate">
					<Text bold color={theme.pane.title}>
						{left}
					</Text>
					{'  '}
					<Text bold color={stateColour}>
						● {state}
					</Text>
				</Text>
				<Text color={theme.pane.muted} wrap="truncate">
					{right}
				</Text>
			</Box>
			{job.kind === null ? (
				// Seen only from the middle (`cage watch` starts at the log's end): its start, with the
				// command, files and size, is in the part of the log not read.
				<Text wrap="truncate" color={theme.pane.muted}>
					started before this watch: its files and size are earlier in the log (cage watch --from-start reads them)
				</Text>
			) : (
				<Text wrap="truncate" color={theme.pane.text}>
					{fitPath(from, pathWidth)} <Text color={theme.pane.muted}>-&gt;</Text> {fitPath(to, pathWidth)}
				</Text>
			)}
			{batch ? <Text wrap="truncate" color={theme.pane.text}>{batchLine(batch, width)}</Text> : null}
		</Box>
	);
}
