/**
 * `cage watch`: follow the audit logs that jobs of other `cage` processes write, and show them as
 * the dashboard (the same one a live job draws), plain lines, or NDJSON for scripts.
 */
import {once} from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import type {EventSink} from '../chunker/events.js';
import {defaultAuditLogPath, readSettings} from '../config.js';
import {auditTailJob} from '../audit/format.js';
import {compilePattern} from '../audit/glob.js';
import {isTerminalGone} from '../errors.js';
import {InputError} from '../io/files.js';
import {plainReporter} from '../progress/reporters.js';
import type {DashboardHandle} from '../ui/mount.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {themeFlag} from './options.js';

type WatchMode = 'tui' | 'plain' | 'json';

const watchModes: readonly WatchMode[] = ['tui', 'plain', 'json'];

/** The display: the flag, else the dashboard on a terminal, else plain lines. */
function watchMode(value: string | undefined, stderr: {isTTY?: boolean}): WatchMode {
	const terminal = Boolean(stderr.isTTY) && !process.env.CI;
	if (value === undefined) return terminal ? 'tui' : 'plain';
	if (!watchModes.includes(value as WatchMode)) throw new UsageError(`--progress must be one of ${watchModes.join(', ')} (got '${value}')`);
	if (value === 'tui' && !stderr.isTTY) return 'plain';
	return value as WatchMode;
}

/** Resolves on the first SIGINT, SIGTERM, SIGHUP or SIGQUIT; `off` removes the handlers. */
function onStopSignal(): {stopped: Promise<void>; off(): void} {
	const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
	let stop: () => void = () => undefined;
	const stopped = new Promise<void>(resolve => {
		stop = resolve;
	});
	const handler = () => stop();
	for (const signal of signals) process.on(signal, handler);
	return {stopped, off: () => signals.forEach(signal => process.off(signal, handler))};
}

/** Refuse, for a one-off report, patterns that name nothing. */
function checkPresent(patterns: string[], literal: boolean): void {
	for (const source of patterns) {
		const pattern = compilePattern(source, undefined, {literal});
		if (pattern.literal) {
			if (!fs.existsSync(path.resolve(source))) {
				throw new InputError(`no audit log at ${path.resolve(source)}; jobs write there unless run with --no-audit or --audit-log (see 'cage config get auditLog')`);
			}

			continue;
		}

		const entries = fs.existsSync(pattern.base) ? fs.readdirSync(pattern.base, {recursive: pattern.recursive}) : [];
		if (!entries.some(entry => pattern.matches(path.join(pattern.base, String(entry))))) throw new InputError(`no file matches ${source}`);
	}
}

