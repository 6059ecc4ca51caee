import {Text} from 'ink';
import {useMemo} from 'react';
import {bucketChunks} from '../telemetry/buckets.js';
import {ChunkState, chunkStateNames, type JobView} from '../telemetry/state.js';
import {Pane} from './Pane.js';
import type {Theme} from './theme.js';

/** One glyph per state, distinct without colour (mono themes, NO_COLOR). */
export const chunkGlyphs = ['·', '▒', '█', '×', '░'] as const;

type Props = {
	job: JobView;
	theme: Theme;
	width: number;
	height: number;
	focused?: boolean;
	/** Changes whenever the job's chunks may have changed (the frame counter). */
	frame: number;
};

type Run = {code: number; text: string};

/** Runs of equal cells per row, so a row is a handful of <Text> nodes, not one per cell. */
function rowsOf(cells: Uint8Array, columns: number, rows: number): Run[][] {
	const out: Run[][] = [];
	for (let row = 0; row < rows; row++) {
		const from = row * columns;
		if (from >= cells.length) break;
		const to = Math.min(cells.length, from + columns);
		const runs: Run[] = [];
		let code = cells[from]!;
		let start = from;
		for (let index = from + 1; index <= to; index++) {
			if (index === to || cells[index] !== code) {
				runs.push({code, text: chunkGlyphs[code as 0]!.repeat(index - start)});
				if (index < to) {
					code = cells[index]!;
					start = index;
				}
			}
		}

		out.push(runs);
	}

	return out;
}

/**
 * One cell per chunk, or per bucket of chunks when they outnumber the cells (a bucket shows its
 * worst state), sized to the pane. The last row is a legend when there is room.
 */
export function ChunkGrid({job, theme, width, height, focused = false, frame}: Props) {
	const columns = Math.max(1, width - 4);
	const contentRows = Math.max(1, height - 2);
	const legend = contentRows >= 3;
	const gridRows = legend ? contentRows - 1 : contentRows;
	const {cells, perCell} = useMemo(
		() => bucketChunks(job.chunks, job.chunkCount, columns * gridRows),
		// eslint-disable-next-line react-hooks/exhaustive-deps -- the chunk array is updated in place; frame/version say when
		[job.chunks, job.chunkCount, job.version, frame, columns, gridRows],
	);
	const rows = useMemo(() => rowsOf(cells, columns, gridRows), [cells, columns, gridRows]);
	const title = `Chunks ${job.chunkCounts[ChunkState.done]}/${job.chunkCount}${perCell > 1 ? ` · 1 cell = ${perCell} chunks` : ''}`;
	return (
		<Pane title={title} width={width} height={height} theme={theme} focused={focused}>
			{job.chunkCount === 0 ? <Text color={theme.pane.muted}>no chunks yet</Text> : null}
			{rows.map((runs, row) => (
				<Text key={row} wrap="truncate">
					{runs.map((run, index) => (
						<Text key={index} color={theme.chunk[chunkStateNames[run.code]!]}>
							{run.text}
						</Text>
					))}
				</Text>
			))}
			{legend && rows.length < gridRows ? Array.from({length: gridRows - rows.length - (job.chunkCount === 0 ? 1 : 0)}, (_, index) => <Text key={`pad${index}`}> </Text>) : null}
			{legend ? (
				<Text wrap="truncate" color={theme.pane.muted}>
					{chunkStateNames.map((name, code) => (
						<Text key={name}>
							<Text color={theme.chunk[name]}>{chunkGlyphs[code]}</Text> {name}
							{code < chunkStateNames.length - 1 ? '  ' : ''}
						</Text>
					))}
				</Text>
			) : null}
		</Pane>
	);
}
