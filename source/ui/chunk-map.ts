/**
 * The chunk map's geometry and cells, as plain data: how big a cell is so that the chunks fill the
 * pane, each cell's glyph (its state; a done cell shaded by how long it took against the median),
 * and what the cell under the cursor covers.
 */
import {bucketChunks} from '../telemetry/buckets.js';
import {medianDuration} from '../telemetry/durations.js';
import {ChunkState, type JobView} from '../telemetry/state.js';

/**
 * One glyph per cell code, distinct without colour (mono themes, NO_COLOR): the five chunk states
 * (pending, running, done, failed, skipped), then done but slow (at least `slowRatio` times the
 * median) and done but very slow (`verySlowRatio` times).
 */
export const chunkGlyphs = ['·', '▒', '█', '×', '░', '▓', '▞'] as const;

/** Cell codes past the chunk states: done, slow; done, very slow. */
export const slowCode = 5;
export const verySlowCode = 6;
export const slowRatio = 2;
export const verySlowRatio = 4;

export type MapGeometry = {
	/** Chunks per cell (1 when each has a cell of its own). */
	perCell: number;
	/** Cells in the map, and per row. */
	cells: number;
	perRow: number;
	/** Columns and rows of text one cell takes (a gap included when over 2 columns). */
	cellWidth: number;
	cellHeight: number;
};

/**
 * The largest cells (about twice as wide as tall, as a terminal's characters are half as wide as
 * tall) with which `count` chunks fit `columns` x `rows`; when even one column per chunk does not
 * fit, chunks share cells.
 */
export function mapGeometry(count: number, columns: number, rows: number): MapGeometry {
	columns = Math.max(1, columns);
	rows = Math.max(1, rows);
	if (count <= 0) return {perCell: 1, cells: 0, perRow: columns, cellWidth: 1, cellHeight: 1};
	if (count >= columns * rows) {
		const perCell = Math.ceil(count / (columns * rows));
		return {perCell, cells: Math.ceil(count / perCell), perRow: columns, cellWidth: 1, cellHeight: 1};
	}

	// No bigger than 8 x 3: past that a cell is a slab, not a map.
	let best = {width: 1, height: 1};
	for (let height = 1; height <= Math.min(rows, 3); height++) {
		for (let width = height; width <= Math.min(columns, 4 * height, 8); width++) {
			if (Math.floor(columns / width) * Math.floor(rows / height) < count) break;
			if (width * height > best.width * best.height) best = {width, height};
		}
	}

	return {perCell: 1, cells: count, perRow: Math.floor(columns / best.width), cellWidth: best.width, cellHeight: best.height};
}

/** Rows of the map the cells take. */
export function mapRows(geometry: MapGeometry): number {
	return Math.ceil(geometry.cells / geometry.perRow) * geometry.cellHeight;
}

/** Each cell's code: the worst state of its chunks, a done cell shaded by its slowest chunk. */
export function mapCells(job: JobView, geometry: MapGeometry): {codes: Uint8Array; median: number | null} {
	const {cells} = bucketChunks(job.chunks, job.chunkCount, geometry.cells);
	const median = medianDuration(job.durationBins);
	if (median === null || median <= 0) return {codes: cells, median};
	for (let cell = 0; cell < cells.length; cell++) {
		if (cells[cell] !== ChunkState.done) continue;
		let slowest = 0;
		const to = Math.min(job.chunkCount, (cell + 1) * geometry.perCell);
		for (let id = cell * geometry.perCell; id < to; id++) if (job.durations[id]! > slowest) slowest = job.durations[id]!;
		if (slowest >= median * verySlowRatio) cells[cell] = verySlowCode;
		else if (slowest >= median * slowRatio) cells[cell] = slowCode;
	}

	return {codes: cells, median};
}

/** What the cell `cell` covers: its chunks, their bytes, states, time and attempts. */
export type CellDetail = {first: number; last: number; start: number; end: number; done: number; state: number; durationMs: number; attempts: number};

/** The detail of a cell; `size` is the bytes of the plan (the current file's in a batch). */
export function cellDetail(job: JobView, geometry: MapGeometry, cell: number, size: number): CellDetail | null {
	const first = cell * geometry.perCell;
	if (first >= job.chunkCount || cell < 0) return null;
	const last = Math.min(job.chunkCount, first + geometry.perCell) - 1;
	let done = 0;
	let durationMs = 0;
	let attempts = 0;
	for (let id = first; id <= last; id++) {
		if (job.chunks[id] === ChunkState.done) done++;
		durationMs = Math.max(durationMs, job.durations[id] ?? 0);
		attempts = Math.max(attempts, job.attempts[id] ?? 0);
	}

	const {cells} = bucketChunks(job.chunks.subarray(first, last + 1), last - first + 1, 1);
	const chunkSize = job.chunkSize || 1;
	return {first, last, start: first * chunkSize, end: Math.min(size > 0 ? size : Number.POSITIVE_INFINITY, (last + 1) * chunkSize), done, state: cells[0]!, durationMs, attempts};
}
