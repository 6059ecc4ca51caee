// What the three benches share: sizes parsed as cage parses them, medians, sample files.
import {randomBytes} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (!fs.existsSync(path.join(root, 'dist', 'bin', 'cli.js'))) {
	process.stderr.write('bench: dist/ is missing; run `npm run build` first (npm run bench does)\n');
	process.exit(2);
}

/** cage's own size parser (`1GiB`, `256MiB`, `1048576`, …). */
export const {parseSize} = await import(pathToFileURL(path.join(root, 'dist', 'size.js')).href);

export function median(values) {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** `bytes` of incompressible data, written 8 MiB at a time. */
export function writeSample(file, bytes) {
	const fd = fs.openSync(file, 'w');
	const block = randomBytes(8 * 1024 * 1024);
	for (let written = 0, counter = 0; written < bytes; counter++) {
		block.writeUInt32LE(counter, 0);
		const length = Math.min(block.length, bytes - written);
		fs.writeSync(fd, block, 0, length);
		written += length;
	}

	fs.closeSync(fd);
}

/**
 * Run `cleanup` when the bench is interrupted (Ctrl-C, SIGTERM) as well as at its end: its files
 * are GiBs, on tmpfs they are memory, and a `finally` does not run when a signal ends node.
 */
export function cleanUpOnSignals(cleanup) {
	for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
		process.once(signal, () => {
			try {
				cleanup();
			} finally {
				process.exit(code);
			}
		});
	}
}

/** Whether the file system of `directory` has `bytes` free (true when it cannot tell). */
export function hasRoom(directory, bytes) {
	try {
		const {bavail, bsize} = fs.statfsSync(directory);
		return bavail * bsize >= bytes;
	} catch {
		return true;
	}
}

/**
 * Follow a child's peak RSS from /proc/<pid>/status (VmHWM), for machines without GNU time:
 * `stop()` ends the polling and returns the peak in bytes (0 where /proc is not there).
 */
export function pollPeakRss(child, everyMs = 20) {
	let peak = 0;
	const timer = setInterval(() => {
		try {
			peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024);
		} catch {
			// Exited between polls.
		}
	}, everyMs);
	return {
		stop() {
			clearInterval(timer);
			return peak;
		},
	};
}
