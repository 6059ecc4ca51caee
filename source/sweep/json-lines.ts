/** JSON Lines bookkeeping of a scan: line counts, line endings, where lines end. */
import type {SweepStatistics} from './statistics.js';

/** Per-line counts of a JSON Lines scan. */
export type LineCounts = {
	lines: number;
	records: number;
	blank: number;
	bad: number;
	crlf: number;
	lf: number;
	/** Offset and line of the first \r\n and of the first bare \n ending (-1: none), for mixed line endings. */
	firstCrlf: number;
	firstCrlfLine: number;
	firstLf: number;
	firstLfLine: number;
};

/** Counts of no lines. */
export function noLines(): LineCounts {
	return {lines: 0, records: 0, blank: 0, bad: 0, crlf: 0, lf: 0, firstCrlf: -1, firstCrlfLine: 0, firstLf: -1, firstLfLine: 0};
}

/** Bad lines listed in full; the rest are only counted. */
export const listedLineErrors = 20;

/** Record the mixed-line-endings anomaly where the second kind of ending first appears. */
export function mixedLineEndings(stats: SweepStatistics, counts: LineCounts): void {
	const crlfLater = counts.firstCrlf > counts.firstLf;
	stats.anomalies.delete('json-mixed-line-endings');
	stats.anomaly(
		'json-mixed-line-endings',
		crlfLater ? counts.firstCrlf : counts.firstLf,
		crlfLater ? counts.firstCrlfLine : counts.firstLfLine,
		`lines end with both \\n (first on line ${counts.firstLfLine}) and \\r\\n (first on line ${counts.firstCrlfLine})`,
	);
}

/** The first newline in buffer[start, end), or -1. */
export function indexOfNewline(buffer: Uint8Array, start: number, end: number): number {
	const found = buffer.indexOf(0x0a, start);
	return found < 0 || found >= end ? -1 : found;
}
