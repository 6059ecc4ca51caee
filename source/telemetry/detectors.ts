/**
 * Anomaly detectors for a live job: they watch its events and send `anomaly` events back into the
 * same emitter, so the dashboard, the plain/JSON reporters and the audit log all see them.
 *
 * - slow-chunk: a chunk's time per byte over `slowChunkFactor` times the running median (of the
 *   last chunks), once a few chunks are done, and at least a second. Chunks in flight during a
 *   pause are not judged.
 * - stall: no progress for `stallSeconds` while running (a timer, unref'd).
 * - throughput-collapse: the rate over a short window below `collapseFactor` times the average,
 *   for a sustained window.
 * - source-changed: the source file's size or mtime moved while the job runs (polled).
 */
import fs from 'node:fs';
import type {JobEmitter} from '../chunker/emitter.js';
import type {AnomalyCode, CageEvent, Severity} from '../chunker/events.js';
import type {Settings} from '../config.js';
import {formatDuration, formatRate} from '../size.js';

export type DetectorOptions = {
	settings: Pick<Settings, 'slowChunkFactor' | 'stallSeconds' | 'collapseFactor'>;
	/** The source file to poll for changes; null/undefined for none (stdin). */
	sourcePath?: string | null | undefined;
	/** Clock for the timers (tests inject one). */
	now?: () => number;
	/** How often timers check, ms. */
	tickMs?: number;
	/** How often the source is polled, ms. */
	pollMs?: number;
	/** Chunks needed before slow-chunk judges. */
	minChunks?: number;
	/** Chunks in the running median. */
	medianWindow?: number;
	/** A chunk quicker than this is never slow (rate limits make short chunks jittery), ms. */
	minSlowMs?: number;
	/** Throughput window, and how long a collapse must last, ms. */
	collapseWindowMs?: number;
	/** Running time before collapse is judged, ms. */
	collapseWarmupMs?: number;
};

type Sample = {at: number; bytes: number};

/** Median of a small array (copied, sorted). */
function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = sorted.length >> 1;
	return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Attach the detectors to a job's emitter; returns a function that stops them. */
