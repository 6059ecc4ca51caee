/**
 * The sweep job: `cage sweep` and its `cage resume`. A SweepProcessor on the chunk runner, with
 * the checkpoint holding the committed prefix's scan state and statistics.
 */
import path from 'node:path';
import {changeTimeMoved, CheckpointStore, fingerprint, fingerprintChanges, type Checkpoint} from '../chunker/checkpoint.js';
import type {JobEmitter} from '../chunker/emitter.js';
import {SharedControl} from '../chunker/control.js';
import {chunkCount} from '../chunker/plan.js';
import {FileInput} from '../io/files.js';
import {runChunkedJob, SourceChangedError, type ChunkedJobResult} from '../jobs/chunked-job.js';
import type {ControlProxy} from '../jobs/control-proxy.js';
import {resumeLine, shellQuote, type ResumeArgs} from '../shell-quote.js';
import {SweepProcessor, type SweepOutcome, type SweepState} from './processor.js';
import type {SweepFormat} from './scanner.js';
import {SweepWorkers} from './workers.js';

export type SweepJobOptions = {
	file: string;
	format: SweepFormat;
	maxDepth: number;
	chunkSize: number;
	jobs: number;
	/** Checkpoint path; null for none (small files). */
	checkpoint: string | null;
	emitter: JobEmitter;
	control: ControlProxy;
	rate?: number;
	resumeArgs?: ResumeArgs;
	retries?: number;
	resumeFrom?: Checkpoint;
};

export type SweepJobResult = ChunkedJobResult & {file: string; size: number; sweep: SweepOutcome};

/** The default checkpoint of a sweep: next to the file. */
export function sweepCheckpointPath(file: string): string {
	return path.resolve(`${file}.sweep.checkpoint.json`);
}

/** The sweep state a checkpoint holds, checked enough to resume from. */
export function checkpointSweepState(checkpoint: Checkpoint, file: string): SweepState {
	const state = checkpoint.params.state as SweepState | undefined;
	if (!state || (state.format !== 'json' && state.format !== 'jsonl') || state.chunks !== checkpoint.chunksDone) {
		throw new SourceChangedError(`checkpoint ${file} holds no usable sweep state; start again with 'cage sweep ${shellQuote(checkpoint.source.path)} --force'`);
	}

	return state;
}

/** Sweep a file in chunks; emits job:start … job:done. */
export async function runSweepJob(options: SweepJobOptions): Promise<SweepJobResult> {
	const {emitter, resumeFrom} = options;
	const file = path.resolve(resumeFrom?.source.path ?? options.file);
	const startedAt = Date.now();
	const store = options.checkpoint ? new CheckpointStore(options.checkpoint) : null;
	let resumeState: SweepState | undefined;
	if (resumeFrom) {
		resumeState = checkpointSweepState(resumeFrom, store?.path ?? file);
		// The scan state stands for the bytes it read: any change to them voids it. A sweep keeps no
		// per-chunk MAC, so a moved change time (an edit with the time put back) is refused as well.
		const now = await fingerprint(file);
		const changes = fingerprintChanges(resumeFrom.source, now);
		if (changeTimeMoved(resumeFrom.source, now)) changes.push('its change time moved (written to, or its metadata changed)');
		if (changes.length > 0) {
			throw new SourceChangedError(`cannot resume ${store?.path ?? 'the sweep'}: ${file} changed since the checkpoint (${changes.join('; ')}); start again with 'cage sweep ${shellQuote(file)} --force'`);
		}
	}

	const input = await FileInput.open(file);
	const control = new SharedControl();
	control.setRate(options.rate ?? 0);
	// A file that grows while swept: what was there at the start is swept (the job then reports the change).
	const size = resumeFrom?.size ?? input.size;
	const chunkSize = resumeFrom?.chunkSize ?? options.chunkSize;
	const format = (resumeFrom?.params.format as SweepFormat | undefined) ?? options.format;
	const maxDepth = (resumeFrom?.params.maxDepth as number | undefined) ?? options.maxDepth;
	const jobs = options.jobs;
	const chunks = chunkCount(size, chunkSize);
	// Threads pay off with chunks to share between them; one chunk or one job stays on this thread,
	// which is one of the jobs when there are several (the processor scans chunks here too).
	const parallel = jobs > 1 && chunks - (resumeFrom?.chunksDone ?? 0) > 1;
	const workers = parallel ? new SweepWorkers(Math.min(jobs, chunks) - 1) : undefined;
	const processor = new SweepProcessor(input, size, {format, maxDepth, ...(format === 'json' && parallel ? {parallelDocument: true} : {})}, emitter, resumeState, workers);
	const resumeCommand = store ? resumeLine(store.path, options.resumeArgs ?? {rate: options.rate}) : '';
	try {
		emitter.send({
			type: 'job:start',
			kind: 'sweep',
			source: file,
			output: null,
			size,
			chunkSize,
			chunks: chunkCount(size, chunkSize),
			chunksDone: resumeFrom?.chunksDone ?? 0,
			bytesDone: resumeFrom?.bytesDone ?? 0,
			jobs,
			pid: process.pid,
			resumed: Boolean(resumeFrom),
		});
		const base = resumeFrom ?? {
			version: 1 as const,
			tool: 'cage' as const,
			kind: 'sweep' as const,
			job: emitter.job,
			createdAt: new Date().toISOString(),
			source: await fingerprint(file),
			output: null,
			partial: null,
			size,
			chunkSize,
			totalChunks: chunkCount(size, chunkSize),
			params: {format, maxDepth},
		};
		const result = await runChunkedJob({
			kind: 'sweep',
			emitter,
			control: options.control,
			sharedControl: control,
			processor,
			source: file,
			output: null,
			size,
			chunkSize,
			jobs,
			retries: options.retries ?? 0,
			checkpoint: store,
			base,
			...(resumeFrom ? {resumeFrom} : {}),
			resumeCommand,
			checkpointParams: chunksDone => processor.checkpointParams(chunksDone),
		});
		if (result.outcome === 'completed') await store?.remove();
		emitter.send({
			type: 'job:done',
			outcome: result.outcome,
			bytesDone: result.bytesDone,
			durationMs: Date.now() - startedAt,
			...(result.error ? {error: result.error.message} : {}),
			...(result.checkpoint ? {checkpoint: result.checkpoint, resumeCommand} : {}),
		});
		return {...result, file, size, sweep: processor.outcome()};
	} catch (error) {
		emitter.send({type: 'job:done', outcome: 'failed', bytesDone: resumeFrom?.bytesDone ?? 0, durationMs: Date.now() - startedAt, error: (error as Error).message});
		throw error;
	} finally {
		await workers?.close();
		await input.close();
	}
}
