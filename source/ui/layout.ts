/**
 * Pane sizes for a terminal of `columns` x `rows`. The dashboard uses one row less than the
 * terminal: a frame as tall as the screen makes Ink clear the whole screen on every frame.
 */

export type Layout = {
	width: number;
	height: number;
	header: number;
	throughput: number;
	grid: number;
	bottom: number;
	status: number;
	/** Width of the anomalies pane; the audit tail takes the rest of the row. */
	anomaliesWidth: number;
	/** Width of a batch's file list, beside the chunk map (0 when not a batch). */
	filesWidth: number;
	/** Width of the chunk map. */
	gridWidth: number;
};

export const minColumns = 60;
export const minRows = 16;

/** Compute the layout; sizes are clamped to a usable minimum. */
export function computeLayout(columns: number, rows: number, {batch = false} = {}): Layout {
	const width = Math.max(minColumns, columns);
	const height = Math.max(minRows, rows) - 1;
	const header = batch ? 3 : 2;
	const status = 1;
	// The chart grows with the terminal: 2 rows at 24, 8 at 40, 11 at 50 (see Throughput).
	const throughput = Math.max(7, Math.min(24, Math.round((height - header - status) * 0.35)));
	const rest = height - header - throughput - status;
	const grid = Math.max(4, Math.min(rest - 5, Math.round(rest * 0.45)));
	const bottom = rest - grid;
	const anomaliesWidth = Math.floor(width / 2);
	const filesWidth = batch ? Math.max(28, Math.floor(width * 0.36)) : 0;
	return {width, height, header, throughput, grid, bottom, status, anomaliesWidth, filesWidth, gridWidth: width - filesWidth};
}
