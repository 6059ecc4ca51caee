/**
 * The hash job: `cage chunk hash` and its `cage resume`. Per-chunk digests plus the whole-file
 * digest, resumable through the same checkpoint machinery as encryption.
 */
import path from 'node:path';
import {checkpointVersion, CheckpointStore, fingerprint, type Checkpoint} from '../chunker/checkpoint.js';
import type {JobEmitter} from '../chunker/emitter.js';
import {chunkAt, chunkCount} from '../chunker/plan.js';
import {SharedControl} from '../chunker/control.js';
import {HashProcessor, type HashAlgorithm} from '../hash/hasher.js';
import {FileInput} from '../io/files.js';
import {runChunkedJob, SourceChangedError, type ChunkedJobResult} from './chunked-job.js';
import type {ControlProxy} from './control-proxy.js';
import {resumeLine, shellQuote, type ResumeArgs} from '../shell-quote.js';

export type HashJobOptions = {
	file: string;
	algorithm: HashAlgorithm;
	chunkSize: number;
	/** Checkpoint path; null for no checkpoint (small files). */
	checkpoint: string | null;
	emitter: JobEmitter;
	control: ControlProxy;
	/** Bytes per second, 0 for unlimited. */
	rate?: number;
	/** The flags the printed resume line repeats (default: the rate). */
	resumeArgs?: ResumeArgs;
	retries?: number;
	/** Continue this checkpoint. */
	resumeFrom?: Checkpoint;
};

export type HashJobResult = ChunkedJobResult & {
	algorithm: HashAlgorithm;
	/** Per-chunk digests ('' for none), and the whole-file digest when completed. */
	digests: string[];
	digest?: string;
	size: number;
	chunkSize: number;
};

/** The default checkpoint of a hash job: next to the file, named after the algorithm. */
export function hashCheckpointPath(file: string, algorithm: HashAlgorithm): string {
	return path.resolve(`${file}.${algorithm}.checkpoint.json`);
}

/** Hash a file in chunks; emits job:start … job:done on the emitter. */
export async function runHashJob(options: HashJobOptions): Promise<HashJobResult> {
	const {emitter, resumeFrom} = options;
	const file = path.resolve(resumeFrom?.source.path ?? options.file);
	const startedAt = Date.now();
	const input = await FileInput.open(file);
	const control = new SharedControl();
	control.setRate(options.rate ?? 0);
	const size = resumeFrom?.size ?? input.size;
	const chunkSize = resumeFrom?.chunkSize ?? options.chunkSize;
	const algorithm = (resumeFrom?.params.algorithm as HashAlgorithm | undefined) ?? options.algorithm;
	const processor = new HashProcessor(input, algorithm);
	const store = options.checkpoint ? new CheckpointStore(options.checkpoint) : null;
	const resumeCommand = store ? resumeLine(store.path, options.resumeArgs ?? {rate: options.rate}) : '';
	try {
		emitter.send({
			type: 'job:start',
			kind: 'hash',
			source: file,
			output: null,
			size,
			chunkSize,
			chunks: chunkCount(size, chunkSize),
			chunksDone: resumeFrom?.chunksDone ?? 0,
			bytesDone: resumeFrom?.bytesDone ?? 0,
			jobs: 1,
			pid: process.pid,
			resumed: Boolean(resumeFrom),
		});

		if (resumeFrom) {
			// The whole-file digest needs the committed prefix again; re-reading it re-checks every
			// recorded chunk digest, so a changed source is always caught.
			const done = Array.from({length: resumeFrom.chunksDone}, (_, id) => chunkAt(size, chunkSize, id));
			const ctx = {attempt: 1, control, signal: new AbortController().signal, gate: async (bytes: number) => control.gate(bytes), progress() {}};
			const changed = await processor.replay(done, resumeFrom.info ?? [], ctx);
			if (changed >= 0) {
				const chunk = chunkAt(size, chunkSize, changed);
				throw new SourceChangedError(
					`cannot resume ${store?.path ?? 'the job'}: chunk ${changed} (bytes ${chunk.start}..${chunk.end}) of ${file} changed since the checkpoint; start again with 'cage chunk hash ${shellQuote(file)} --force'`,
				);
			}
		}

		const base = resumeFrom ?? {
			version: checkpointVersion,
			tool: 'cage' as const,
			kind: 'hash' as const,
			job: emitter.job,
			createdAt: new Date().toISOString(),
			source: await fingerprint(file),
			output: null,
			partial: null,
			size,
			chunkSize,
			totalChunks: chunkCount(size, chunkSize),
			params: {algorithm},
		};
		const result = await runChunkedJob({
			kind: 'hash',
			emitter,
			control: options.control,
			sharedControl: control,
			processor,
			source: file,
			output: null,
			size,
			chunkSize,
			jobs: 1,
			retries: options.retries ?? 0,
			checkpoint: store,
			base,
			...(resumeFrom ? {resumeFrom} : {}),
			resumeCommand,
		});
		const digests = processor.digests;
		let digest: string | undefined;
		if (result.outcome === 'completed') {
			digest = processor.digest();
			await store?.remove();
		}

		emitter.send({
			type: 'job:done',
			outcome: result.outcome,
			bytesDone: result.bytesDone,
			durationMs: Date.now() - startedAt,
			...(result.error ? {error: result.error.message} : {}),
			...(result.checkpoint ? {checkpoint: result.checkpoint, resumeCommand} : {}),
		});
		return {...result, algorithm, digests, ...(digest ? {digest} : {}), size, chunkSize};
	} catch (error) {
		emitter.send({type: 'job:done', outcome: 'failed', bytesDone: resumeFrom?.bytesDone ?? 0, durationMs: Date.now() - startedAt, error: (error as Error).message});
		throw error;
	} finally {
		await input.close();
	}
}
