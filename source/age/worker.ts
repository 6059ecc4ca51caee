/**
 * A worker thread of the age engine: runs the pool's chunk tasks (chunk-work.ts) one after another
 * and posts their progress and results back. The payload key arrives per task.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import {parentPort} from 'node:worker_threads';
import {AbortedError, SharedControl} from '../chunker/control.js';
import {ChunkWork} from './chunk-work.js';
import {loadXxh3} from './xxh3.js';
import type {WorkerReply, WorkerSetup, WorkerTask} from './pool.js';

// Set by the pool's first message (a worker may boot before its pool exists: warm-workers.ts).
let control: SharedControl | undefined;

// node's cipher returns a fresh 64 KiB buffer per block; V8 frees them only when it feels memory
// pressure, which lets a worker hold tens of MiB of dead buffers. Collecting the young generation
// every few MiB keeps peak memory flat for a fraction of a millisecond each time.
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as (options?: {type: 'minor' | 'major'}) => void;
const collectEvery = 4 * 1024 * 1024;
let sinceCollect = 0;
function afterSpan(bytes: number): void {
	sinceCollect += bytes;
	if (sinceCollect >= collectEvery) {
		sinceCollect = 0;
		collect({type: 'minor'});
	}
}

// Loaded once per thread, before the first task needs it.
const hasherReady = loadXxh3();
let work: ChunkWork | undefined;

// Messages are handled one after another, in order (the first task waits for the hasher).
let queue: Promise<void> = Promise.resolve();

parentPort!.on('message', (message: WorkerTask | WorkerSetup) => {
	queue = queue.then(async () => {
		work ??= new ChunkWork((await hasherReady).create);
		handle(work, message);
	});
});

function handle(work: ChunkWork, message: WorkerTask | WorkerSetup): void {
	if ('type' in message && message.type === 'control') {
		// A new control is a new job (a batch's next file): its files are not the last one's.
		work.closeFiles();
		control = new SharedControl(message.control);
		return;
	}

	if ('type' in message) {
		work.closeFiles();
		parentPort!.postMessage({type: 'closed'});
		return;
	}

	try {
		if (!control) throw new Error('age worker: a task arrived before the pool sent its control');
		const report = {
			progress: (bytes: number) => parentPort!.postMessage({id: message.id, type: 'progress', bytes} satisfies WorkerReply),
			span: afterSpan,
		};
		parentPort!.postMessage({id: message.id, type: 'done', ...work.run(message, control, report)} satisfies WorkerReply);
	} catch (error) {
		const error_ = error as Error & {code?: string; counter?: number};
		parentPort!.postMessage({
			id: message.id,
			type: 'error',
			name: error_ instanceof AbortedError ? 'AbortedError' : error_.name,
			message: error_.message,
			...(typeof error_.code === 'string' ? {code: error_.code} : {}),
			...(typeof error_.counter === 'number' ? {counter: error_.counter} : {}),
		} satisfies WorkerReply);
	}
}
