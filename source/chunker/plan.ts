/**
 * Chunk planning: pure arithmetic over a size, no I/O and no per-byte work.
 *
 * Ranges are half-open: a chunk covers bytes `start <= offset < end`, and `size === end - start`.
 */
import {formatBytes, formatSizeArgument} from '../size.js';

/** One chunk of a plan. */
export type Chunk = {
	/** Index of the chunk, from 0. */
	id: number;
	/** First byte offset (inclusive). */
	start: number;
	/** One past the last byte offset (exclusive). */
	end: number;
	/** end - start. */
	size: number;
};

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

/** The default chunk size for small and medium files. */
export const baseChunkSize = 16 * MiB;

/** The default plan keeps at most this many chunks by growing the chunk size. */
export const targetMaxChunks = 4096;

/**
 * The most chunks a plan may have: 2^24 (1 TiB in the smallest age chunks, 64 KiB). Everything
 * that follows a job keeps one byte per chunk and walks them all (the dashboard's grid on every
 * frame, a resume's checkpoint), and a job that large does not work anyway: its checkpoint alone,
 * rewritten every second, holds a MAC or digest per chunk. `cage watch` refuses audit lines with
 * chunk ids or counts past it, so one absurd line cannot make it allocate gigabytes.
 */
export const maxChunks = 2 ** 24;

/**
 * The chunk size to use for a file of `size` bytes when none is given: 16 MiB, doubled until the
 * plan has at most 4096 chunks (64 GiB files get 16 MiB chunks, 1 TiB files 256 MiB ones), so
 * checkpoints, audit logs and the chunk grid stay small however large the file.
 */
export function defaultChunkSize(size: number): number {
	let chunkSize = baseChunkSize;
	while (Math.ceil(size / chunkSize) > targetMaxChunks) chunkSize *= 2;
	return chunkSize;
}

/** Effective chunk size: the flag, else config, else the size-based default. */
export function resolveChunkSize(size: number, flag: number | undefined, configured: number): number {
	if (flag !== undefined) return flag;
	if (configured > 0) return configured;
	return defaultChunkSize(size);
}

/** Round `value` up to a multiple of `unit`. */
export function roundUp(value: number, unit: number): number {
	return Math.ceil(value / unit) * unit;
}

/**
 * The number of chunks of a plan. An empty input still has one (empty) chunk, so that every job
 * has at least one unit of work (an empty file still gets an age header and a final block).
 */
export function chunkCount(size: number, chunkSize: number): number {
	assertPlan(size, chunkSize);
	const count = Math.max(1, Math.ceil(size / chunkSize));
	if (count > maxChunks) {
		// The smallest power of two that fits: a valid age chunk size too (a multiple of 64 KiB).
		const fits = 2 ** Math.ceil(Math.log2(size / maxChunks));
		throw new RangeError(
			`${formatBytes(size)} in chunks of ${formatBytes(chunkSize)} is ${count} chunks, more than the ${maxChunks} a job can have: use a chunk size of ${formatSizeArgument(fits)} or more (--chunk-size, or 'cage config set chunkSize')`,
		);
	}

	return count;
}

/** The chunk `id` of a plan, computed without building the whole plan. */
export function chunkAt(size: number, chunkSize: number, id: number): Chunk {
	const count = chunkCount(size, chunkSize);
	if (!Number.isInteger(id) || id < 0 || id >= count) throw new RangeError(`chunk ${id} is outside the plan (0..${count - 1})`);
	const start = id * chunkSize;
	const end = Math.min(size, start + chunkSize);
	return {id, start, end, size: end - start};
}

/**
 * Split `size` bytes into chunks of `chunkSize` bytes (the last one may be shorter).
 * A 1 TiB file at the default chunk size is 4096 chunks; even at 1 MiB chunks (a million) this
 * is a tight loop over integers.
 */
export function planChunks(size: number, chunkSize: number): Chunk[] {
	const count = chunkCount(size, chunkSize);
	const chunks: Chunk[] = new Array<Chunk>(count);
	for (let id = 0; id < count; id++) {
		const start = id * chunkSize;
		const end = Math.min(size, start + chunkSize);
		chunks[id] = {id, start, end, size: end - start};
	}
	return chunks;
}

function assertPlan(size: number, chunkSize: number): void {
	if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be a non-negative integer, got ${size}`);
	if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`chunk size must be a positive integer, got ${chunkSize}`);
}
