/**
 * The one reducer: events -> dashboard state. Live runs and tailed audit logs go through it alike.
 *
 * It is a deterministic function of the events (no clock, no randomness: every time comes from an
 * event's `ts`), so replaying a log rebuilds exactly the state the live run had. It updates the
 * state in place rather than copying it: a job may have 65 536 chunks and thousands of events a
 * second, so each event costs O(1) (amortized) and bumps `version`, which is what a UI watches.
 */
import {skippedByUser, type AnomalyEvent, type CageEvent, type JobPhase} from '../chunker/events.js';
import {maxChunks} from '../chunker/plan.js';
import {describeEvent} from './describe.js';
import {durationBin, durationBinCount} from './durations.js';
import {addToTimeline, createTimeline, markTimeline, TimelineMark} from './timeline.js';
import {ChunkState, defaultLimits, type BatchFile, type ChunkStateCode, type DashboardLimits, type DashboardState, type JobView} from './state.js';

/** A fresh, empty dashboard state. */
export function createDashboardState(limits: Partial<DashboardLimits> = {}): DashboardState {
	return {order: [], jobs: new Map(), selected: null, version: 0, limits: {...defaultLimits, ...limits}, evicted: new Set()};
}

/** Apply a list of events to a fresh state (a replay). */
export function reduceEvents(events: Iterable<CageEvent>, limits: Partial<DashboardLimits> = {}): DashboardState {
	const state = createDashboardState(limits);
	for (const event of events) applyEvent(state, event);
	return state;
}

/** The job currently shown, if any. */
export function selectedJob(state: DashboardState): JobView | undefined {
	return state.selected === null ? undefined : state.jobs.get(state.selected);
}

/** Show the next (`delta` 1) or previous (-1) job; wraps around. */
export function selectJob(state: DashboardState, delta: number): void {
	if (state.order.length === 0) return;
	const index = state.selected === null ? 0 : state.order.indexOf(state.selected);
	const next = (((index + delta) % state.order.length) + state.order.length) % state.order.length;
	state.selected = state.order[next] ?? null;
	state.version++;
}

/** Progress in bytes: done, plus a batch's files skipped by the user (see `JobView.bytesSkipped`). */
export function settledBytes(job: JobView): number {
	return job.bytesDone + job.bytesSkipped;
}

/**
 * A file the user skipped: its size is settled, and its bytes so far are no longer done. The
 * throughput samples drop them too, so the rate neither dips nor spikes at the skip.
 */
function settleSkipped(job: JobView, size: number): void {
	const partial = Math.max(0, job.bytesDone - job.itemBase);
	job.bytesSkipped += size;
	job.bytesDone -= partial;
	for (let index = 1; index < job.window.length; index += 2) job.window[index]! -= partial;
	job.bucketBytes -= partial;
}

/** Bytes of the whole job at a chunk event: within a batch item, the finished items come first. */
function jobBytes(job: JobView, event: {bytesDone: number; item?: number}): number {
	return (event.item === undefined ? 0 : job.itemBase) + event.bytesDone;
}

function newJob(id: string, ts: number): JobView {
	return {
		id,
		kind: null,
		source: null,
		output: null,
		pid: null,
		state: 'running',
		resumed: false,
		startedAt: ts,
		lastTs: ts,
		pausedMs: 0,
		pausedSince: null,
		size: null,
		chunkSize: 0,
		chunkCount: 0,
		chunks: new Uint8Array(64),
		durations: new Uint32Array(64),
		attempts: new Uint8Array(64),
		durationBins: new Uint32Array(durationBinCount),
		rateLimit: null,
		phase: null,
		sideMs: 0,
		sideSince: null,
		timeline: createTimeline(ts),
		chunkCounts: [0, 0, 0, 0, 0],
		bytesDone: 0,
		startBytes: 0,
		itemBase: 0,
		bytesSkipped: 0,
		concurrency: 1,
		throughput: {current: 0, average: 0, peak: 0, history: []},
		etaMs: null,
		batch: null,
		anomalies: [],
		anomalyCounts: {info: 0, warn: 0, error: 0},
		audit: [],
		auditCount: 0,
		ending: null,
		lastCheckpoint: null,
		version: 0,
		window: [],
		bucketStart: ts,
		bucketBytes: 0,
	};
}

function isEnded(job: JobView): boolean {
	return job.ending !== null;
}

