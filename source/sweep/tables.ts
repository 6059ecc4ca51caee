/**
 * The lookup tables a chunk's scan uses and nothing uses after it (the scanner's path hashes, the
 * statistics' fingerprint and key caches: about 30 KiB a chunk, outside V8's heap), taken from and
 * given back to this thread's free lists, so that the next chunk's scan gets them again. Made fresh
 * for each chunk they were garbage that only a full collection gave back: several MiB of a 1 GiB
 * sweep's peak memory (its 64 chunks).
 */

/** Tables kept per length: about as many as a thread scans with at once. */
const keptPerLength = 4;
const free = new Map<number, Int32Array[]>();

/** A zeroed table of `length` entries. */
export function takeTable(length: number): Int32Array {
	const table = free.get(length)?.pop();
	if (!table) return new Int32Array(length);
	table.fill(0);
	return table;
}

/** `table` is not read or written any more (an empty one, the released placeholder, is dropped). */
export function giveTable(table: Int32Array): void {
	if (table.length === 0) return;
	let list = free.get(table.length);
	if (!list) free.set(table.length, (list = []));
	if (list.length < keptPerLength && !list.includes(table)) list.push(table);
}

/** What a released table is replaced with: reads miss (undefined), writes do nothing. */
export const releasedTable = new Int32Array(0);
