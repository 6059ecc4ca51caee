import {Text} from 'ink';
import {useMemo} from 'react';
import {formatBytes, formatDuration} from '../size.js';
import {ChunkState, chunkStateNames, type JobView} from '../telemetry/state.js';
import {cellDetail, chunkGlyphs, mapCells, mapGeometry, slowCode, slowRatio, verySlowCode, verySlowRatio, type MapGeometry} from './chunk-map.js';
import {fit} from './format.js';
import {Pane} from './Pane.js';
import type {Theme} from './theme.js';

export {chunkGlyphs} from './chunk-map.js';

type Props = {
	job: JobView;
	theme: Theme;
	width: number;
	height: number;
	focused?: boolean;
	/** Changes whenever the job's chunks may have changed (the frame counter). */
	frame: number;
	/** The cell under the cursor (shown while focused). */
	cursor?: number;
};

/** Rows of the pane's content that the map itself gets (the rest: the legend, the cursor's line). */
export function chunkMapRows(height: number, focused: boolean): number {
	const content = Math.max(1, height - 2);
	return Math.max(1, content - (content >= 3 ? 1 : 0) - (focused && content >= 4 ? 1 : 0));
}

/** The map's geometry for a pane of `width` x `height`. */
export function chunkMapGeometry(job: JobView, width: number, height: number, focused: boolean): MapGeometry {
	return mapGeometry(job.chunkCount, Math.max(1, width - 4), chunkMapRows(height, focused));
}

type Run = {code: number; cursor: boolean; text: string};

function cellColour(theme: Theme, code: number): string | undefined {
	if (code === slowCode) return theme.severity.warn;
	if (code === verySlowCode) return theme.severity.error;
	return theme.chunk[chunkStateNames[code]!];
}

/** Lines of runs of equal cells, so a line is a handful of <Text> nodes, not one per cell. */
function linesOf(codes: Uint8Array, geometry: MapGeometry, rows: number, cursor: number | undefined): Run[][] {
	const {perRow, cellWidth, cellHeight} = geometry;
	const glyphWidth = cellWidth > 2 ? cellWidth - 1 : cellWidth;
	const gap = cellWidth > 2 ? ' ' : '';
	const lines: Run[][] = [];
	for (let from = 0; from < codes.length && lines.length < rows; from += perRow) {
		const runs: Run[] = [];
		const to = Math.min(codes.length, from + perRow);
		for (let cell = from; cell < to; cell++) {
			const code = codes[cell]!;
			const atCursor = cell === cursor;
			const text = chunkGlyphs[code as 0]!.repeat(glyphWidth);
			const last = runs.at(-1);
			if (last && last.code === code && last.cursor === atCursor && !atCursor) last.text += gap + text;
			else {
				if (last) last.text += gap;
				runs.push({code, cursor: atCursor, text});
			}
		}

		for (let line = 0; line < cellHeight && lines.length < rows; line++) lines.push(cellHeight > 2 && line === cellHeight - 1 ? [] : runs);
	}

	return lines;
}

/** What each glyph means, in words that fit `width` (shorter ones on a narrow pane). */
function legendNames(width: number): Array<[number, string]> {
	const long: Array<[number, string]> = [...chunkStateNames.map((name, code): [number, string] => [code, name]), [slowCode, `≥${slowRatio}× median`], [verySlowCode, `≥${verySlowRatio}×`]];
	const length = long.reduce((total, [, name]) => total + name.length + 4, 0);
	if (length <= width) return long;
	return [[0, 'pend'], [1, 'run'], [2, 'done'], [3, 'fail'], [4, 'skip'], [slowCode, `≥${slowRatio}×med`], [verySlowCode, `≥${verySlowRatio}×`]];
}

