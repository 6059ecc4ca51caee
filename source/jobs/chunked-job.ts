/**
 * Runs one processor over one file with checkpoints: the part every resumable job shares
 * (hash, encrypt, decrypt). Kind-specific code builds the processor and says how to finish.
 */
import type {CheckpointStore} from '../chunker/checkpoint.js';
import {fingerprint, fingerprintChanges, writerStamp, type Checkpoint} from '../chunker/checkpoint.js';
import type {SharedControl} from '../chunker/control.js';
import type {JobEmitter} from '../chunker/emitter.js';
import type {JobKind, JobOutcome} from '../chunker/events.js';
import {chunkCount} from '../chunker/plan.js';
import type {ChunkProcessor} from '../chunker/processor.js';
import {ChunkRunner} from '../chunker/runner.js';
import type {ControlProxy} from './control-proxy.js';

/** The fixed part of a checkpoint, known before the first chunk. */
export type CheckpointBase = Omit<Checkpoint, 'chunksDone' | 'bytesDone' | 'macs' | 'info' | 'skipped' | 'updatedAt'>;

export type ChunkedJobSpec = {
	kind: JobKind;
	emitter: JobEmitter;
	control: ControlProxy;
	sharedControl?: SharedControl;
	processor: ChunkProcessor;
	source: string;
	output: string | null;
	size: number;
	chunkSize: number;
	jobs: number;
	retries: number;
	/** Where the checkpoint goes; null for jobs too small to need one. */
	checkpoint: CheckpointStore | null;
	base: CheckpointBase;
	/** Continue this checkpoint (already verified by the caller). */
	resumeFrom?: Checkpoint;
	/** Make committed output durable before a checkpoint claims it (fsync); what it returns is recorded too. */
	beforeCheckpoint?: () => Promise<Pick<Checkpoint, 'partialCtimeMs' | 'partialIno' | 'partialDev'> | void>;
	/**
	 * Called once the runner stopped short of the end, before the last checkpoint, with the chunks
	 * committed: the place to drop what uncommitted chunks wrote (a full disk then has room for it).
	 */
	beforeStop?: (committed: number) => Promise<void>;
	/** Batch item index, stamped on chunk events. */
	item?: number;
	/**
	 * Minimum milliseconds between checkpoint writes while running (default 200): a chunk committed
	 * sooner after the last write is recorded by a write at the end of the interval, so the
	 * checkpoint is never more than that behind the committed chunks.
	 */
	checkpointIntervalMs?: number;
	/** The command that resumes this job, printed on interruption. */
	resumeCommand: string;
	/** Kind-specific params as of `chunksDone` committed chunks, merged over the base's in each checkpoint (a sweep's scan state). */
	checkpointParams?: (chunksDone: number) => Record<string, unknown>;
};

export type ChunkedJobResult = {
	outcome: JobOutcome;
	bytesDone: number;
	committed: number;
	error?: Error;
	/** The checkpoint kept on disk, when the job can be resumed. */
	checkpoint?: string;
	/** Set when the source changed under the job. */
	sourceChanged?: string;
};

