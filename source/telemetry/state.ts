/**
 * The dashboard state: what the reducer builds from events and the UI reads. Nothing here knows
 * about terminals or React.
 */
import type {AnomalyEvent, JobKind, JobPhase} from '../chunker/events.js';
import type {Timeline} from './timeline.js';

/** Chunk states, stored one byte per chunk. */
export const ChunkState = {
	pending: 0,
	running: 1,
	done: 2,
	failed: 3,
	skipped: 4,
} as const;

export type ChunkStateCode = (typeof ChunkState)[keyof typeof ChunkState];

/** Chunk state names, indexed by code. */
export const chunkStateNames = ['pending', 'running', 'done', 'failed', 'skipped'] as const;

export type ChunkStateName = (typeof chunkStateNames)[number];

/**
 * How bad each state is, indexed by code: a bucket of chunks shows its worst state. A failure
 * matters most, then lost data (skipped), then work in flight, then work not started; a bucket is
 * shown done only when every chunk in it is done.
 */
export const chunkStateBadness: readonly number[] = [1, 2, 0, 4, 3];

/** What a job is doing now. */
export type JobRunState = 'running' | 'paused' | 'done' | 'failed' | 'interrupted';

/** Throughput figures, computed from event timestamps only (a replayed log gives the same). */
export type Throughput = {
	/** Bytes per second over the sliding window (0 while paused or idle). */
	current: number;
	/** Bytes per second since the job started, paused time excluded. */
	average: number;
	/** Highest rate seen over a second or more (the sliding window, or a one-second bucket). */
	peak: number;
	/** One-second rates, oldest first (capped), for the sparkline. */
	history: number[];
};

/** What became of a file of a batch. */
export type BatchFileState = 'running' | 'done' | 'skipped' | 'failed' | 'interrupted';

/** A file of a batch that has started (the ones not started yet are only counted). */
export type BatchFile = {index: number; path: string; size: number; state: BatchFileState};

/** The files of a batch job. */
export type BatchView = {
	total: number;
	done: number;
	/** Files not done, whatever the reason (the user's skip, a failure, an interruption). */
	skipped: number;
	/** Of the skipped: the ones that failed. */
	failed: number;
	/** The file being processed, when there is one. */
	current: {index: number; path: string; size: number} | null;
	/** The files started so far, in the order they started (capped: the oldest finished go first). */
	files: BatchFile[];
	/** Bytes of all the files of the batch (the job's size), when known. */
	bytes: number | null;
	/** Bytes of the files started so far, the capped ones included. */
	startedBytes: number;
};

/** One line of the audit tail. */
export type AuditLine = {seq: number; ts: number; type: string; text: string};

/** Everything the dashboard shows about one job. */
export type JobView = {
	id: string;
	kind: JobKind | null;
	source: string | null;
	output: string | null;
	pid: number | null;
	state: JobRunState;
	resumed: boolean;
	/** ts of job:start (or the first event seen). */
	startedAt: number;
	/** ts of the latest event. */
	lastTs: number;
	/** Total time paused, in ms. */
	pausedMs: number;
	pausedSince: number | null;
	size: number | null;
	chunkSize: number;
	/** Chunks in the plan (of the current item in a batch); grows with the ids seen for a stream. */
	chunkCount: number;
	/** One state code per chunk; only the first `chunkCount` entries are meaningful. */
	chunks: Uint8Array;
	/** Per chunk: how long its last attempt took to commit, ms (0 until done). */
	durations: Uint32Array;
	/** Per chunk: attempts started (0 until started). */
	attempts: Uint8Array;
	/** Durations of the done chunks of the plan, by `durationBin` (for the median). */
	durationBins: Uint32Array;
	/** The rate limit (bytes/s), when the job has one. */
	rateLimit: number | null;
	/** What the job (or its current file) is doing, when it said; null for jobs that never do (older logs). */
	phase: {name: JobPhase; done?: number; total?: number} | null;
	/** Time outside the main phase (not paused), ms: the average leaves it out. */
	sideMs: number;
	sideSince: number | null;
	/** The rate over the job's whole time, for the chart. */
	timeline: Timeline;
	/** How many chunks are in each state, indexed by code. */
	chunkCounts: number[];
	/** Bytes done (committed + in flight) as last reported. */
	bytesDone: number;
	/** Bytes already done when this run started (resume). */
	startBytes: number;
	/** Batch: bytes of the items finished so far (chunk events count bytes within their item). */
	itemBase: number;
	/**
	 * Batch: bytes of the files the user skipped. Not done, but settled (out of the work that
	 * remains): progress is `settledBytes`, done + skipped, so a skip never moves it back.
	 */
	bytesSkipped: number;
	concurrency: number;
	throughput: Throughput;
	/** Milliseconds to go at the current rate; null for streams or when unknown. */
	etaMs: number | null;
	batch: BatchView | null;
	/** Newest first, capped. */
	anomalies: AnomalyEvent[];
	/** Anomalies ever seen, by severity (the list above is capped). */
	anomalyCounts: {info: number; warn: number; error: number};
	/** Recent events as text, oldest first, capped. */
	audit: AuditLine[];
	/** Audit lines added since the job began (the list keeps the latest): a scrolled view stays on its lines as new ones arrive. */
	auditCount: number;
	/** How the job ended, once it has. */
	ending: {outcome: 'completed' | 'interrupted' | 'failed'; durationMs: number; error?: string; checkpoint?: string; resumeCommand?: string} | null;
	lastCheckpoint: string | null;
	/** Incremented on every change to this job. */
	version: number;
	/** Internal: throughput window samples [ts, bytes] pairs, oldest first. */
	window: number[];
	/** Internal: the current one-second bucket. */
	bucketStart: number;
	bucketBytes: number;
};

/** The whole dashboard: every job seen, and which one is shown. */
export type DashboardState = {
	/** Job ids in the order they were first seen. */
	order: string[];
	jobs: Map<string, JobView>;
	/** The job shown, or null before any event. */
	selected: string | null;
	/** Incremented on every change; the UI re-renders when it moves. */
	version: number;
	limits: DashboardLimits;
	/** Jobs evicted for newer ones (past `limits.jobs`): their later events are ignored until they start again. */
	evicted: Set<string>;
};

/** Caps that keep memory flat however long a job or a watched log runs. */
export type DashboardLimits = {
	anomalies: number;
	auditLines: number;
	history: number;
	jobs: number;
	/** Files of a batch listed (the counts cover them all). */
	batchFiles: number;
	/** Sliding throughput window, ms. */
	windowMs: number;
};

export const defaultLimits: DashboardLimits = {anomalies: 200, auditLines: 200, history: 120, jobs: 32, batchFiles: 500, windowMs: 3000};
