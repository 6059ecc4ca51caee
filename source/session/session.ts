/**
 * Everything around a job that is not the job: where its events go (progress reporter or
 * dashboard, audit log, anomaly detector), what signals and keys do to it, and how it ends
 * (summary, resume line, exit code). Commands build a job; the session runs it.
 */
import process from 'node:process';
import type {JobEmitter} from '../chunker/emitter.js';
import type {JobDoneEvent, JobOutcome} from '../chunker/events.js';
import type {Settings} from '../config.js';
import type {Io} from '../commands/command.js';
import {exitCodes} from '../commands/command.js';
import type {ProgressMode} from '../commands/options.js';
import type {ControlProxy} from '../jobs/control-proxy.js';
import {jsonReporter, plainReporter} from '../progress/reporters.js';
import {describeError, isBrokenPipe, isTerminalGone} from '../errors.js';
import {displayPath} from '../display-path.js';
import {exitProcess} from '../io/exit.js';
import {resumeLine, type ResumeArgs} from '../shell-quote.js';

export type SessionOptions = {
	io: Io;
	progress: ProgressMode;
	settings: Settings;
	/** Audit log path, or null for none. */
	auditLog: string | null;
	/** Theme name or path for the dashboard. */
	theme?: string;
	/** The source file, watched for changes by the anomaly detector. */
	sourcePath?: string | null;
	/** Command name for messages. */
	command: string;
	/** The flags a printed resume line repeats. */
	resumeArgs?: ResumeArgs;
	/** A batch's manifest: what a second Ctrl-C leaves to resume from. */
	batchCheckpoint?: string;
};

/** What a job function returns; the session needs only its ending. */
export type SessionJobResult = {outcome: JobOutcome; checkpoint?: string; error?: Error};

/** Plug-ins the session attaches when present (dashboard, audit log, detectors). */
export type SessionExtension = {
	/** Called before the job starts; returns a function called after job:done. */
	attach(context: {emitter: JobEmitter; control: ControlProxy; options: SessionOptions}): Promise<(() => Promise<void>) | undefined>;
	/** True when this extension draws on the terminal (no plain reporter then). */
	readonly draws?: boolean;
};

const extensions: SessionExtension[] = [];

let running = 0;

/** True while a session runs a job: the job and the session then handle stdout's and stderr's errors. */
export function isSessionRunning(): boolean {
	return running > 0;
}

/** Register a session extension (the dashboard, the audit logger and the detectors register here). */
export function registerSessionExtension(extension: SessionExtension): void {
	extensions.push(extension);
}

/** The signals a session turns into a clean stop (Ctrl-\\ sends SIGQUIT; closing a terminal, SIGHUP). */
const stopSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/**
 * Run `job` with its events routed to the chosen sinks, and SIGINT, SIGTERM, SIGHUP, SIGQUIT or a
 * terminal that went away turned into a clean abort (checkpoint saved). Returns the job's result
 * and the exit code.
 */
