/**
 * A fixed pool of worker threads for the age engine's chunk work. Each task is one chunk (or the
 * MAC of one chunk on resume); the pool queues tasks beyond its size and relays progress.
 */
import fs from 'node:fs';
import type {Worker} from 'node:worker_threads';
import {AbortedError, type SharedControl, type SharedControlHandle} from '../chunker/control.js';
import {ChunkWork} from './chunk-work.js';
import {inlineLimit, newWorker, releaseWarmWorkers, takeWarmWorker} from './warm-workers.js';
import {RingReturns, type RingHandle, type RingWrite} from './span-ring.js';
import {loadXxh3} from './xxh3.js';

/**
 * One unit of worker work. Offsets are file positions; `plain*` are plaintext stream offsets.
 * `verify-*` redoes a committed chunk without writing: it reads back what `output` holds at the
 * chunk's place and says whether it is what the work gives now (resume verification).
 * `digest-*` only reads back what `output` holds there and returns its digest (chunk-digest.ts).
 */
export type WorkerTask = {
	id: number;
	op: 'encrypt' | 'decrypt' | 'verify-encrypt' | 'verify-decrypt' | 'digest-encrypt' | 'digest-decrypt';
	input: string;
	/** Output file (read, not written, by `verify-*`). */
	output: string;
	/** The 32-byte payload key. */
	key: Uint8Array;
	plainStart: number;
	plainEnd: number;
	plainTotal: number;
	/** Where the payload (encrypt: plaintext) starts in the input file. */
	inOffset: number;
	/** Where the payload (decrypt: plaintext) starts in the output file. */
	outOffset: number;
};

/**
 * What a worker is sent before its first task (with the memory of its span ring, span-ring.ts, the
 * first time), and when the pool closes.
 */
export type WorkerSetup = {type: 'control'; control: SharedControlHandle; ring?: RingHandle} | {type: 'close'};

/** What a worker posts back. */
export type WorkerReply =
	| {id: number; type: 'progress'; bytes: number}
	| ({id: number; type: 'write'} & RingWrite)
	| {id: number; type: 'done'; mac: string; digest: string; matches?: boolean}
	| {id: number; type: 'error'; name: string; message: string; code?: string; counter?: number};

/**
 * What a task gives back: the chunk's MAC (none for `digest-*`), the digest of the bytes it wrote
 * (or, for `digest-*`, found; '' when the output ends first), and for `verify-*` whether the
 * output matched.
 */
export type TaskResult = {mac: string; digest: string; matches?: boolean};

type Pending = {
	resolve: (result: TaskResult) => void;
	reject: (error: Error) => void;
	onProgress: (bytes: number) => void;
	/** Spans posted and not yet written. */
	writes: number;
	/** The first write that failed: the task's outcome, whatever its worker says. */
	failure?: Error;
	/** What the worker said at the end, kept until the task's last span is written. */
	end?: {result: TaskResult} | {error: Error};
};
type Slot = {worker: Worker; task: number | undefined; ring: RingReturns | undefined};

/**
 * Worker threads sharing one pause/abort/rate control. A batch keeps one pool for all its files
 * and hands each file's control to it with `useControl` (starting threads costs more than
 * encrypting a small file). The tasks of a file of at most `inlineLimit` bytes run on the calling
 * thread instead (unless a rate limit is set): a thread takes longer to start than such a file
 * takes to encrypt.
 *
 * The threads read and encrypt (or decrypt); the pool alone writes what they make, one span at a
 * time. Writes to one file take the file's lock in the kernel, where page-cache allocation makes
 * them most of the system time; two threads writing the same file spent it waiting on each other
 * (and spinning), so the cipher stood still on both. A task settles once its last span is written.
 */
export class WorkerPool {
	readonly size: number;
	#control: SharedControl;
	readonly #slots: Slot[] = [];
	readonly #queue: Array<{task: WorkerTask; pending: Pending}> = [];
	readonly #pending = new Map<number, Pending>();
	#nextId = 0;
	#closed = false;
	// The calling thread's runner for small files' tasks, made on the first one.
	#local: ChunkWork | undefined;
	readonly #inlineLimit: number;
	// The writer: spans in the order they were posted, one write at a time, a descriptor per output.
	readonly #writes: Array<{slot: Slot; id: number; write: RingWrite; pending: Pending}> = [];
	#writing = false;
	readonly #writeFds = new Map<string, number>();

