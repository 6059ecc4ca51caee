/**
 * Worker threads started before they are needed. A worker takes about 60 ms to boot (a new V8
 * isolate and node's own bootstrap); the CLI starts them first thing when the command is an age
 * job, so they boot while the main thread loads its modules, reads the keys and writes the
 * header, instead of after. The pool adopts them; any it does not need are stopped.
 */
import fs from 'node:fs';
import os from 'node:os';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {Worker} from 'node:worker_threads';

const warm: Worker[] = [];

/**
 * Files of at most this many bytes are encrypted and decrypted on the main thread (pool.ts): a
 * worker takes 30–60 ms to boot, and 4 MiB takes about 3 ms to encrypt.
 */
export const inlineLimit = 4 * 1024 * 1024;

/** The compiled worker script; under the test runner (TypeScript sources) the built one in dist/. */
function workerUrl(): URL {
	const local = new URL('worker.js', import.meta.url);
	if (fs.existsSync(fileURLToPath(local))) return local;
	const built = new URL('../../dist/age/worker.js', import.meta.url);
	if (fs.existsSync(fileURLToPath(built))) return built;
	throw new Error('the age worker script is missing: run `npm run build` first');
}

/**
 * A new cipher worker. Each one pipes its stdout and stderr into the process's, which adds
 * listeners there; the limit follows the live workers so that node does not warn of a leak (and
 * still would of a real one, in a batch that starts thousands of workers one after another).
 */
export function newWorker(): Worker {
	const streams = [process.stdout, process.stderr];
	for (const stream of streams) stream.setMaxListeners(stream.getMaxListeners() + 1);
	const worker = new Worker(workerUrl());
	worker.once('exit', () => {
		for (const stream of streams) stream.setMaxListeners(Math.max(10, stream.getMaxListeners() - 1));
	});
	return worker;
}

/** The most workers started before the job is known: one per core, at most 16. */
export function warmLimit(): number {
	return Math.min(16, os.availableParallelism());
}

/** Start `count` workers now. They wait, idle and unreferenced, for a pool to adopt them. */
export function warmWorkers(count: number): void {
	for (let index = 0; index < count; index++) {
		const worker = newWorker();
		worker.unref();
		// A worker that fails to boot is simply not adopted; the pool starts a fresh one instead.
		const drop = () => {
			const at = warm.indexOf(worker);
			if (at !== -1) warm.splice(at, 1);
		};

		worker.once('error', drop);
		worker.once('exit', drop);
		warm.push(worker);
	}
}

/** A warm worker, or undefined when none is left. The caller owns it from now on. */
export function takeWarmWorker(): Worker | undefined {
	// Its `drop` listeners stay: once it has left the list they do nothing.
	return warm.shift();
}

/** Stop the warm workers nobody took (a job with fewer chunks than workers). */
export function releaseWarmWorkers(): void {
	for (const worker of warm.splice(0)) void worker.terminate();
}

/**
 * What the CLI calls before anything else: warm as many workers as the job will run when argv names an
 * encryption, a decryption or a resume (not its help): `--jobs`/`-j` from the command line, else
 * `jobs` (the setting), at most one per core. The pool adopts what it can and starts or stops the
 * difference. (The job's size is not known yet: a small file needs one worker, and the others
 * are stopped when its pool starts.)
 */
export function warmForArgv(argv: readonly string[], settingJobs: number): void {
	const command = argv.find(arg => !arg.startsWith('-'));
	if (command !== 'encrypt' && command !== 'decrypt' && command !== 'resume') return;
	if (argv.some(arg => arg === '--help' || arg === '-h' || arg === '--version')) return;
	let jobs = settingJobs;
	for (const [index, arg] of argv.entries()) {
		const value = arg === '--jobs' || arg === '-j' ? argv[index + 1] : /^--jobs=(.+)$/.exec(arg)?.[1];
		if (value !== undefined && /^\d+$/.test(value)) jobs = Number(value);
	}

	if (command !== 'resume' && onlySmallFiles(argv.slice(argv.indexOf(command) + 1))) return;
	// More would only contend for the cores while the main thread starts; the pool adds the rest.
	warmWorkers(Math.min(jobs, warmLimit()));
}

/**
 * Whether the arguments name only files that the pool will run on the main thread. A guess from
 * argv alone (flags are not parsed yet): every argument that is an existing path must be a
 * regular file of at most `inlineLimit` bytes, and one must be (a `-r` value or an output that
 * does not exist yet is no path). A wrong guess costs time only: the pool starts its threads.
 */
function onlySmallFiles(args: readonly string[]): boolean {
	let files = 0;
	for (const arg of args) {
		if (arg === '-') return false;
		if (arg.startsWith('-')) continue;
		let stats: fs.Stats | undefined;
		try {
			stats = fs.statSync(arg, {throwIfNoEntry: false});
		} catch {
			continue;
		}

		if (!stats) continue;
		if (!stats.isFile() || stats.size > inlineLimit) return false;
		files++;
	}

	return files > 0;
}