/** Every event of the job so far was an anomaly (chunk:progress aside, which no view lists). */
function onlyAnomalies(job: JobView): boolean {
	const {info, warn, error} = job.anomalyCounts;
	return job.auditCount > 0 && job.auditCount === info + warn + error;
}

/**
 * Start a new plan of `count` chunks (a job, or the next file of a batch). No plan has more than
 * `maxChunks`; a count past it (events not from the planner) is cut there rather than sizing the
 * grid by it, like the chunk ids past it that `setChunk` ignores.
 */
function resetChunks(job: JobView, count: number, done: number): void {
	count = Math.min(count, maxChunks);
	job.chunkCount = count;
	job.chunks = new Uint8Array(Math.max(64, count));
	job.durations = new Uint32Array(job.chunks.length);
	job.attempts = new Uint8Array(job.chunks.length);
	job.durationBins.fill(0);
	if (done > 0) job.chunks.fill(ChunkState.done, 0, Math.min(done, count));
	const doneCount = Math.min(done, count);
	job.chunkCounts = [count - doneCount, 0, doneCount, 0, 0];
}

/**
 * The chunks a job with no plan (a stream: `chunks` 0) will have when its size is known, as for a
 * file encrypted to stdout: the grid and the `chunks done/total` count show the file's chunks, not
 * just those started so far. One more than expected (the input grew) still grows the grid.
 */
function expectedChunks(size: number | null, chunkSize: number): number {
	return size === null || size <= 0 || chunkSize <= 0 ? 0 : Math.ceil(size / chunkSize);
}

function setChunk(job: JobView, id: number, code: ChunkStateCode): void {
	if (!Number.isInteger(id) || id < 0 || id >= maxChunks) return;
	if (id >= job.chunks.length) {
		// A stream (no plan) or a log that started mid-job: grow by doubling.
		let length = job.chunks.length;
		while (length <= id) length *= 2;
		const grown = new Uint8Array(length);
		grown.set(job.chunks);
		job.chunks = grown;
		const durations = new Uint32Array(length);
		durations.set(job.durations);
		job.durations = durations;
		const attempts = new Uint8Array(length);
		attempts.set(job.attempts);
		job.attempts = attempts;
	}

	if (id >= job.chunkCount) {
		job.chunkCounts[ChunkState.pending]! += id + 1 - job.chunkCount;
		job.chunkCount = id + 1;
	}

	const old = job.chunks[id]!;
	if (old === code) return;
	job.chunkCounts[old]!--;
	job.chunkCounts[code]!++;
	job.chunks[id] = code;
}

/** Feed one throughput sample (bytes done at ts). */
function sample(job: JobView, ts: number, bytes: number, windowMs: number, historyCap: number): void {
	const added = bytes - job.bytesDone;
	job.bytesDone = bytes;
	if (job.state !== 'running') return;
	addToTimeline(job.timeline, ts, added, job.sideSince === null ? 0 : TimelineMark.side);
	const {window, throughput} = job;
	window.push(ts, bytes);
	// Keep one sample at or before the window start so the window spans windowMs once warm.
	while (window.length > 4 && window[2]! <= ts - windowMs) window.splice(0, 2);
	const span = ts - window[0]!;
	if (span >= 250) throughput.current = Math.max(0, ((bytes - window[1]!) * 1000) / span);
	// The peak is a rate over at least a second: the window once it spans one, or a whole bucket.
	if (span >= 1000 && throughput.current > throughput.peak) throughput.peak = throughput.current;

	const elapsed = ts - job.bucketStart;
	if (elapsed >= 1000) {
		const seconds = Math.floor(elapsed / 1000);
		const rate = Math.max(0, ((bytes - job.bucketBytes) * 1000) / elapsed);
		for (let i = 0; i < Math.min(seconds, historyCap); i++) throughput.history.push(rate);
		if (throughput.history.length > historyCap) throughput.history.splice(0, throughput.history.length - historyCap);
		if (rate > throughput.peak) throughput.peak = rate;
		job.bucketStart += seconds * 1000;
		job.bucketBytes = bytes;
	}
}

