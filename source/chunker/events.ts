/**
 * The one event union that crosses from the engine to everything that watches it: the progress
 * reporters, the audit logger, the dashboard reducer. A live run and a tailed audit log produce
 * exactly these objects.
 *
 * Every event carries `job` (the job id), `ts` (milliseconds since the epoch) and `seq` (a
 * per-job counter starting at 0, incremented by one for every event the job emits except the
 * transient `chunk:progress` updates between two samples (see `JobEmitter`): those repeat the seq
 * of the event before them and never reach a log, so a complete log numbers its lines 0, 1, 2…
 * with no gaps and no repeats.
 */

/** What a job does. */
export type JobKind = 'encrypt' | 'decrypt' | 'hash' | 'sweep' | 'verify' | 'prune';

/** What stands for a job's output where it has none (a digest, a report, nothing written), else stdout. */
export function outputLabel(kind: JobKind | null, output: string | null): string {
	if (output !== null) return output;
	if (kind === 'hash') return '(digest)';
	if (kind === 'sweep') return '(report)';
	if (kind === 'verify') return '(nothing written)';
	if (kind === 'prune') return '(generations removed)';
	return 'stdout';
}

/** How a job ended. */
export type JobOutcome = 'completed' | 'interrupted' | 'failed';

/** Severity of an anomaly. */
export type Severity = 'info' | 'warn' | 'error';

/** Codes of what `cage sweep` finds in a JSON / JSON Lines input (source/sweep/statistics.ts). */
export const sweepAnomalyCodes = [
	'json-deep-nesting',
	'json-huge-token',
	'json-invalid-utf8',
	'json-lone-surrogate',
	'json-bom',
	'json-control-character',
	'json-mixed-line-endings',
	'json-duplicate-key',
	'json-nan-infinity',
	'json-trailing-comma',
	'json-syntax-error',
] as const;

/** Stable anomaly codes; thresholds live in config. */
export const anomalyCodes = [
	'slow-chunk',
	'stall',
	'throughput-collapse',
	'source-changed',
	'output-changed',
	'chunk-retried',
	'io-error',
	'checkpoint-write-failed',
	'auth-failed',
	'audit-write-failed',
	'audit-malformed-line',
	'audit-sequence-gap',
	'audit-unknown-version',
	'skip-unavailable',
	'item-failed',
	'resume-checked',
	'in-place',
	'backup-pruned',
	'backup-orphan',
	...sweepAnomalyCodes,
] as const;

/** A stable anomaly code. */
export type AnomalyCode = (typeof anomalyCodes)[number];

type Base<T extends string> = {
	type: T;
	/** Job id. */
	job: string;
	/** Milliseconds since the epoch. */
	ts: number;
	/** Per-job sequence number, starting at 0. */
	seq: number;
};

/** A job started (or resumed from a checkpoint). */
export type JobStartEvent = Base<'job:start'> & {
	kind: JobKind;
	/** Source path, or null for stdin. */
	source: string | null;
	/** Output path, or null for stdout / no output (hash). */
	output: string | null;
	/** Total bytes of work (plaintext bytes), or null when unknown (a stream). */
	size: number | null;
	chunkSize: number;
	/** Total chunks of the (current) item; 0 when unknown (a stream). */
	chunks: number;
	/** Chunks already committed when the job started (resume), else 0. */
	chunksDone: number;
	/** Bytes already committed when the job started (resume), else 0. */
	bytesDone: number;
	/** Number of items (files) when this is a batch job, else omitted. */
	items?: number;
	/** Concurrency. */
	jobs: number;
	/** The process id running the job (lets a watcher tell jobs apart). */
	pid: number;
	/** True when this run continues a checkpoint. */
	resumed: boolean;
	/** A `cage lock` / `cage unlock` batch (kind is then encrypt / decrypt): what the user ran, for the lines shown. */
	inPlace?: 'lock' | 'unlock';
	/** The rate limit in bytes per second (`--rate`), when there is one. */
	rate?: number;
	/** The host name of the process (the audit logger records it), so a watcher can tell whether the pid is its own host's. */
	host?: string;
};

/** A chunk started processing (attempt starts at 1). */
export type ChunkStartEvent = Base<'chunk:start'> & {
	chunk: number;
	start: number;
	size: number;
	attempt: number;
	item?: number;
};

/** Live progress inside a chunk; coalesced, not all reach the audit log. */
export type ChunkProgressEvent = Base<'chunk:progress'> & {
	chunk: number;
	/** Bytes of this chunk processed so far. */
	bytes: number;
	/** Bytes of the whole job processed so far (committed + in flight). */
	bytesDone: number;
	item?: number;
};

/** A chunk was committed (all chunks before it are committed too). */
export type ChunkDoneEvent = Base<'chunk:done'> & {
	chunk: number;
	start: number;
	size: number;
	durationMs: number;
	attempt: number;
	/** Bytes of the whole job committed, including this chunk. */
	bytesDone: number;
	item?: number;
};

/** A chunk attempt failed; `willRetry` tells whether another attempt follows. */
export type ChunkFailedEvent = Base<'chunk:failed'> & {
	chunk: number;
	start: number;
	size: number;
	attempt: number;
	willRetry: boolean;
	error: string;
	/** Error code such as ENOSPC or EAUTH, when there is one. */
	code?: string;
	item?: number;
};

