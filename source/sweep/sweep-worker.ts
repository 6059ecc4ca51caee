/**
 * A worker thread that sweeps JSON Lines chunks (sweepLines) and units of one JSON document
 * (scanDocumentUnit), so that chunks use every core. It
 * reads the file itself, obeys pause, abort and the rate limit through the shared control, and
 * posts back the chunk's counts, bad lines and statistics (with key names: they stay in this
 * process).
 */
import fs from 'node:fs';
import {parentPort} from 'node:worker_threads';
import {SharedControl} from '../chunker/control.js';
import {scanDocumentUnit} from './document.js';
import {sweepLines} from './processor.js';
import type {SweepTask, SweepWorkerReply} from './workers.js';

const port = parentPort!;
port.on('message', (task: SweepTask | {type: 'close'}) => {
	if (task.type === 'close') {
		port.close();
		return;
	}

	void run(task);
});

async function run(task: SweepTask): Promise<void> {
	const control = new SharedControl(task.control);
	const post = (reply: SweepWorkerReply) => port.postMessage(reply);
	let fd: number | undefined;
	let lastProgress = 0;
	try {
		fd = fs.openSync(task.path, 'r');
		const handle = fd;
		const read = async (buffer: Uint8Array, length: number, position: number) => fs.readSync(handle, buffer, 0, length, position);
		const gate = async (bytes: number) => control.gateSync(bytes);
		const progress = (bytes: number) => {
			const now = Date.now();
			if (now - lastProgress >= 100) {
				lastProgress = now;
				post({type: 'progress', id: task.id, bytes});
			}
		};

		if (task.type === 'document') {
			post({type: 'unit', id: task.id, unit: await scanDocumentUnit(read, task, gate, progress)});
			return;
		}

		const part = await sweepLines(read, task.chunk, task.size, task.options, {gate, progress});
		post({type: 'done', id: task.id, counts: part.counts, lineErrors: part.lineErrors, error: part.error, stats: part.stats.toState(true)});
	} catch (error) {
		post({type: 'error', id: task.id, message: (error as Error).message, name: (error as Error).name, code: (error as NodeJS.ErrnoException).code});
	} finally {
		if (fd !== undefined) fs.closeSync(fd);
	}
}