	/**
	 * `lazy`: start only the threads already warm (warm-workers.ts) and the others when queued
	 * tasks need them; a batch of small files needs one, whatever `--jobs` says.
	 */
	constructor(size: number, control: SharedControl, {lazy = false, inline = inlineLimit}: {lazy?: boolean; inline?: number} = {}) {
		this.size = Math.max(1, size);
		this.#control = control;
		this.#inlineLimit = inline;
		for (let index = 0; index < this.size; index++) {
			const warm = takeWarmWorker();
			if (!warm && lazy) break;
			this.#slots.push(this.#spawn(warm));
		}

		releaseWarmWorkers();
	}

	/** Threads started so far (a lazy pool starts them as tasks need them, up to `size`). */
	get threads(): number {
		return this.#slots.length;
	}

	/** Obey `control` from the next task on (call between jobs, when no task is queued or running). */
	useControl(control: SharedControl): void {
		if (control === this.#control) return;
		if (this.#pending.size > 0 || this.#queue.length > 0) throw new Error('worker pool: a new control while tasks run');
		this.#control = control;
		this.#local?.closeFiles();
		this.#closeWriteFiles();
		// Messages arrive in order, so every later task sees the new control.
		for (const slot of this.#slots) slot.worker.postMessage({type: 'control', control: control.handle} satisfies WorkerSetup);
	}

	/** Run a task; resolves with the chunk MAC (and, for `verify-*`, whether the output matched). */
	async run(task: Omit<WorkerTask, 'id'>, onProgress: (bytes: number) => void = () => {}): Promise<TaskResult> {
		if (this.#closed) throw new Error('worker pool is closed');
		// Not under a rate limit: a thread spreads a task's bytes over time, span by span.
		if (task.plainTotal <= this.#inlineLimit && this.#control.rate === 0) return this.#runHere(task, onProgress);
		return new Promise<TaskResult>((resolve, reject) => {
			const full = {...task, id: this.#nextId++};
			this.#queue.push({task: full, pending: {resolve, reject, onProgress, writes: 0}});
			this.#dispatch();
		});
	}

	/** Stop the workers (after closing their file descriptors). */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#local?.closeFiles();
		for (const {pending} of this.#queue.splice(0)) pending.reject(new AbortedError('pool closed'));
		// Workers own their file descriptors (process-wide): ask them to close before terminating.
		await Promise.all(
			this.#slots.map(async slot => {
				slot.worker.ref();
				await new Promise<void>(resolve => {
					const timer = setTimeout(resolve, 2000);
					slot.worker.once('message', () => {
						clearTimeout(timer);
						resolve();
					});
					slot.worker.postMessage({type: 'close'});
				});
				// Bounded too: a terminate() of a thread that was stopped as it started may never settle,
				// and the process would then end with the job unfinished (exit 13, nothing written).
				let timer: NodeJS.Timeout | undefined;
				await Promise.race([slot.worker.terminate(), new Promise(resolve => (timer = setTimeout(resolve, 2000)))]);
				clearTimeout(timer);
				slot.ring?.close();
			}),
		);
		this.#closeWriteFiles();
	}

	#closeWriteFiles(): void {
		for (const fd of this.#writeFds.values()) fs.closeSync(fd);
		this.#writeFds.clear();
	}

	/**
	 * A small file's task, on this thread: it waits for pause and the rate limit before it starts
	 * (never blocking the event loop, which must stay free to hear the key that resumes), then runs
	 * to its end in a few milliseconds; an abort is seen between its spans.
	 */
	async #runHere(task: Omit<WorkerTask, 'id'>, onProgress: (bytes: number) => void): Promise<TaskResult> {
		const control = this.#control;
		await control.gate(task.op.startsWith('digest-') ? 0 : task.plainEnd - task.plainStart);
		if (!this.#local) {
			const {create} = await loadXxh3();
			this.#local ??= new ChunkWork(create);
		}

		if (this.#closed) throw new AbortedError('pool closed');
		const local = this.#local;
		const gate = {
			gateSync() {
				if (control.aborted) throw new AbortedError();
			},
		};
		return local.run({...task, id: -1}, gate, {progress: onProgress});
	}

	#spawn(warm?: Worker): Slot {
		const worker = warm ?? newWorker();
		const ring = process.env.CAGE_SPAN_WRITER === 'workers' ? undefined : new RingReturns();
		// Before any task (messages arrive in order): the pause/abort/rate control it obeys.
		if (ring) worker.postMessage({type: 'control', control: this.#control.handle, ring: ring.handle} satisfies WorkerSetup, [ring.handle.port]);
		else worker.postMessage({type: 'control', control: this.#control.handle} satisfies WorkerSetup);
		const slot: Slot = {worker, task: undefined, ring};
		worker.on('message', (reply: WorkerReply) => {
			if (!('id' in reply)) return;
			const pending = this.#pending.get(reply.id);
			if (!pending) return;
			if (reply.type === 'progress') {
				pending.onProgress(reply.bytes);
				return;
			}

			if (reply.type === 'write') {
				pending.writes++;
				this.#writes.push({slot, id: reply.id, write: reply, pending});
				this.#pump();
				return;
			}

			this.#end(slot, reply.id, pending, reply.type === 'done' ? {result: {mac: reply.mac, digest: reply.digest, ...(reply.matches === undefined ? {} : {matches: reply.matches})}} : {error: rebuildError(reply)});
		});
		worker.on('error', error => this.#lost(slot, error));
		worker.on('exit', code => {
			if (!this.#closed) this.#lost(slot, new Error(`an age worker thread exited unexpectedly (code ${code})`));
			else slot.ring?.close();
		});
		// Idle workers must not keep the process alive.
		worker.unref();
		return slot;
	}

	/** A task's worker is done with it: it settles now, or once its last span is written. */
	#end(slot: Slot, id: number, pending: Pending, end: NonNullable<Pending['end']>): void {
		pending.end = end;
		if (pending.writes > 0) return;
		this.#pending.delete(id);
		if (slot.task === id) slot.task = undefined;
		if (pending.failure) pending.reject(pending.failure);
		else if ('error' in end) pending.reject(end.error);
		else pending.resolve(end.result);
		this.#dispatch();
	}

	/** Write the next span (one at a time: see the class's comment). */
	#pump(): void {
		if (this.#writing) return;
		const next = this.#writes.shift();
		if (!next) return;
		const {slot, id, write, pending} = next;
		const done = (error?: Error) => {
			this.#writing = false;
			if (error && !pending.failure) pending.failure = Object.assign(error, {path: write.file});
			slot.ring?.giveBack(write.buffer, pending.failure !== undefined);
			pending.writes--;
			if (pending.writes === 0 && pending.end) this.#end(slot, id, pending, pending.end);

			this.#pump();
		};

		// A task whose write failed stops: what it posted after is not written.
		if (pending.failure) {
			done();
			return;
		}

		let fd: number;
		try {
			fd = this.#writeFd(write.file);
		} catch (error) {
			done(error as Error);
			return;
		}

		this.#writing = true;
		const view = Buffer.from(write.buffer, 0, write.length);
		const writeFrom = (offset: number) => {
			fs.write(fd, view, offset, write.length - offset, write.position + offset, (error, written) => {
				if (error) done(error);
				else if (offset + written < write.length) writeFrom(offset + written);
				else done();
			});
		};

		writeFrom(0);
	}

	#writeFd(file: string): number {
		let fd = this.#writeFds.get(file);
		if (fd === undefined) {
			fd = fs.openSync(file, fs.constants.O_WRONLY);
			this.#writeFds.set(file, fd);
		}

		return fd;
	}

	#lost(slot: Slot, error: Error): void {
		if (slot.task !== undefined) {
			const id = slot.task;
			const pending = this.#pending.get(id);
			slot.task = undefined;
			// Its spans still queued are written first: nothing lands after the task has settled.
			if (pending) this.#end(slot, id, pending, {error});
		}

		if (this.#closed) return;
		const index = this.#slots.indexOf(slot);
		if (index !== -1) {
			void slot.worker.terminate();
			this.#slots[index] = this.#spawn();
			this.#dispatch();
		}
	}

	#dispatch(): void {
		for (const slot of this.#slots) {
			if (this.#queue.length === 0) break;
			if (slot.task === undefined) this.#assign(slot);
		}

		// A lazy pool starts threads for what is still queued.
		while (this.#queue.length > 0 && this.#slots.length < this.size) {
			const slot = this.#spawn();
			this.#slots.push(slot);
			this.#assign(slot);
		}

		for (const slot of this.#slots) if (slot.task === undefined) slot.worker.unref();
	}

	#assign(slot: Slot): void {
		const next = this.#queue.shift()!;
		slot.task = next.task.id;
		this.#pending.set(next.task.id, next.pending);
		slot.worker.ref();
		slot.worker.postMessage(next.task);
	}
}

function rebuildError(reply: Extract<WorkerReply, {type: 'error'}>): Error {
	if (reply.name === 'AbortedError') return new AbortedError(reply.message);
	const error = new Error(reply.message) as Error & {code?: string; counter?: number};
	error.name = reply.name;
	if (reply.code !== undefined) error.code = reply.code;
	if (reply.counter !== undefined) error.counter = reply.counter;
	return error;
}
