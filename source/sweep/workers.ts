/**
 * The worker threads of a sweep: one task is one chunk of JSON Lines or one unit of a JSON
 * document (sweep-worker.ts). Started only when a job has several chunks and several jobs, one
 * fewer than the jobs (the main thread scans chunks too, see SweepProcessor); stopped when the job
 * ends.
 */
import fs from 'node:fs';
import {fileURLToPath} from 'node:url';
import {Worker} from 'node:worker_threads';
import {AbortedError, type SharedControlHandle} from '../chunker/control.js';
import type {Chunk} from '../chunker/plan.js';
import type {LineCounts} from './json-lines.js';
import type {SweepError} from './scan-errors.js';
import {SweepStatistics, type StatisticsState} from './statistics.js';
import type {SweepOptions} from './processor.js';
import type {DocumentTask, DocumentUnit} from './document.js';

/** One chunk to sweep: JSON Lines, or one unit of a JSON document (document.ts). */
export type SweepTask =
	| {type: 'sweep'; id: number; path: string; chunk: Chunk; size: number; options: SweepOptions; control: SharedControlHandle}
	| ({type: 'document'; id: number; path: string; control: SharedControlHandle} & DocumentTask);

/** What a worker posts back. */
export type SweepWorkerReply =
	| {type: 'progress'; id: number; bytes: number}
	| {type: 'done'; id: number; counts: LineCounts; lineErrors: SweepError[]; error: SweepError | null; stats: StatisticsState}
	| {type: 'unit'; id: number; unit: DocumentUnit}
	| {type: 'error'; id: number; message: string; name: string; code?: string | undefined};

export type SweptPart = {counts: LineCounts; lineErrors: SweepError[]; error: SweepError | null; stats: SweepStatistics};

/** The worker script: beside this module in the binary's bundle, else the build's. */
function workerUrl(): URL {
	const local = new URL('sweep-worker.js', import.meta.url);
	if (fs.existsSync(fileURLToPath(local))) return local;
	return new URL('../../dist/sweep/sweep-worker.js', import.meta.url);
}

type Pending = {resolve: (part: SweptPart | DocumentUnit) => void; reject: (error: Error) => void; progress: (bytes: number) => void};

/** A fixed set of sweep workers. */
export class SweepWorkers {
	readonly #idle: Worker[] = [];
	readonly #all: Worker[] = [];
	readonly #queue: Array<{task: SweepTask; pending: Pending}> = [];
	readonly #pending = new Map<number, Pending>();
	#next = 0;

	constructor(count: number) {
		for (let i = 0; i < count; i++) {
			const worker = new Worker(workerUrl());
			worker.on('message', (reply: SweepWorkerReply) => this.#reply(worker, reply));
			worker.on('error', error => {
				for (const pending of this.#pending.values()) pending.reject(error);
				this.#pending.clear();
			});
			worker.unref();
			this.#all.push(worker);
			this.#idle.push(worker);
		}
	}

	/** Sweep one chunk of JSON Lines on a free worker. */
	async run(task: Omit<Extract<SweepTask, {type: 'sweep'}>, 'type' | 'id'>, progress: (bytes: number) => void): Promise<SweptPart> {
		return this.#run({type: 'sweep', id: this.#next++, ...task}, progress) as Promise<SweptPart>;
	}

	/** Scan one unit of a JSON document on a free worker. */
	async runDocument(task: Omit<Extract<SweepTask, {type: 'document'}>, 'type' | 'id'>, progress: (bytes: number) => void): Promise<DocumentUnit> {
		return this.#run({type: 'document', id: this.#next++, ...task}, progress) as Promise<DocumentUnit>;
	}

	async #run(full: SweepTask, progress: (bytes: number) => void): Promise<SweptPart | DocumentUnit> {
		return new Promise((resolve, reject) => {
			this.#queue.push({task: full, pending: {resolve, reject, progress}});
			this.#dispatch();
		});
	}

	async close(): Promise<void> {
		await Promise.all(this.#all.map(async worker => worker.terminate()));
	}

	#dispatch(): void {
		while (this.#idle.length > 0 && this.#queue.length > 0) {
			const worker = this.#idle.pop()!;
			const {task, pending} = this.#queue.shift()!;
			this.#pending.set(task.id, pending);
			worker.ref();
			worker.postMessage(task);
		}
	}

	#reply(worker: Worker, reply: SweepWorkerReply): void {
		const pending = this.#pending.get(reply.id);
		if (!pending) return;
		if (reply.type === 'progress') {
			pending.progress(reply.bytes);
			return;
		}

		this.#pending.delete(reply.id);
		worker.unref();
		this.#idle.push(worker);
		if (reply.type === 'unit') pending.resolve(reply.unit);
		else if (reply.type === 'done') {
			pending.resolve({counts: reply.counts, lineErrors: reply.lineErrors, error: reply.error, stats: SweepStatistics.fromState(reply.stats)});
		} else {
			const error = reply.name === 'AbortedError' ? new AbortedError(reply.message) : Object.assign(new Error(reply.message), reply.code ? {code: reply.code} : {});
			pending.reject(error);
		}

		this.#dispatch();
	}
}
