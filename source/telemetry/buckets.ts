/**
 * Chunk states folded into at most `cells` grid cells: one chunk per cell when they fit, else
 * equal runs of chunks per cell, each cell showing the worst state of its run.
 */
import {chunkStateBadness, type ChunkStateCode} from './state.js';

export type Buckets = {
	/** One state code per cell. */
	cells: Uint8Array;
	/** Chunks per cell (1 when every chunk has its own cell). */
	perCell: number;
};

/** Fold `count` chunk states into at most `cells` cells (O(count)). */
export function bucketChunks(chunks: Uint8Array, count: number, cells: number): Buckets {
	const available = Math.max(1, Math.floor(cells));
	const perCell = Math.max(1, Math.ceil(count / available));
	const used = Math.ceil(count / perCell);
	const out = new Uint8Array(used);
	for (let cell = 0; cell < used; cell++) {
		const from = cell * perCell;
		const to = Math.min(count, from + perCell);
		let worst = chunks[from]!;
		let worstBadness = chunkStateBadness[worst]!;
		for (let id = from + 1; id < to; id++) {
			const code = chunks[id]!;
			const badness = chunkStateBadness[code]!;
			if (badness > worstBadness) {
				worst = code;
				worstBadness = badness;
			}
		}

		out[cell] = worst as ChunkStateCode;
	}

	return {cells: out, perCell};
}