/** A chunk was skipped (by the user or because a resumed job recorded it skipped). */
export type ChunkSkippedEvent = Base<'chunk:skipped'> & {
	chunk: number;
	start: number;
	size: number;
	reason: string;
	item?: number;
};

/** A file of a batch started. */
export type ItemStartEvent = Base<'item:start'> & {
	item: number;
	items: number;
	path: string;
	output: string | null;
	size: number;
	chunkSize: number;
	chunks: number;
	/**
	 * A file resumed from its own checkpoint: the chunks and bytes done before this run (absent for
	 * a file started afresh). Views count them as done, not as this run's work.
	 */
	chunksDone?: number;
	bytesDone?: number;
};

/** A file of a batch finished. */
export type ItemDoneEvent = Base<'item:done'> & {
	item: number;
	path: string;
	bytes: number;
	durationMs: number;
};

/**
 * The reason of a skip the user asked for (`s`). A batch counts a file skipped so as settled: out of
 * the work that remains. Any other reason of an item:skipped (a failure, an interruption) leaves
 * the file's bytes to do.
 */
export const skippedByUser = 'skipped by user';

/** A file of a batch was skipped. */
export type ItemSkippedEvent = Base<'item:skipped'> & {
	item: number;
	path: string;
	reason: string;
};

/** Something worth a human's attention. */
export type AnomalyEvent = Base<'anomaly'> & {
	severity: Severity;
	code: AnomalyCode;
	message: string;
	chunk?: number;
	item?: number;
};

/**
 * What a job does besides its main work, and when the main work starts: `opening` the input
 * (an age header, recipients), `verifying` what a resume continues (`done` of `total` chunks
 * checked), `processing` (the main phase: encrypting, decrypting, hashing), `syncing` the output
 * to disk, `renaming` it into place. Rate and ETA count only the main phase.
 */
export const jobPhases = ['opening', 'verifying', 'processing', 'syncing', 'renaming'] as const;

/** A phase of a job (see `jobPhases`). */
export type JobPhase = (typeof jobPhases)[number];

/** The job (or the current file of a batch) entered a phase, or reports progress within one. */
export type JobPhaseEvent = Base<'job:phase'> & {
	phase: JobPhase;
	/** Progress within the phase (verifying: chunks checked), with `total`. */
	done?: number;
	total?: number;
	item?: number;
};

/** The job was paused. */
export type JobPausedEvent = Base<'job:paused'> & {bytesDone: number};

/** The job was resumed after a pause. */
export type JobResumedEvent = Base<'job:resumed'> & {bytesDone: number};

/** A checkpoint was written. */
export type JobCheckpointEvent = Base<'job:checkpoint'> & {
	path: string;
	chunksDone: number;
	bytesDone: number;
};

/** The job ended. */
export type JobDoneEvent = Base<'job:done'> & {
	outcome: JobOutcome;
	bytesDone: number;
	durationMs: number;
	/** The error message when the outcome is failed (or interrupted by an error). */
	error?: string;
	/** The checkpoint kept for resume, when there is one. */
	checkpoint?: string;
	/** The exact command that resumes the job, when it can be resumed. */
	resumeCommand?: string;
	/** Items done / skipped / total, for batch jobs. */
	itemsDone?: number;
	itemsSkipped?: number;
};

/** Every event. */
export type CageEvent =
	| JobStartEvent
	| ChunkStartEvent
	| ChunkProgressEvent
	| ChunkDoneEvent
	| ChunkFailedEvent
	| ChunkSkippedEvent
	| ItemStartEvent
	| ItemDoneEvent
	| ItemSkippedEvent
	| AnomalyEvent
	| JobPausedEvent
	| JobResumedEvent
	| JobCheckpointEvent
	| JobPhaseEvent
	| JobDoneEvent;

/** The event type names. */
export type CageEventType = CageEvent['type'];

/** All event type names, for validation. */
export const eventTypes: readonly CageEventType[] = [
	'job:start',
	'chunk:start',
	'chunk:progress',
	'chunk:done',
	'chunk:failed',
	'chunk:skipped',
	'item:start',
	'item:done',
	'item:skipped',
	'anomaly',
	'job:paused',
	'job:resumed',
	'job:checkpoint',
	'job:phase',
	'job:done',
];

/** The event of a given type name. */
export type EventOf<T extends CageEventType> = Extract<CageEvent, {type: T}>;

/** An event before the emitter stamps job, ts and seq on it. */
export type EventInput<E extends CageEvent = CageEvent> = E extends CageEvent ? Omit<E, 'job' | 'ts' | 'seq'> : never;

/** Anything that can receive events. */
export type EventSink = (event: CageEvent) => void;

/** What can be done to a running job from outside: the dashboard's keys, signals, a library user. */
export interface JobControl {
	pause(): void;
	resume(): void;
	/** Skip the current item (batch) or chunk, where the job allows it. */
	skip(): void;
	/** Retry failed items/chunks, where the job allows it. */
	retry(): void;
	/** Stop, save a checkpoint and end with outcome `interrupted`. */
	abort(reason?: string): void;
	readonly paused: boolean;
}