function updateRates(job: JobView): void {
	const pausedNow = job.pausedSince === null ? 0 : job.lastTs - job.pausedSince;
	const sideNow = job.sideSince === null || job.pausedSince !== null ? 0 : job.lastTs - job.sideSince;
	const activeMs = job.lastTs - job.startedAt - job.pausedMs - pausedNow - job.sideMs - sideNow;
	const {throughput} = job;
	throughput.average = activeMs > 0 ? Math.max(0, ((job.bytesDone - job.startBytes) * 1000) / activeMs) : 0;
	if (job.state !== 'running' || job.sideSince !== null) throughput.current = 0;
	if (job.ending !== null || job.size === null || job.sideSince !== null) {
		job.etaMs = job.ending?.outcome === 'completed' ? 0 : null;
		return;
	}

	const rate = throughput.current > 0 ? throughput.current : throughput.average;
	job.etaMs = rate > 0 ? (Math.max(0, job.size - settledBytes(job)) * 1000) / rate : null;
}

function newBatch(total: number, bytes: number | null): NonNullable<JobView['batch']> {
	return {total, done: 0, skipped: 0, failed: 0, current: null, files: [], bytes, startedBytes: 0};
}

/**
 * Set the state of a file of the batch, listing it when first seen. The list keeps `cap` files:
 * past it the oldest finished one goes (the counts keep every file).
 */
function setFile(batch: NonNullable<JobView['batch']>, index: number, state: BatchFile['state'], cap: number, seen: {path: string; size: number}): void {
	// Files start in order: the one named is almost always the last listed.
	let file: BatchFile | undefined;
	for (let at = batch.files.length - 1; at >= 0 && at >= batch.files.length - 4; at--) if (batch.files[at]!.index === index) file = batch.files[at];
	file ??= batch.files.find(entry => entry.index === index);
	if (!file) {
		file = {index, path: seen.path, size: seen.size, state};
		batch.files.push(file);
		batch.startedBytes += seen.size;
		if (batch.files.length > cap) {
			const victim = batch.files.findIndex(entry => entry.state !== 'running');
			batch.files.splice(Math.max(0, victim), 1);
		}
	}

	file.state = state;
}

/** A chunk committed: its duration and attempts for the chunk map, its duration for the median. */
function recordDuration(job: JobView, id: number, ms: number, attempt: number): void {
	if (!Number.isInteger(id) || id < 0 || id >= job.durations.length) return;
	if (job.durations[id]! > 0) job.durationBins[durationBin(job.durations[id]!)]!--;
	job.durations[id] = Math.max(1, Math.min(0xff_ff_ff_ff, Math.round(ms)));
	job.attempts[id] = Math.min(255, Math.max(job.attempts[id]!, attempt));
	job.durationBins[durationBin(job.durations[id]!)]!++;
}

/**
 * Enter a phase (or report progress within one). Time outside the main phase is left out of the
 * average and the ETA; entering the main phase starts the rate window afresh, so a resume's check
 * (which reads without committing) is no throughput.
 */
function enterPhase(job: JobView, ts: number, name: JobPhase, done?: number, total?: number): void {
	const side = name !== 'processing';
	const wasSide = job.sideSince !== null;
	if (job.phase?.name !== name && job.pausedSince === null) {
		if (wasSide && !side) {
			job.sideMs += ts - job.sideSince!;
			job.sideSince = null;
			job.window = [ts, job.bytesDone];
			job.bucketStart = ts;
			job.bucketBytes = job.bytesDone;
		} else if (!wasSide && side) {
			job.sideSince = ts;
		}
	}

	job.phase = {name, ...(done === undefined ? {} : {done}), ...(total === undefined ? {} : {total})};
	if (side) addToTimeline(job.timeline, ts, 0, TimelineMark.side);
}

function addAnomaly(job: JobView, event: AnomalyEvent, cap: number): void {
	job.anomalies.unshift(event);
	if (job.anomalies.length > cap) job.anomalies.length = cap;
	job.anomalyCounts[event.severity]++;
}

function evictJobs(state: DashboardState): void {
	while (state.order.length > state.limits.jobs) {
		const victim = state.order.find(id => id !== state.selected && isEnded(state.jobs.get(id)!)) ?? state.order.find(id => id !== state.selected);
		if (victim === undefined) return;
		state.order.splice(state.order.indexOf(victim), 1);
		state.jobs.delete(victim);
		// Bounded: a watch of a log of millions of jobs forgets the oldest evictions.
		if (state.evicted.size >= maxEvicted) state.evicted.clear();
		state.evicted.add(victim);
	}
}