/** `cage watch`. */
export const watchCommand = defineCommand({
	name: 'watch',
	help: `[LOG | GLOB ...] [options]

	Arguments
	  LOG | GLOB         audit logs to follow: paths, or globs such as 'logs/*.jsonl' (quote them);
	                     default: the configured audit log (config 'auditLog', else
	                     $XDG_STATE_HOME/cage/audit.jsonl)

	Options
	      --from-start       replay the history in the log first (default: what is appended from now,
	                         and the jobs running now from their start)
	      --no-follow        replay the log(s) and exit: a report (implies --from-start)
	      --job ID           only this job (an id as shown in the log, or its beginning)
	      --progress MODE    tui (the dashboard, default on a terminal): a table of every job (state,
	                         progress, rate, pid, last line; silent and dead jobs say so); enter opens
	                         one in the full dashboard, esc comes back, / filters, o sorts, ? lists
	                         every key, q quits (with --job: that job's dashboard);
	                         plain: lines on stdout, like 'cage encrypt --progress plain';
	                         json: the validated events as NDJSON on stdout, one per line, for scripts
	      --theme NAME|PATH  dashboard theme: default, light, high-contrast, mono, or a JSON file

	Follows appends, truncation (copy-truncate) and rotation (audit.jsonl -> audit.jsonl.1). A log that
	does not exist yet is waited for. Jobs that are running when the watch starts (a line in the last
	10 minutes and no end yet) are shown from their start, found by reading the log backwards; one
	that started in an earlier, rotated log is shown from now. A job that writes nothing for 5
	minutes, is not paused and has not ended is reported once (a stall of '${auditTailJob}'): its
	process may have been killed, which leaves no end in the log.

	Malformed lines, unknown versions and gaps in a job's sequence are reported as anomalies (codes
	audit-malformed-line, audit-unknown-version, audit-sequence-gap) naming the file, the line and
	the job (the line's, or for a line that names none, the job of the line before it: 'after job ID'). They are the watcher's own events, under the job '${auditTailJob}'
	with its own sequence numbers, never a job's; --job keeps those about the jobs it selects.
	Follow mode runs until q, Ctrl-C or SIGTERM and exits 0; --no-follow exits 0 after the report,
	or 1 when a log does not exist.

	Examples
	  $ cage watch
	  $ cage watch --from-start --job 20261124T133552
	  $ cage watch --no-follow --progress json | jq 'select(.type == "job:done")'
	  $ cage watch '/var/log/cage/*.jsonl' --progress plain`,
	flags: {
		fromStart: {type: 'boolean', default: false},
		follow: {type: 'boolean', default: true},
		job: {type: 'string'},
		progress: {type: 'string'},
		theme: {type: 'string'},
	},
	async run(cli, io) {
		const settings = readSettings();
		const mode = watchMode(cli.flags.progress, io.stderr);
		const theme = themeFlag(cli.flags.theme);
		const follow = cli.flags.follow;
		const fromStart = cli.flags.fromStart || !follow;
		const patterns = cli.input.length > 0 ? cli.input : [path.resolve(settings.auditLog || defaultAuditLogPath())];
		// Only what the user typed can be a glob: the configured log is a path, whatever its characters.
		const literal = cli.input.length === 0;
		const jobPrefix = cli.flags.job;
		if (jobPrefix === '') throw new UsageError('--job needs a job id');
		if (!follow) checkPresent(patterns, literal);

		let dashboard: DashboardHandle | undefined;
		let sink: EventSink;
		switch (mode) {
			case 'json': {
				sink = event => io.stdout.write(`${JSON.stringify(event)}\n`);
				break;
			}

			case 'plain': {
				// Every line names its job, unless --job picked it.
				sink = plainReporter(io.stdout, {prefixJobs: jobPrefix === undefined});
				break;
			}

			case 'tui': {
				// Loaded only when drawing: React, Ink and its layout engine cost every other command memory.
				const {mountDashboard} = await import('../ui/mount.js');
				// One job (--job) opens on its view; else on the jobs table of all of them.
				dashboard = mountDashboard({stderr: io.stderr, theme: theme ?? settings.theme, settings, mode: 'watch', overview: jobPrefix === undefined});
				const shown = dashboard;
				sink = event => shown.push(event);
				break;
			}
		}

		const {AuditTail} = await import('../audit/tail.js');
		let matched = false;
		const tail = new AuditTail(patterns, {
			fromStart,
			follow,
			literal,
			...(jobPrefix === undefined ? {} : {jobs: (job: string) => job.startsWith(jobPrefix)}),
			onEvent: event => {
				if (event.job !== auditTailJob) matched = true;
				sink(event);
			},
			backpressure: () => (io.stdout.writableNeedDrain ? once(io.stdout, 'drain').then(() => undefined) : undefined),
		});
		const signals = onStopSignal();
		// A reader that goes away (`cage watch --progress json | head`) ends the watch, quietly.
		const closedOutput = new Promise<void>(resolve => {
			io.stdout.once('error', () => resolve());
			// Its terminal closed (under a wrapper that kept the SIGHUP from it): nobody is watching.
			io.stderr.on('error', error => {
				if (isTerminalGone(error)) resolve();
			});
		});
		// Ctrl-C, SIGTERM, q or a closed stdout stop the watch at any point, the first replay of a
		// long log included.
		let stopped = false;
		const stop = Promise.race([signals.stopped, closedOutput, dashboard?.quitRequested ?? new Promise<void>(() => undefined)]).then(() => {
			stopped = true;
		});
		try {
			await Promise.race([tail.start(), stop]);
			dashboard?.historyRead();
			if (!follow && !stopped && jobPrefix !== undefined && !matched) {
				throw new InputError(`no job whose id starts with '${jobPrefix}' in ${patterns.join(', ')}`);
			}

			if (follow && !stopped) {
				// Said once the watch is in place, so a script that waits for it misses nothing.
				if (mode !== 'tui') {
					for (const source of patterns) {
						if (!isGlobOrExists(source, literal)) io.stderr.write(`cage watch: waiting for ${path.resolve(source)} to appear\n`);
					}
				}

				await stop;
			}
		} finally {
			signals.off();
			await tail.close();
			await dashboard?.close();
			// Asked to stop: a reader that stopped reading must not keep cage waiting for stdout to drain.
			if (stopped && io.stdout.writableNeedDrain) io.stdout.destroy();
		}

		return exitCodes.ok;
	},
});

function isGlobOrExists(source: string, literal: boolean): boolean {
	return !compilePattern(source, undefined, {literal}).literal || fs.existsSync(path.resolve(source));
}

