/**
 * Chunk durations folded into a histogram of quarter-octave bins, so the median of 65 536 chunks
 * is a walk over 128 numbers, kept up to date in O(1) per chunk.
 */

/** Bins in a duration histogram (quarter octaves from 0 ms to beyond a day). */
export const durationBinCount = 128;

/** The bin of a duration in ms. */
export function durationBin(ms: number): number {
	return Math.max(0, Math.min(durationBinCount - 1, Math.floor(4 * Math.log2(1 + Math.max(0, ms)))));
}

/** The duration a bin stands for (its geometric middle), ms. */
export function binDuration(bin: number): number {
	return 2 ** ((bin + 0.5) / 4) - 1;
}

/** The median of the durations in `bins` (within a quarter octave), or null when there are none. */
export function medianDuration(bins: Uint32Array): number | null {
	let total = 0;
	for (const count of bins) total += count;
	if (total === 0) return null;
	let seen = 0;
	for (let bin = 0; bin < bins.length; bin++) {
		seen += bins[bin]!;
		if (seen * 2 >= total) return binDuration(bin);
	}

	return null;
}
