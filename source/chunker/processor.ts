/**
 * What a consumer plugs into the chunk runner: an encryptor, a decryptor, a hasher.
 * The runner knows nothing about what a processor does with the bytes.
 */
import type {Chunk} from './plan.js';
import type {SharedControl} from './control.js';

/** The bytes a processor reads, by position. */
export interface ChunkInput {
	/** Path, or null for a stream. */
	readonly path: string | null;
	/** Total size in bytes, or null when unknown. */
	readonly size: number | null;
	/** Read up to `length` bytes at `position` into `buffer` at `offset`; returns bytes read (0 at the end). */
	read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
	close(): Promise<void>;
}

/** Where a processor writes, by position. */
export interface ChunkOutput {
	readonly path: string | null;
	write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<void>;
	/** Flush to stable storage (before a checkpoint claims the bytes are there). */
	sync(): Promise<void>;
	close(): Promise<void>;
}

/** What the runner hands a processor for one attempt at one chunk. */
export interface ChunkContext {
	/** 1 for the first attempt. */
	readonly attempt: number;
	/** Pause/abort/rate state; post `control.handle` to worker threads and call `gateSync` there. */
	readonly control: SharedControl;
	/** Aborted when the job is aborted. */
	readonly signal: AbortSignal;
	/** Wait while paused or over the rate limit before processing `bytes` more (main-thread processors). */
	gate(bytes: number): Promise<void>;
	/** Report how many bytes of this chunk are processed so far (monotonic, cheap to call often). */
	progress(bytesOfChunk: number): void;
}

/** What a processed chunk leaves behind, recorded in the checkpoint. */
export type ChunkResult = {
	/**
	 * A keyed MAC (hex) of the chunk's source bytes, which a resume recomputes (the age engine's
	 * `verify`, the hasher's `replay`) to prove the source did not change. Never the bytes themselves.
	 */
	mac: string;
	/** Small public per-chunk facts the processor wants back on resume (a digest for the hasher). */
	info?: string;
	/**
	 * A keyed digest of the bytes the chunk wrote to the output, as written, which a resume after an
	 * unclean stop checks the output against (the age engine's; see age/chunk-digest.ts).
	 */
	digest?: string;
};

/** A pluggable chunk consumer. */
export interface ChunkProcessor {
	/**
	 * Process one chunk: read its bytes in bounded blocks (a few MiB at most, never the whole
	 * chunk), call `ctx.gate()`/`gateSync()` between blocks, report `ctx.progress()`.
	 * May run concurrently for different chunks unless `sequential` is true.
	 */
	process(chunk: Chunk, ctx: ChunkContext): Promise<ChunkResult>;
	/** Called once per chunk in chunk order after it is processed (or skipped, with result null). */
	commit?(chunk: Chunk, result: ChunkResult | null): void | Promise<void>;
	/** True when chunks must be processed one at a time, in order (e.g. a whole-file hash). */
	readonly sequential?: boolean;
	/** True when a chunk may be skipped and the job still makes sense (not for one age file). */
	readonly skippable?: boolean;
	/** Release workers, file handles. */
	close?(): Promise<void>;
}
