/**
 * A fixed pool of worker threads for the age engine's chunk work. Each task is one chunk (or the
 * MAC of one chunk on resume); the pool queues tasks beyond its size and relays progress.
 */
import type {Worker} from 'node:worker_threads';
import {AbortedError, type SharedControl, type SharedControlHandle} from '../chunker/control.js';
import {ChunkWork} from './chunk-work.js';
import {inlineLimit, newWorker, releaseWarmWorkers, takeWarmWorker} from './warm-workers.js';
import {loadXxh3} from './xxh3.js';

/**
 * One unit of worker work. Offsets are file positions; `plain*` are plaintext stream offsets.
 * `verify-*` redoes a committed chunk without writing: it reads back what `output` holds at the
 * chunk's place and says whether it is what the work gives now (resume verification).
 * `digest-*` only reads back what `output` holds there and returns its digest (chunk-digest.ts).
 * `authenticate` decrypts the chunk's blocks, checking every tag, and throws the plaintext away
 * (`cage verify`): `output` is not opened; with `sha256`, its digest is the SHA-256 (hex) of the
 * ciphertext it read (a backup manifest's chunk digest). `sha256` alone hashes input bytes
 * [plainStart, plainEnd) as they are (file offsets; no key needed): a backup verify without a key.
 */
export type WorkerTask = {
	id: number;
	op: 'encrypt' | 'decrypt' | 'verify-encrypt' | 'verify-decrypt' | 'digest-encrypt' | 'digest-decrypt' | 'authenticate' | 'sha256';
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
	/** `authenticate`: also the SHA-256 of the ciphertext read, as the result's digest. */
	sha256?: boolean;
	/** `encrypt`/`decrypt` of a job that keeps no checkpoint: no digest of what was written (its digest is ''). */
	noDigest?: boolean;
};

/** What a worker is sent before its first task, and when the pool closes. */
export type WorkerSetup = {type: 'control'; control: SharedControlHandle} | {type: 'close'};

/** What a worker posts back. */
export type WorkerReply =
	| {id: number; type: 'progress'; bytes: number}
	| {id: number; type: 'done'; mac: string; digest: string; matches?: boolean}
	| {id: number; type: 'error'; name: string; message: string; code?: string; counter?: number};

/**
 * What a task gives back: the chunk's MAC (none for `digest-*`), the digest of the bytes it wrote
 * (or, for `digest-*`, found; '' when the output ends first), and for `verify-*` whether the
 * output matched.
 */
export type TaskResult = {mac: string; digest: string; matches?: boolean};

type Pending = {resolve: (result: TaskResult) => void; reject: (error: Error) => void; onProgress: (bytes: number) => void};
/** `control`: the control the thread was last sent (it obeys that one); `files`: it may hold files open since. */
type Slot = {worker: Worker; task: number | undefined; control: SharedControl; files: boolean};

/**
 * Worker threads sharing one pause/abort/rate control. A batch keeps one pool for all its files
 * and hands each file's control to it with `useControl` (starting threads costs more than
 * encrypting a small file). The tasks of a file of at most `inlineLimit` bytes run on the calling
 * thread instead (unless a rate limit is set): a thread takes longer to start than such a file
 * takes to encrypt.
 *
 * Each thread writes its own spans with pwrite. (A single writer fed by the threads was tried:
 * writes to one file take its lock in the kernel, but moving every span to one writer cost more
 * than the waiting it saved: 1.06-2.01 s against 0.95-1.17 s for 1 GiB, 6.4-11.7 s against
 * 3.2-3.6 s for 4 GiB, here on 2026-12-02.)
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
		// Messages arrive in order, so every later task sees the new control. A thread that ran no task
		// since the last one is sent it with its next task (#assign): a batch of small files, whose
		// tasks run on this thread, would otherwise post it to every thread for each file. One that
		// did is sent it now, so that it closes the last job's files (an unlocked source is deleted:
		// its space comes back only once no thread holds it open).
		for (const slot of this.#slots) if (slot.files) this.#sendControl(slot);
	}

	/** Run a task; resolves with the chunk MAC (and, for `verify-*`, whether the output matched). */
	async run(task: Omit<WorkerTask, 'id'>, onProgress: (bytes: number) => void = () => {}): Promise<TaskResult> {
		if (this.#closed) throw new Error('worker pool is closed');
		// Not under a rate limit: a thread spreads a task's bytes over time, span by span.
		if (task.plainTotal <= this.#inlineLimit && this.#control.rate === 0) return this.#runHere(task, onProgress);
		return new Promise<TaskResult>((resolve, reject) => {
			const full = {...task, id: this.#nextId++};
			this.#queue.push({task: full, pending: {resolve, reject, onProgress}});
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
			}),
		);
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
		// Before any task (messages arrive in order): the pause/abort/rate control it obeys.
		worker.postMessage({type: 'control', control: this.#control.handle} satisfies WorkerSetup);
		const slot: Slot = {worker, task: undefined, control: this.#control, files: false};
		worker.on('message', (reply: WorkerReply) => {
			if (!('id' in reply)) return;
			const pending = this.#pending.get(reply.id);
			if (!pending) return;
			if (reply.type === 'progress') {
				pending.onProgress(reply.bytes);
				return;
			}

			this.#pending.delete(reply.id);
			slot.task = undefined;
			if (reply.type === 'done') pending.resolve({mac: reply.mac, digest: reply.digest, ...(reply.matches === undefined ? {} : {matches: reply.matches})});
			else pending.reject(rebuildError(reply));
			this.#dispatch();
		});
		worker.on('error', error => this.#lost(slot, error));
		worker.on('exit', code => {
			if (!this.#closed) this.#lost(slot, new Error(`an age worker thread exited unexpectedly (code ${code})`));
		});
		// Idle workers must not keep the process alive.
		worker.unref();
		return slot;
	}

	#lost(slot: Slot, error: Error): void {
		if (slot.task !== undefined) {
			const pending = this.#pending.get(slot.task);
			this.#pending.delete(slot.task);
			slot.task = undefined;
			pending?.reject(error);
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

	/** Send the thread the current control (it closes the files of the tasks before). */
	#sendControl(slot: Slot): void {
		slot.control = this.#control;
		slot.files = false;
		slot.worker.postMessage({type: 'control', control: this.#control.handle} satisfies WorkerSetup);
	}

	#assign(slot: Slot): void {
		const next = this.#queue.shift()!;
		slot.task = next.task.id;
		this.#pending.set(next.task.id, next.pending);
		slot.worker.ref();
		// Messages arrive in order: the task is run under the control sent before it.
		if (slot.control !== this.#control) this.#sendControl(slot);
		slot.files = true;
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