export async function runSession<R extends SessionJobResult>(
	options: SessionOptions,
	emitter: JobEmitter,
	control: ControlProxy,
	job: () => Promise<R>,
): Promise<{result: R; exitCode: number}> {
	const {io} = options;
	const detach: Array<() => void> = [];
	// The job's error is said once, by the line this session writes after the job.
	if (options.progress === 'plain') detach.push(emitter.pipe(plainReporter(io.stderr, {endError: false})));
	if (options.progress === 'json') detach.push(emitter.pipe(jsonReporter(io.stderr)));
	let done: JobDoneEvent | undefined;
	// The last checkpoint written for the job itself (not for a file of a batch): what a second
	// Ctrl-C leaves to resume from, and the bytes it holds.
	let checkpoint: string | undefined;
	let checkpointed = false;
	let kept = 0;
	let startedAt: number | undefined;
	let batch = false;
	detach.push(emitter.pipe(event => {
		if (event.type === 'job:done') done = event;
		if (event.type === 'job:start') {
			startedAt ??= event.ts;
			kept = event.bytesDone;
			if (event.items !== undefined) {
				batch = true;
				checkpointed = options.batchCheckpoint !== undefined;
				checkpoint = options.batchCheckpoint;
			}
		}

		// A resumed job has a checkpoint from its first moment: the one it continues.
		if (event.type === 'job:start' && event.resumed) checkpointed = true;
		// A batch's manifest keeps the files done; a file's checkpoint, its committed chunks.
		if (event.type === 'item:done') kept += event.bytes;
		if (event.type === 'job:checkpoint') {
			checkpointed = true;
			if (!batch) {
				checkpoint = event.path;
				kept = event.bytesDone;
			}
		}
	}));

	const finishers: Array<() => Promise<void>> = [];
	for (const extension of extensions) {
		const finish = await extension.attach({emitter, control, options});
		if (finish) finishers.push(finish);
	}

	let signals = 0;
	let hungUp = false;
	const stop = (signal: NodeJS.Signals, why: string = signal) => {
		// The terminal going away can be heard twice (its EIO, then the shell's SIGHUP): that is one
		// hang-up, not a second request to leave at once.
		if (signal === 'SIGHUP') {
			if (hungUp) return;
			hungUp = true;
		}

		signals++;
		if (signals === 1) {
			const saving = checkpointed ? ' and saving the checkpoint' : '; this job keeps no checkpoint';
			if (options.progress !== 'tui') io.stderr.write(`${why}: stopping at the next block${saving} (again to exit at once)\n`);
			control.abort(signal);
			return;
		}

		// The checkpoint on disk is always whole (atomic writes), so leaving now loses at most the
		// chunks finished since it was last written: a job with one can still be resumed. The audit
		// log is told first (its appends are synchronous), so that no reader of it (`cage watch`)
		// takes the job for one still running.
		if (!done) {
			emitter.send({
				type: 'job:done',
				outcome: 'interrupted',
				bytesDone: checkpoint ? kept : 0,
				durationMs: startedAt === undefined ? 0 : Date.now() - startedAt,
				error: `stopped at once by a second ${signal}`,
				...(checkpoint ? {checkpoint, resumeCommand: resumeLine(checkpoint, options.resumeArgs)} : {}),
			});
		}

		if (checkpoint) {
			io.stderr.write(`\n${signal}: stopped at once; the last checkpoint, ${displayPath(checkpoint)}, is kept\nresume with: ${resumeLine(checkpoint, options.resumeArgs)}\n`);
			exitProcess(exitCodes.interrupted);
		}

		exitProcess(exitCodes.cancelled);
	};

	const onSignal = (signal: NodeJS.Signals) => stop(signal);
	// A closed terminal: writes to it fail (the CLI silences them), and the job stops as for SIGHUP.
	const onOutputError = (error: unknown) => {
		if (isTerminalGone(error)) stop('SIGHUP', 'the terminal went away');
	};

	const terminals = [io.stderr, io.stdout].filter(stream => stream.isTTY);
	for (const stream of terminals) stream.on('error', onOutputError);
	const handled = stopSignals;
	// conf's atomic writer (via when-exit) listens to every signal and re-raises it at the process,
	// which would reach onSignal twice and force an exit without a checkpoint. Nothing writes the
	// config during a job, so its listeners are set aside for the session and put back after.
	const foreign = new Map(handled.map(signal => [signal, process.listeners(signal)]));
	for (const signal of handled) {
		process.removeAllListeners(signal);
		process.on(signal, onSignal);
	}

	let result: R;
	running++;
	try {
		result = await job();
	} finally {
		// The signals stay handled until the dashboard has closed: a SIGHUP that comes while it draws
		// its summary (the shell of a closed terminal sends one) must not kill the process now.
		for (const finish of finishers.reverse()) {
			await finish().catch((error: unknown) => io.stderr.write(`cage: ${describeError(error)}\n`));
		}

		for (const off of detach) off();
		running--;
		for (const signal of handled) {
			process.off(signal, onSignal);
			for (const listener of foreign.get(signal) ?? []) process.on(signal, listener as NodeJS.SignalsListener);
		}

		for (const stream of terminals) stream.off('error', onOutputError);
	}

	if (result.outcome === 'completed') return {result, exitCode: exitCodes.ok};
	// `cage decrypt x.age | head`: the reader had what it wanted; say nothing more, as any tool that
	// SIGPIPE ends (the audit log has the reason).
	if (result.outcome === 'interrupted' && isBrokenPipe(result.error)) return {result, exitCode: exitCodes.brokenPipe};
	if (result.outcome === 'interrupted' && (result.checkpoint ?? done?.checkpoint)) {
		// Stopped by something other than the user (a full disk): say what, before how to go on.
		if (result.error && result.error.name !== 'AbortedError') io.stderr.write(`cage ${options.command}: ${describeError(result.error)}\n`);
		io.stderr.write(`cage: interrupted; checkpoint saved to ${result.checkpoint ?? done?.checkpoint ?? ''}\nresume with: ${done?.resumeCommand ?? ''}\n`);
		return {result, exitCode: exitCodes.interrupted};
	}

	if (result.outcome === 'interrupted') {
		io.stderr.write(`cage ${options.command}: stopped before the end, with no checkpoint to resume from (a job this small or a stream has none; what a stream wrote is incomplete): run the command again\n`);
		return {result, exitCode: exitCodes.failed};
	}

	const message = result.error ? describeError(result.error) : (done?.error ?? result.outcome);
	io.stderr.write(`cage ${options.command}: ${message}\n`);
	if (result.checkpoint) io.stderr.write(`the checkpoint ${result.checkpoint} is kept; fix the cause, then run: ${done?.resumeCommand ?? 'cage resume'}\n`);
	return {result, exitCode: exitCodes.failed};
}