/** The most evicted job ids remembered (see `DashboardState.evicted`). */
const maxEvicted = 100_000;

/**
 * Apply one event to the state (in place) and return the state. Unknown jobs are created on first
 * sight, so a log tailed from the middle still shows something sensible.
 */
export function applyEvent(state: DashboardState, event: CageEvent): DashboardState {
	const {limits} = state;
	let job = state.jobs.get(event.job);
	// A job evicted for newer ones stays out until it starts again: taking it back for its next line
	// would evict another, and so on for every line when more jobs than the cap write at once.
	if (!job && state.evicted.has(event.job)) {
		if (event.type !== 'job:start') return state;
		state.evicted.delete(event.job);
	}

	if (!job || event.type === 'job:start') {
		const fresh = newJob(event.job, event.ts);
		if (!job) state.order.push(event.job);
		state.jobs.set(event.job, fresh);
		job = fresh;
		// Follow the newest job unless the one shown is still running. A job seen only through
		// anomalies is no job that runs (`cage watch` reports problems in a log under 'audit-tail'):
		// it does not take the view from one, so a replay still ends on the job it was about, and
		// gives it up to one, so a log that starts with a bad line still shows its jobs.
		const shown = selectedJob(state);
		if (!shown || (shown !== job && (isEnded(shown) || onlyAnomalies(shown)) && event.type !== 'anomaly')) state.selected = event.job;
		evictJobs(state);
	}

	if (event.ts > job.lastTs) job.lastTs = event.ts;
	switch (event.type) {
		case 'job:start': {
			job.kind = event.kind;
			job.source = event.source;
			job.output = event.output;
			job.pid = event.pid;
			job.resumed = event.resumed;
			job.size = event.size;
			job.chunkSize = event.chunkSize;
			job.concurrency = event.jobs;
			job.bytesDone = event.bytesDone;
			job.startBytes = event.bytesDone;
			job.itemBase = event.bytesDone;
			job.bucketBytes = event.bytesDone;
			job.window = [event.ts, event.bytesDone];
			job.rateLimit = event.rate ?? null;
			resetChunks(job, event.chunks > 0 || event.items !== undefined ? event.chunks : expectedChunks(event.size, event.chunkSize), event.chunksDone);
			if (event.items !== undefined) job.batch = newBatch(event.items, event.size);
			break;
		}

		case 'chunk:start': {
			setChunk(job, event.chunk, ChunkState.running);
			if (event.chunk < job.attempts.length) job.attempts[event.chunk] = Math.min(255, event.attempt);
			break;
		}

		case 'chunk:progress': {
			setChunk(job, event.chunk, ChunkState.running);
			sample(job, event.ts, jobBytes(job, event), limits.windowMs, limits.history);
			break;
		}

		case 'chunk:done': {
			setChunk(job, event.chunk, ChunkState.done);
			recordDuration(job, event.chunk, event.durationMs, event.attempt);
			// bytesDone here counts committed bytes only; never move the gauge backwards.
			sample(job, event.ts, Math.max(jobBytes(job, event), job.bytesDone), limits.windowMs, limits.history);
			break;
		}

		case 'chunk:failed': {
			setChunk(job, event.chunk, ChunkState.failed);
			if (event.chunk < job.attempts.length) job.attempts[event.chunk] = Math.min(255, Math.max(job.attempts[event.chunk]!, event.attempt));
			break;
		}

		case 'chunk:skipped': {
			setChunk(job, event.chunk, ChunkState.skipped);
			break;
		}

		case 'item:start': {
			job.batch ??= newBatch(event.items, null);
			job.batch.total = event.items;
			job.batch.current = {index: event.item, path: event.path, size: event.size};
			setFile(job.batch, event.item, 'running', limits.batchFiles, {path: event.path, size: event.size});
			job.source = event.path;
			job.output = event.output;
			job.chunkSize = event.chunkSize;
			resetChunks(job, event.chunks, event.chunksDone ?? 0);
			// A file resumed from its own checkpoint: what it had done is not this run's work.
			job.startBytes += event.bytesDone ?? 0;
			job.bytesDone = Math.max(job.bytesDone, job.itemBase + (event.bytesDone ?? 0));
			break;
		}

		case 'item:done': {
			job.batch ??= newBatch(0, null);
			job.batch.done++;
			setFile(job.batch, event.item, 'done', limits.batchFiles, {path: event.path, size: event.bytes});
			job.itemBase += event.bytes;
			job.bytesDone = Math.max(job.bytesDone, job.itemBase);
			if (job.batch.current?.index === event.item) job.batch.current = null;
			break;
		}

		case 'item:skipped': {
			job.batch ??= newBatch(0, null);
			job.batch.skipped++;
			const failed = event.reason.startsWith('failed');
			if (failed) job.batch.failed++;
			setFile(job.batch, event.item, failed ? 'failed' : event.reason === 'interrupted' ? 'interrupted' : 'skipped', limits.batchFiles, {path: event.path, size: 0});
			if (job.batch.current?.index !== event.item) break;
			if (event.reason === skippedByUser) settleSkipped(job, job.batch.current.size);
			job.batch.current = null;
			break;
		}

		case 'anomaly': {
			addAnomaly(job, event, limits.anomalies);
			if (event.code === 'stall') addToTimeline(job.timeline, event.ts, 0, TimelineMark.stall);
			break;
		}

		case 'job:paused': {
			// In a batch the runner counts within the current item; the job's own count stands.
			if (!job.batch) job.bytesDone = event.bytesDone;
			if (job.state === 'running') {
				job.state = 'paused';
				job.pausedSince = event.ts;
				// Time outside the main phase stops counting while paused (the pause counts instead).
				if (job.sideSince !== null) job.sideMs += event.ts - job.sideSince;
				job.sideSince = null;
				addToTimeline(job.timeline, event.ts, 0, TimelineMark.paused);
			}

			break;
		}

		case 'job:resumed': {
			if (!job.batch) job.bytesDone = event.bytesDone;
			if (job.pausedSince !== null) {
				job.pausedMs += event.ts - job.pausedSince;
				markTimeline(job.timeline, job.pausedSince, event.ts, TimelineMark.paused);
			}

			job.pausedSince = null;
			job.state = 'running';
			if (job.phase !== null && job.phase.name !== 'processing') job.sideSince = event.ts;
			// Start the window and the one-second buckets afresh: the pause was no throughput.
			job.window = [event.ts, job.bytesDone];
			const seconds = Math.floor((event.ts - job.bucketStart) / 1000);
			for (let i = 0; i < Math.min(seconds, limits.history); i++) job.throughput.history.push(0);
			if (job.throughput.history.length > limits.history) job.throughput.history.splice(0, job.throughput.history.length - limits.history);
			job.bucketStart = event.ts;
			job.bucketBytes = job.bytesDone;
			break;
		}

		case 'job:checkpoint': {
			job.lastCheckpoint = event.path;
			break;
		}

		case 'job:phase': {
			enterPhase(job, event.ts, event.phase, event.done, event.total);
			break;
		}

		case 'job:done': {
			if (job.pausedSince !== null) job.pausedMs += event.ts - job.pausedSince;
			job.pausedSince = null;
			if (job.sideSince !== null) job.sideMs += event.ts - job.sideSince;
			job.sideSince = null;
			job.phase = null;
			job.bytesDone = event.bytesDone;
			job.state = event.outcome === 'completed' ? 'done' : event.outcome;
			job.ending = {
				outcome: event.outcome,
				durationMs: event.durationMs,
				...(event.error === undefined ? {} : {error: event.error}),
				...(event.checkpoint === undefined ? {} : {checkpoint: event.checkpoint}),
				...(event.resumeCommand === undefined ? {} : {resumeCommand: event.resumeCommand}),
			};
			if (job.batch && event.itemsDone !== undefined) job.batch.done = event.itemsDone;
			if (job.batch && event.itemsSkipped !== undefined) job.batch.skipped = event.itemsSkipped;
			if (job.batch) job.batch.current = null;
			// Chunks still marked running were abandoned: they are pending again.
			if (job.chunkCounts[ChunkState.running]! > 0) {
				for (let id = 0; id < job.chunkCount; id++) if (job.chunks[id] === ChunkState.running) setChunk(job, id, ChunkState.pending);
			}

			break;
		}
	}

	if (event.type !== 'chunk:progress') {
		job.audit.push({seq: event.seq, ts: event.ts, type: event.type, text: describeEvent(event)});
		job.auditCount++;
		if (job.audit.length > limits.auditLines) job.audit.shift();
	}

	updateRates(job);
	job.version++;
	state.version++;
	return state;
}
