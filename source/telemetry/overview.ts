/**
 * The jobs table of `cage watch`: one small summary per job seen in the watched logs, however many
 * (the full dashboard state keeps only the latest few jobs). Each event costs O(1) and keeps no
 * text: the last line is the event itself, described only when drawn.
 */
import type {CageEvent, JobKind} from '../chunker/events.js';
import type {JobRunState} from './state.js';

/** A job as the jobs table shows it. */
export type JobSummary = {
	id: string;
	kind: JobKind | null;
	source: string | null;
	pid: number | null;
	/** The host that ran it, when its log says (audit logs written since it was recorded). */
	host: string | null;
	state: JobRunState;
	size: number | null;
	bytesDone: number;
	startBytes: number;
	startedAt: number;
	lastTs: number;
	pausedMs: number;
	pausedSince: number | null;
	/** Files of a batch, when it is one. */
	items: number | null;
	/** The latest event (not a progress sample), for the table's last line. */
	last: CageEvent;
	/** Order first seen. */
	order: number;
};

/** Every job seen, by id. */
export type Overview = {jobs: Map<string, JobSummary>; version: number};

export function createOverview(): Overview {
	return {jobs: new Map(), version: 0};
}

/** How long a job may write nothing, not paused and not ended, before it counts as silent. */
export const defaultSilentMs = 5 * 60_000;

/** Apply one event to the overview (in place). */
export function applyToOverview(overview: Overview, event: CageEvent): void {
	let job = overview.jobs.get(event.job);
	if (!job || event.type === 'job:start') {
		job = {
			id: event.job,
			kind: null,
			source: null,
			pid: null,
			host: null,
			state: 'running',
			size: null,
			bytesDone: 0,
			startBytes: 0,
			startedAt: event.ts,
			lastTs: event.ts,
			pausedMs: 0,
			pausedSince: null,
			items: null,
			last: event,
			order: job?.order ?? overview.jobs.size,
		};
		overview.jobs.set(event.job, job);
	}

	if (event.ts > job.lastTs) job.lastTs = event.ts;
	if (event.type !== 'chunk:progress') job.last = event;
	switch (event.type) {
		case 'job:start': {
			job.kind = event.kind;
			job.source = event.source;
			job.pid = event.pid;
			job.host = event.host ?? null;
			job.size = event.size;
			job.bytesDone = event.bytesDone;
			job.startBytes = event.bytesDone;
			job.items = event.items ?? null;
			break;
		}

		case 'chunk:progress':
		case 'chunk:done': {
			// Within a batch the chunk events count the current file; the files' ends count the batch.
			if (job.items === null) job.bytesDone = Math.max(job.bytesDone, event.bytesDone);
			break;
		}

		case 'item:done': {
			job.bytesDone += event.bytes;
			break;
		}

		case 'job:paused': {
			if (job.state === 'running') {
				job.state = 'paused';
				job.pausedSince = event.ts;
			}

			break;
		}

		case 'job:resumed': {
			if (job.pausedSince !== null) job.pausedMs += event.ts - job.pausedSince;
			job.pausedSince = null;
			job.state = 'running';
			break;
		}

		case 'job:done': {
			if (job.pausedSince !== null) job.pausedMs += event.ts - job.pausedSince;
			job.pausedSince = null;
			job.bytesDone = event.bytesDone;
			job.state = event.outcome === 'completed' ? 'done' : event.outcome;
			break;
		}

		default: {
			break;
		}
	}

	overview.version++;
}

/** A job's state in the table: its own, or silent / dead when it stopped writing without an end. */
export type LiveState = JobRunState | 'silent' | 'dead';

/**
 * Silent: running (not paused, not ended) with no line for `silentMs`. Dead: silent, and its
 * process is gone, when the log says it ran on this host (`alive` checks the pid here).
 */
export function liveState(job: JobSummary, now: number, silentMs: number, here: string, alive: (pid: number) => boolean): LiveState {
	if (job.state !== 'running' || now - job.lastTs < silentMs) return job.state;
	if (job.pid !== null && job.host === here && !alive(job.pid)) return 'dead';
	return 'silent';
}

/** Progress 0..1, or null when the size is unknown. */
export function jobProgress(job: JobSummary): number | null {
	if (job.state === 'done') return 1;
	return job.size ? Math.min(1, job.bytesDone / job.size) : null;
}

/** Average rate over the job's time, paused time left out (bytes/s). */
export function jobRate(job: JobSummary): number {
	const active = job.lastTs - job.startedAt - job.pausedMs - (job.pausedSince === null ? 0 : job.lastTs - job.pausedSince);
	return active > 0 ? Math.max(0, ((job.bytesDone - job.startBytes) * 1000) / active) : 0;
}