export function attachDetectors(emitter: JobEmitter, options: DetectorOptions): () => void {
	const now = options.now ?? Date.now;
	const {slowChunkFactor, stallSeconds, collapseFactor} = options.settings;
	const minChunks = options.minChunks ?? 4;
	const medianWindow = options.medianWindow ?? 64;
	const minSlowMs = options.minSlowMs ?? 1000;
	const collapseWindowMs = options.collapseWindowMs ?? 5000;
	const collapseWarmupMs = options.collapseWarmupMs ?? 10_000;
	const tickMs = options.tickMs ?? 1000;
	const pollMs = options.pollMs ?? 2000;

	let running = false;
	let paused = false;
	let ended = false;
	let startBytes = 0;
	let bytes = 0;
	let activeSince = 0;
	let activeBefore = 0;
	let lastProgress = 0;
	let stalled = false;
	let collapsedSince: number | null = null;
	let collapseReported = false;
	const perByte: number[] = [];
	const pausedChunks = new Set<number>();
	const inflight = new Set<number>();
	let samples: Sample[] = [];

	// Sent after the current event finished reaching every listener, so the anomaly's seq follows
	// the event that caused it everywhere (audit log included).
	const raise = (severity: Severity, code: AnomalyCode, message: string, chunk?: number) => {
		queueMicrotask(() => {
			if (ended) return;
			emitter.send({type: 'anomaly', severity, code, message, ...(chunk === undefined ? {} : {chunk})});
		});
	};

	const activeMs = (at: number) => activeBefore + (running && !paused ? at - activeSince : 0);

	const progress = (value: number) => {
		const at = now();
		if (value > bytes) {
			lastProgress = at;
			if (stalled) stalled = false;
		}

		bytes = Math.max(bytes, value);
		samples.push({at, bytes});
		while (samples.length > 2 && samples[1]!.at <= at - collapseWindowMs) samples.shift();
	};

	const checkCollapse = (at: number) => {
		// A stall says more than a collapse to zero; do not report both.
		if (!running || paused || stalled || collapseFactor <= 0) return;
		const active = activeMs(at);
		if (active < collapseWarmupMs) return;
		const average = ((bytes - startBytes) * 1000) / active;
		const first = samples[0];
		if (!first || average <= 0) return;
		const span = at - first.at;
		if (span < collapseWindowMs / 2) return;
		const rate = ((bytes - first.bytes) * 1000) / span;
		if (rate < collapseFactor * average) {
			collapsedSince ??= at;
			if (!collapseReported && at - collapsedSince >= collapseWindowMs) {
				collapseReported = true;
				raise('warn', 'throughput-collapse', `throughput fell to ${formatRate(rate)}, under ${Math.round(collapseFactor * 100)}% of the average ${formatRate(average)}`);
			}
		} else {
			collapsedSince = null;
			collapseReported = false;
		}
	};

	const tick = () => {
		const at = now();
		if (running && !paused && !stalled && at - lastProgress >= stallSeconds * 1000) {
			stalled = true;
			raise('warn', 'stall', `no progress for ${formatDuration(at - lastProgress)}`);
		}

		checkCollapse(at);
	};

	let timer: NodeJS.Timeout | undefined;
	let poller: NodeJS.Timeout | undefined;
	let baseline: {size: number; mtimeMs: number} | undefined;
	let sourceReported = false;

	const poll = () => {
		const file = options.sourcePath;
		if (!file || sourceReported || !running) return;
		fs.stat(file, (error, stats) => {
			if (ended || sourceReported) return;
			if (error) {
				sourceReported = true;
				raise('error', 'source-changed', `the source ${file} disappeared while the job runs`);
				return;
			}

			if (!baseline) {
				baseline = {size: stats.size, mtimeMs: stats.mtimeMs};
				return;
			}

			const changes: string[] = [];
			if (stats.size !== baseline.size) changes.push(`size ${baseline.size} -> ${stats.size}`);
			if (stats.mtimeMs !== baseline.mtimeMs) changes.push('modified');
			if (changes.length > 0) {
				sourceReported = true;
				raise('error', 'source-changed', `the source ${file} changed while the job runs (${changes.join(', ')})`);
			}
		});
	};

	const start = (event: Extract<CageEvent, {type: 'job:start'}>) => {
		running = true;
		paused = false;
		startBytes = event.bytesDone;
		bytes = event.bytesDone;
		activeSince = now();
		activeBefore = 0;
		lastProgress = activeSince;
		samples = [{at: activeSince, bytes}];
		timer ??= setInterval(tick, tickMs);
		timer.unref();
		if (options.sourcePath) {
			poll();
			poller ??= setInterval(poll, pollMs);
			poller.unref();
		}
	};

	const stop = () => {
		if (timer) clearInterval(timer);
		if (poller) clearInterval(poller);
		timer = undefined;
		poller = undefined;
	};

	const onEvent = (event: CageEvent) => {
		if (ended) return;
		switch (event.type) {
			case 'job:start': {
				start(event);
				break;
			}

			case 'chunk:start': {
				inflight.add(event.chunk);
				if (paused) pausedChunks.add(event.chunk);
				lastProgress = now();
				break;
			}

			case 'chunk:progress': {
				progress(event.bytesDone);
				break;
			}

			case 'chunk:done': {
				inflight.delete(event.chunk);
				progress(event.bytesDone);
				if (pausedChunks.delete(event.chunk) || event.size <= 0) break;
				const value = event.durationMs / event.size;
				// A chunk under minSlowMs is never slow: the median (a sort of up to 64) is not taken for it,
				// which a batch of small files did for every file.
				if (perByte.length >= minChunks && event.durationMs >= minSlowMs) {
					const typical = median(perByte);
					if (typical > 0 && value > slowChunkFactor * typical) {
						const expected = typical * event.size;
						raise(
							'warn',
							'slow-chunk',
							`chunk ${event.chunk} took ${formatDuration(event.durationMs)}, ${(value / typical).toFixed(1)}x the median (${formatDuration(expected)})`,
							event.chunk,
						);
					}
				}

				perByte.push(value);
				if (perByte.length > medianWindow) perByte.shift();
				break;
			}

			case 'chunk:failed':
			case 'chunk:skipped': {
				inflight.delete(event.chunk);
				pausedChunks.delete(event.chunk);
				break;
			}

			case 'item:start': {
				lastProgress = now();
				break;
			}

			case 'job:paused': {
				if (!paused) activeBefore = activeMs(now());
				paused = true;
				for (const id of inflight) pausedChunks.add(id);
				break;
			}

			case 'job:resumed': {
				paused = false;
				activeSince = now();
				lastProgress = activeSince;
				stalled = false;
				samples = [{at: activeSince, bytes}];
				collapsedSince = null;
				break;
			}

			case 'job:done': {
				ended = true;
				running = false;
				stop();
				break;
			}

			default: {
				break;
			}
		}
	};

	const detach = emitter.pipe(onEvent);
	return () => {
		detach();
		stop();
		ended = true;
	};
}