/** The cell under the cursor in words: its chunks, bytes, state, time and attempts. */
function detailLine(job: JobView, geometry: MapGeometry, cursor: number, median: number | null): string {
	const size = job.batch?.current?.size ?? job.size ?? 0;
	const detail = cellDetail(job, geometry, cursor, size);
	if (!detail) return 'no chunk here';
	const which = detail.first === detail.last ? `chunk ${detail.first}` : `chunks ${detail.first}–${detail.last}`;
	const bytes = `bytes ${formatBytes(detail.start)}–${formatBytes(detail.end)}`;
	const state = detail.first === detail.last ? chunkStateNames[detail.state]! : `${detail.done}/${detail.last - detail.first + 1} done`;
	const time =
		detail.durationMs > 0 ? `${detail.first === detail.last ? 'took' : 'slowest'} ${formatDuration(detail.durationMs)}${median ? ` (${(detail.durationMs / median).toFixed(1)}× median)` : ''}` : '';
	const attempts = detail.attempts > 0 ? `${detail.attempts} attempt${detail.attempts === 1 ? '' : 's'}` : '';
	return [which, bytes, state, time, attempts].filter(Boolean).join(' · ');
}

/**
 * The chunk map: the chunks fill the pane (cells as large as fit, or buckets of chunks when
 * they outnumber the cells: a bucket shows its worst state), done cells shaded by how long they
 * took against the median. A legend says what each glyph means; while focused, the arrows move a
 * cursor whose cell is described on the line above the legend.
 */
export function ChunkGrid({job, theme, width, height, focused = false, frame, cursor = 0}: Props) {
	const inner = Math.max(1, width - 4);
	const content = Math.max(1, height - 2);
	const legend = content >= 3;
	const detail = focused && content >= 4;
	const rows = chunkMapRows(height, focused);
	const geometry = useMemo(() => mapGeometry(job.chunkCount, inner, rows), [job.chunkCount, inner, rows]);
	const shownCursor = focused ? Math.min(cursor, Math.max(0, geometry.cells - 1)) : undefined;
	const {codes, median} = useMemo(
		() => mapCells(job, geometry),
		// eslint-disable-next-line react-hooks/exhaustive-deps -- the chunk arrays are updated in place; frame/version say when
		[job.chunks, job.version, frame, geometry],
	);
	const lines = useMemo(() => linesOf(codes, geometry, rows, shownCursor), [codes, geometry, rows, shownCursor]);
	const title = `Chunks ${job.chunkCounts[ChunkState.done]}/${job.chunkCount}${job.batch?.current ? ` of file ${job.batch.current.index + 1}` : ''}${geometry.perCell > 1 ? ` · 1 cell = ${geometry.perCell} chunks` : ''}${median ? ` · median ${formatDuration(median)}` : ''}`;
	const padding = Math.max(0, rows - lines.length - (job.chunkCount === 0 ? 1 : 0));
	return (
		<Pane title={title} width={width} height={height} theme={theme} focused={focused}>
			{job.chunkCount === 0 ? <Text color={theme.pane.muted}>no chunks yet</Text> : null}
			{lines.map((runs, line) => (
				<Text key={line} wrap="truncate">
					{runs.length === 0
						? ' '
						: runs.map((run, index) => (
								<Text key={index} color={cellColour(theme, run.code)} inverse={run.cursor}>
									{run.text}
								</Text>
							))}
				</Text>
			))}
			{legend || detail ? Array.from({length: padding}, (_, index) => <Text key={`pad${index}`}> </Text>) : null}
			{detail ? (
				<Text wrap="truncate" color={theme.pane.text}>
					{fit(`▸ ${detailLine(job, geometry, shownCursor ?? 0, median)}`, inner)}
				</Text>
			) : null}
			{legend ? (
				<Text wrap="truncate" color={theme.pane.muted}>
					{legendNames(inner).map(([code, name]) => (
						<Text key={code}>
							<Text color={cellColour(theme, code)}>{chunkGlyphs[code as 0]}</Text> {name}
							{'  '}
						</Text>
					))}
				</Text>
			) : null}
		</Pane>
	);
}