/** Run the job to its end (completed, interrupted or failed); never throws for chunk errors. */
export async function runChunkedJob(spec: ChunkedJobSpec): Promise<ChunkedJobResult> {
	const {emitter, checkpoint, resumeFrom} = spec;
	const macs = resumeFrom ? [...resumeFrom.macs] : [];
	const info = resumeFrom?.info ? [...resumeFrom.info] : [];
	// Kept when the processor gives them (the age engine), for every chunk or none.
	const digests = resumeFrom?.digests ? [...resumeFrom.digests] : [];
	const keepDigests = !resumeFrom || resumeFrom.digests !== undefined;
	const skipped = resumeFrom ? [...resumeFrom.skipped] : [];
	let chunksDone = resumeFrom?.chunksDone ?? 0;
	let bytesDone = resumeFrom?.bytesDone ?? 0;
	let lastWrite = 0;
	let writing: Promise<void> = Promise.resolve();
	let checkpointFailed = false;
	// Whether a whole checkpoint is on disk: when a later write fails (a full disk), that one still
	// describes a valid prefix of the output, so the job stays resumable from it.
	let checkpointOnDisk = Boolean(resumeFrom);

	// A resumed job's base is the old checkpoint: its stop mark and output stamp are not this run's.
	const {stopped: _stopped, partialCtimeMs: _stamp, ...base} = spec.base as Checkpoint;
	const snapshot = (): Checkpoint => ({
		...base,
		...writerStamp(),
		updatedAt: new Date().toISOString(),
		chunksDone,
		bytesDone,
		skipped: [...skipped],
		macs: [...macs],
		...(info.length > 0 || spec.kind === 'hash' ? {info: [...info]} : {}),
		...(keepDigests && (spec.kind === 'encrypt' || spec.kind === 'decrypt') && digests.length === macs.length ? {digests: [...digests]} : {}),
		...(spec.checkpointParams ? {params: {...base.params, ...spec.checkpointParams(chunksDone)}} : {}),
	});

	const saveCheckpoint = async (stopped = false): Promise<void> => {
		if (!checkpoint) return;
		const state = snapshot();
		writing = writing.then(async () => {
			try {
				const stamp = await spec.beforeCheckpoint?.();
				// A stopped job has no writer any more (this process may live on, as a library user).
				const {pid: _pid, pidStart: _pidStart, ...idle} = state;
				await checkpoint.write(stopped ? {...idle, ...stamp, stopped} : {...state, ...stamp});
				lastWrite = Date.now();
				checkpointFailed = false;
				checkpointOnDisk = true;
				emitter.send({type: 'job:checkpoint', path: checkpoint.path, chunksDone: state.chunksDone, bytesDone: state.bytesDone});
			} catch (error) {
				if (!checkpointFailed) {
					emitter.send({
						type: 'anomaly',
						severity: 'error',
						code: 'checkpoint-write-failed',
						message: `cannot write checkpoint ${checkpoint.path}: ${(error as Error).message}`,
					});
				}

				checkpointFailed = true;
			}
		});
		await writing;
	};

	// The source is checked once a second, as the checkpoint is written: once it changed, the rest
	// of the work is wasted (the job fails at its end), so the job stops at once instead.
	const sourceChange = new AbortController();
	const sourceMoved = async (): Promise<boolean> => {
		const now = await fingerprint(spec.source).catch(() => undefined);
		return !now || fingerprintChanges(spec.base.source, now).length > 0;
	};

	const interval = spec.checkpointIntervalMs ?? 200;
	let trailing: NodeJS.Timeout | undefined;
	// Set once the runner is done: the job's last checkpoints are written by the code after it.
	let ran = false;
	const checkpointNow = async (): Promise<void> => {
		clearTimeout(trailing);
		trailing = undefined;
		if (await sourceMoved()) sourceChange.abort();
		else if (!ran) await saveCheckpoint();
	};

	// Every committed chunk is in a checkpoint at most `interval` ms later: at once when the last
	// write is older, else by a write at the end of the interval.
	const checkpointSoon = async (): Promise<void> => {
		const wait = interval - (Date.now() - lastWrite);
		if (wait <= 0) {
			await checkpointNow();
			return;
		}

		trailing ??= setTimeout(() => void checkpointNow(), wait);
	};

	if (checkpoint) await checkpoint.removeStaleTemporaries();
	const runner = new ChunkRunner({
		processor: spec.processor,
		signal: sourceChange.signal,
		emitter,
		size: spec.size,
		chunkSize: spec.chunkSize,
		startChunk: chunksDone,
		startBytes: bytesDone,
		jobs: spec.jobs,
		retries: spec.retries,
		...(spec.sharedControl ? {control: spec.sharedControl} : {}),
		...(spec.item === undefined ? {} : {item: spec.item}),
		async onCommit(commit) {
			macs.push(commit.result?.mac ?? '');
			if (spec.kind === 'hash') info.push(commit.result?.info ?? '');
			if (commit.result?.digest !== undefined) digests.push(commit.result.digest);
			if (!commit.result) skipped.push(commit.chunk.id);
			chunksDone = commit.committed;
			bytesDone = commit.bytesDone;
			// The last chunk's checkpoint is written once the run is over (below).
			if (chunksDone < chunkCount(spec.size, spec.chunkSize)) await checkpointSoon();
		},
	});
	spec.control.attach(runner);
	const onPause = () => void saveCheckpoint();
	emitter.on('job:paused', onPause);

	// Write the first checkpoint before any output exists beyond the header, so even a kill -9 in
	// the first second leaves something to resume from. A resumed job writes one too, so the one it
	// continues (maybe marked stopped) does not outlive the first new writes to the output.
	await saveCheckpoint();
	const result = await runner.run();
	ran = true;
	clearTimeout(trailing);
	trailing = undefined;
	emitter.off('job:paused', onPause);
	spec.control.detach(runner);

	let sourceChanged: string | undefined;
	const now = await fingerprint(spec.source).catch(() => undefined);
	const changes = now ? fingerprintChanges(spec.base.source, now) : ['the source file disappeared'];
	if (changes.length > 0) {
		sourceChanged = `${spec.source} changed while the job ran (${changes.join('; ')})`;
		emitter.send({type: 'anomaly', severity: 'error', code: 'source-changed', message: sourceChanged});
	}

	if (result.outcome === 'completed' && !sourceChanged) {
		// Every chunk recorded before the output takes its final name: a crash between that rename
		// and the checkpoint's removal leaves a checkpoint that proves the output whole.
		await saveCheckpoint();
		await writing;
		return {outcome: 'completed', bytesDone: result.bytesDone, committed: result.committed};
	}

	const error = sourceChanged && (result.outcome === 'completed' || sourceChange.signal.aborted) ? new Error(`${sourceChanged}; run the command again once nothing writes to it`) : result.error;
	const outcome: JobOutcome = sourceChanged ? 'failed' : result.outcome;
	// The runner has stopped every chunk: nothing of this job writes to the output after this one.
	if (!sourceChanged) {
		await spec.beforeStop?.(result.committed).catch(() => undefined);
		await saveCheckpoint(true);
	}
	await writing;
	return {
		outcome,
		bytesDone: result.bytesDone,
		committed: result.committed,
		...(error ? {error} : {}),
		...(checkpoint && !sourceChanged && checkpointOnDisk ? {checkpoint: checkpoint.path} : {}),
		...(sourceChanged ? {sourceChanged} : {}),
	};
}

/** How many done chunks a sampling resume re-reads (the fingerprint already caught most changes). */
const resumeSampleSize = 4;

/**
 * Chunk ids whose MACs a resume re-computes: all of them, or the first and the last done plus
 * ones spread between (edits that keep size and mtime are rare; the last chunk is the one a crash
 * is most likely to have left damaged).
 */
export function chunksToVerify(chunksDone: number, skipped: number[], mode: 'sample' | 'full'): number[] {
	const candidates: number[] = [];
	const skippedSet = new Set(skipped);
	for (let id = 0; id < chunksDone; id++) if (!skippedSet.has(id)) candidates.push(id);
	if (mode === 'full' || candidates.length <= resumeSampleSize) return candidates;
	const picked = new Set<number>([candidates.at(-1)!, candidates[0]!]);
	for (let i = 1; picked.size < resumeSampleSize; i++) picked.add(candidates[Math.floor((i * candidates.length) / resumeSampleSize)]!);
	return [...picked].sort((a, b) => a - b);
}

/** Thrown when a resume finds the source is not what the checkpoint recorded. */
export class SourceChangedError extends Error {
	override name = 'SourceChangedError';
}
