/**
 * Non-interactive progress: plain lines for humans and logs, NDJSON for scripts. Both are event
 * sinks, fed by the same events as the dashboard.
 */
import {outputLabel, skippedByUser, type AnomalyEvent, type JobKind, type CageEvent, type EventSink} from '../chunker/events.js';
import {formatBytes, formatDuration, formatRate} from '../size.js';

type Writable = {write(chunk: string): unknown};

/** NDJSON: one event per line, exactly as emitted. `chunk:progress` is limited to `maxPerSecond`. */
export function jsonReporter(out: Writable, {maxProgressPerSecond = 4} = {}): EventSink {
	let lastProgress = 0;
	return event => {
		if (event.type === 'chunk:progress') {
			if (event.ts - lastProgress < 1000 / maxProgressPerSecond) return;
			lastProgress = event.ts;
		}

		out.write(JSON.stringify(event) + '\n');
	};
}

/**
 * Per job. In a batch, `itemBase` is the bytes of the files done so far (chunk events count within
 * their file), and `bytesSkipped` those of the files the user skipped: settled, as the dashboard
 * counts them, so the percentage is (done + skipped) / total and a skip never moves it back.
 */
type JobLine = {
	size: number | null;
	startedAt: number;
	startBytes: number;
	lastLine: number;
	kind: JobKind;
	/** What the lines call the job: its kind, or lock / unlock. */
	label: string;
	source: string | null;
	itemBase: number;
	bytesSkipped: number;
	current: {item: number; size: number} | null;
	/** Time spent paused (ended pauses), and when the current pause began. */
	pausedMs: number;
	pausedSince: number | null;
};

/**
 * The job's average rate at `ts`: what this run did over the time it ran since its job:start, its
 * pauses left out — the dashboard's definition (telemetry/reducer.ts), so the plain lines, the
 * last of them and the dashboard all give one figure.
 */
function averageRate(job: JobLine, bytesDone: number, ts: number): number {
	const paused = job.pausedMs + (job.pausedSince === null ? 0 : ts - job.pausedSince);
	return ((bytesDone - job.startBytes) * 1000) / Math.max(1, ts - job.startedAt - paused);
}

/**
 * The anomalies raised for a chunk that failed for good or a file of a batch that failed: they are
 * for the dashboard's list, and the failure has its own line here (the file's, or the job's end).
 */
function restatesFailure(event: AnomalyEvent): boolean {
	return event.code === 'item-failed' || (event.chunk !== undefined && (event.code === 'auth-failed' || event.code === 'io-error'));
}

/**
 * Plain lines: a status line at most every `intervalMs` (percent, bytes, rate, ETA), plus one line
 * per notable event (start, pause, anomaly, item, failure, end). No cursor movement, no colour.
 * A failure is said once: by the file's line in a batch, else by the job's end line, or, with
 * `endError` false, by the caller after the job (the session's `cage <command>:` line).
 */
export function plainReporter(out: Writable, {intervalMs = 1000, prefixJobs = false, endError = true} = {}): EventSink {
	const jobs = new Map<string, JobLine>();
	// A live job has one; a log may hold several, and the first one's lines come before the second is known.
	const prefix = (event: CageEvent) => (prefixJobs || jobs.size > 1 ? `[${event.job}] ` : '');

	// The job's end forces a last line, with no ETA: a job that stopped short has none.
	const status = (event: CageEvent, bytesDone: number, end = false) => {
		const job = jobs.get(event.job);
		if (!job) return;
		if (!end && event.ts - job.lastLine < intervalMs) return;
		job.lastLine = event.ts;
		const rate = averageRate(job, bytesDone, event.ts);
		const settled = bytesDone + job.bytesSkipped;
		const skipped = job.bytesSkipped > 0 ? `, ${formatBytes(job.bytesSkipped)} skipped` : '';
		const parts: string[] = [];
		if (job.size !== null && job.size > 0) parts.push(`${((settled / job.size) * 100).toFixed(1).padStart(5)}%`);
		parts.push(job.size === null ? formatBytes(bytesDone) : `${formatBytes(bytesDone)} / ${formatBytes(job.size)}${skipped}`);
		parts.push(formatRate(rate));
		if (!end && job.size !== null && rate > 0 && settled < job.size) parts.push(`ETA ${formatDuration(((job.size - settled) / rate) * 1000)}`);
		out.write(`${prefix(event)}${job.label}: ${parts.join('  ')}\n`);
	};

	return event => {
		switch (event.type) {
			case 'job:start': {
				jobs.set(event.job, {size: event.size, startedAt: event.ts, startBytes: event.bytesDone, lastLine: event.ts, kind: event.kind, label: event.inPlace ?? event.kind, source: event.source, itemBase: event.bytesDone, bytesSkipped: 0, current: null, pausedMs: 0, pausedSince: null});
				const from = event.resumed ? (event.items === undefined ? ` (resuming at chunk ${event.chunksDone}/${event.chunks}, ${formatBytes(event.bytesDone)} done)` : ` (resuming, ${formatBytes(event.bytesDone)} done)`) : '';
				// A stream has no plan; its size, when known, tells about how many chunks it will have.
				const chunks = event.chunks || (event.size ? `~${Math.max(1, Math.ceil(event.size / event.chunkSize))}` : '?');
				const units = event.items === undefined ? `${chunks} chunk(s) of ${formatBytes(event.chunkSize)}` : `${event.items} file(s)`;
				// Lock and unlock name their job, and a batch of several files is one directory, in place.
				const route =
					event.inPlace && (event.items ?? 0) > 1 ? `${event.source} (in place, ${event.inPlace === 'lock' ? 'each FILE -> FILE.age' : 'each FILE.age -> FILE'})` : `${event.source ?? 'stdin'} -> ${outputLabel(event.kind, event.output)}`;
				out.write(
					`${prefix(event)}${event.inPlace ?? event.kind} ${route}: ${
						event.size === null ? 'size unknown' : formatBytes(event.size)
					}, ${units}, ${event.jobs} job(s)${from}\n`,
				);
				break;
			}

			case 'chunk:progress':
			case 'chunk:done': {
				status(event, (event.item === undefined ? 0 : (jobs.get(event.job)?.itemBase ?? 0)) + event.bytesDone);
				break;
			}

			case 'item:done': {
				const job = jobs.get(event.job);
				if (job) job.itemBase += event.bytes;
				out.write(`${prefix(event)}[${event.item + 1}] done ${event.path} (${formatBytes(event.bytes)} in ${formatDuration(event.durationMs)})\n`);
				break;
			}

			case 'chunk:failed': {
				if (!event.willRetry) break;
				out.write(`${prefix(event)}chunk ${event.chunk} failed (attempt ${event.attempt}, retrying): ${event.error}\n`);
				break;
			}

			case 'chunk:skipped': {
				out.write(`${prefix(event)}chunk ${event.chunk} skipped: ${event.reason}\n`);
				break;
			}

			case 'item:start': {
				const job = jobs.get(event.job);
				if (job) {
					job.current = {item: event.item, size: event.size};
					// A file resumed from its own checkpoint: what it had done is not this run's work.
					job.startBytes += event.bytesDone ?? 0;
				}

				out.write(`${prefix(event)}[${event.item + 1}/${event.items}] ${event.path} -> ${outputLabel(job?.kind ?? null, event.output)} (${formatBytes(event.size)})\n`);
				break;
			}

			case 'item:skipped': {
				const job = jobs.get(event.job);
				if (job?.current?.item === event.item && event.reason === skippedByUser) job.bytesSkipped += job.current.size;
				out.write(`${prefix(event)}[${event.item + 1}] skipped ${event.path}: ${event.reason}\n`);
				break;
			}

			case 'anomaly': {
				if (restatesFailure(event)) break;
				out.write(`${prefix(event)}${event.severity}: ${event.message} [${event.code}]\n`);
				break;
			}

			case 'job:paused': {
				const job = jobs.get(event.job);
				if (job) job.pausedSince ??= event.ts;
				out.write(`${prefix(event)}paused at ${formatBytes(event.bytesDone)}\n`);
				break;
			}

			case 'job:resumed': {
				const job = jobs.get(event.job);
				if (job?.pausedSince != null) {
					job.pausedMs += event.ts - job.pausedSince;
					job.pausedSince = null;
				}

				out.write(`${prefix(event)}resumed\n`);
				break;
			}

			case 'job:done': {
				status(event, event.bytesDone, true);
				const job = jobs.get(event.job);
				// The same average as the line above: the job's durationMs also counts its set-up before job:start.
				const rate = job ? averageRate(job, event.bytesDone, event.ts) : 0;
				const skipped = job?.bytesSkipped ? ` (${formatBytes(job.bytesSkipped)})` : '';
				const items = event.itemsDone === undefined ? '' : `, ${event.itemsDone} file(s) done, ${event.itemsSkipped ?? 0} skipped${skipped}`;
				// A resumed job's time and rate are this run's: say how much of the total that was.
				const thisRun = job && job.startBytes > 0 ? ` (${formatBytes(Math.max(0, event.bytesDone - job.startBytes))} in this run)` : '';
				out.write(
					`${prefix(event)}${event.outcome}: ${formatBytes(event.bytesDone)}${thisRun} in ${formatDuration(event.durationMs)} (${formatRate(rate)})${items}${
						event.error && endError ? `: ${event.error}` : ''
					}\n`,
				);
				break;
			}

			default: {
				break;
			}
		}
	};
}
