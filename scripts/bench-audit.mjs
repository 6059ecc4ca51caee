#!/usr/bin/env node
// Audit log benchmark (run after `npm run build`):
//   1. replay a generated 1 000 000-line audit log through AuditTail (read, parse, validate,
//      seq-check) into the telemetry reducer (dist/telemetry; without it: parse+validate only),
//      in a child process: seconds, CPU seconds (user + system) and peak RSS;
//   2. follow-mode latency from append to event (median of 50 appends);
//   3. logging overhead: `cage encrypt` of BENCH_SIZE (default 1GiB) with and without --no-audit;
//   4. `cage watch --from-start` of a log of BENCH_OVERVIEW_JOBS (default 1 000) jobs and
//      BENCH_LINES lines in a real terminal (tmux), BENCH_OVERVIEW_RUNS times (default 5, after one
//      uncounted): seconds until its jobs table lists every job in its final state, the process's
//      CPU time (user + system) and peak RSS (VmHWM) then; medians and ranges. The machine may be
//      shared: the CPU time says what the watch itself cost when the wall clock waited for others.
//      BENCH_BASELINE_CLI=path/to/other/dist/cli.js runs that build too, alternated with this one.
//
//   node scripts/bench-audit.mjs                BENCH_SIZE=256MiB BENCH_LINES=200000 BENCH_RUNS=3
//   node scripts/bench-audit.mjs --overview     only 4. (npm run bench runs it as its 'overview' section)
//
// Prints ONE JSON object on stdout; progress notes go to stderr. Every figure is measured now.
import {execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {performance} from 'node:perf_hooks';
import {median, parseSize, root, writeSample} from './bench-common.mjs';

const dist = path.join(root, 'dist');
const cli = path.join(dist, 'cli.js');
if (!fs.existsSync(path.join(dist, 'audit', 'tail.js'))) {
	process.stderr.write('bench-audit: dist/ is missing; run `npm run build` first\n');
	process.exit(2);
}

const lineCount = Number(process.env.BENCH_LINES ?? 1_000_000);
const size = parseSize(process.env.BENCH_SIZE ?? '1GiB');
const runs = Number(process.env.BENCH_RUNS ?? 3);
const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'cage-bench-audit-'));
const env = {...process.env, CAGE_CONFIG_DIR: path.join(dir, 'config'), XDG_STATE_HOME: path.join(dir, 'state'), XDG_DATA_HOME: path.join(dir, 'data'), HOME: dir, NO_COLOR: '1', CI: '1'};
const note = text => process.stderr.write(`bench-audit: ${text}\n`);
const round = (value, digits = 3) => Number(value.toFixed(digits));
const {formatAuditLine} = await import(path.join(dist, 'audit', 'format.js'));
const {AuditTail} = await import(path.join(dist, 'audit', 'tail.js'));
const reducerPath = path.join(dist, 'telemetry', 'reducer.js');
const withReducer = fs.existsSync(reducerPath);

/** A realistic log: jobs of 4096 chunks (start, a progress sample, done, a checkpoint every 16 chunks). */
function generateLog(file, lines) {
	const fd = fs.openSync(file, 'w');
	let batch = [];
	let written = 0;
	let ts = Date.UTC(2026, 0, 1);
	let jobIndex = 0;
	const flush = () => {
		fs.writeSync(fd, batch.join(''));
		batch = [];
	};

	const put = event => {
		if (written >= lines) return false;
		batch.push(formatAuditLine(event));
		written++;
		if (batch.length >= 10_000) flush();
		return true;
	};

	while (written < lines) {
		const job = `20260101T000000-${(jobIndex++).toString(16).padStart(6, '0')}`;
		const chunkSize = 16 * 1024 ** 2;
		const chunks = 4096;
		let seq = 0;
		// Version 2, as formatAuditLine writes: every line its own seq, a progress sample's too.
		const send = event => put({...event, job, ts: (ts += 7), seq: seq++});
		send({type: 'job:start', kind: 'encrypt', source: '/data/big.tar', output: '/data/big.tar.age', size: chunks * chunkSize, chunkSize, chunks, chunksDone: 0, bytesDone: 0, jobs: 4, pid: 4242, resumed: false});
		for (let chunk = 0; chunk < chunks && written < lines; chunk++) {
			const start = chunk * chunkSize;
			send({type: 'chunk:start', chunk, start, size: chunkSize, attempt: 1});
			send({type: 'chunk:progress', chunk, bytes: chunkSize / 2, bytesDone: start + chunkSize / 2});
			send({type: 'chunk:done', chunk, start, size: chunkSize, durationMs: 18, attempt: 1, bytesDone: start + chunkSize});
			if (chunk % 16 === 15) send({type: 'job:checkpoint', path: '/data/big.tar.age.checkpoint.json', chunksDone: chunk + 1, bytesDone: start + chunkSize});
		}

		send({type: 'job:done', outcome: 'completed', bytesDone: chunks * chunkSize, durationMs: 80_000});
	}

	flush();
	fs.closeSync(fd);
	return written;
}

/** A log of `jobs` jobs, interleaved as jobs that run at the same time write: `lines` lines in all. */
function generateJobsLog(file, jobs, lines) {
	const fd = fs.openSync(file, 'w');
	const perJob = Math.floor(lines / jobs);
	const chunkSize = 16 * 1024 ** 2;
	const chunks = Math.max(1, Math.ceil((perJob - 2) / 3));
	let ts = Date.now() - 3_600_000;
	const state = Array.from({length: jobs}, (_, index) => ({job: `20261202T000000-${index.toString(16).padStart(6, '0')}`, seq: 0, chunk: 0}));
	// In a log every line has its own seq, a progress sample's too.
	const line = (job, event) => formatAuditLine({...event, job: job.job, ts: (ts += 1), seq: job.seq++});
	let written = 0;
	let batch = [];
	const put = text => {
		batch.push(text);
		written++;
		if (batch.length >= 10_000) {
			fs.writeSync(fd, batch.join(''));
			batch = [];
		}
	};

	for (const job of state) put(line(job, {type: 'job:start', kind: 'encrypt', source: `/data/${job.job}.bin`, output: `/data/${job.job}.bin.age`, size: chunks * chunkSize, chunkSize, chunks, chunksDone: 0, bytesDone: 0, jobs: 4, pid: 4242, resumed: false}));
	// Round robin, a chunk of each job at a time; every tenth job never ends (killed), the rest do.
	for (let chunk = 0; chunk < chunks; chunk++) {
		for (const job of state) {
			const start = chunk * chunkSize;
			put(line(job, {type: 'chunk:start', chunk, start, size: chunkSize, attempt: 1}));
			put(line(job, {type: 'chunk:progress', chunk, bytes: chunkSize / 2, bytesDone: start + chunkSize / 2}));
			put(line(job, {type: 'chunk:done', chunk, start, size: chunkSize, durationMs: 40, attempt: 1, bytesDone: start + chunkSize}));
		}
	}

	for (const [index, job] of state.entries()) if (index % 10 !== 9) put(line(job, {type: 'job:done', outcome: 'completed', bytesDone: chunks * chunkSize, durationMs: 60_000}));
	fs.writeSync(fd, batch.join(''));
	fs.closeSync(fd);
	return written;
}

let overviewRun = 0;
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100;

/** CPU seconds (user + system) of a running process, from /proc/<pid>/stat. */
function cpuSeconds(pid) {
	const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	// The fields after the command name (which may hold spaces) in parentheses: utime is the 12th, stime the 13th.
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/**
 * Seconds until `cage watch --from-start` (the binary `cli`, as users run it) in tmux lists all
 * `jobs` in their final states (the whole log read: nine in ten done, the rest silent), and its CPU
 * time and peak RSS (MiB) then.
 */
async function overviewOpen(cli, file, jobs) {
	// A server of its own per run: one just killed may still be going away on its socket.
	const socket = path.join(dir, `tmux-${overviewRun++}.sock`);
	const tmux = (...args) => execFileSync('tmux', ['-S', socket, ...args], {env, encoding: 'utf8'});
	const variables = ['CAGE_CONFIG_DIR', 'XDG_STATE_HOME', 'XDG_DATA_HOME', 'HOME'].map(name => `${name}=${env[name]}`).join(' ');
	const started = performance.now();
	// PATH first: the launcher line of dist/cli.js runs the `node` it finds there.
	tmux('new-session', '-d', '-x', '120', '-y', '40', '-s', 'overview', `exec env -u CI PATH=${path.dirname(process.execPath)}:${process.env.PATH} ${variables} NO_COLOR=1 TERM=xterm-256color ${cli} watch ${file} --from-start`);
	const pid = Number(tmux('display-message', '-p', '-t', 'overview', '#{pane_pid}').trim());
	try {
		const ended = jobs - Math.floor(jobs / 10);
		const wanted = `Jobs ${jobs} · ${jobs - ended} silent · ${ended} done`;
		for (;;) {
			if (tmux('capture-pane', '-p', '-t', 'overview').includes(wanted)) break;
			if (performance.now() - started > 120_000) throw new Error(`the jobs table did not list ${jobs} jobs within 120 s`);
			await new Promise(resolve => setTimeout(resolve, 20));
		}

		const seconds = (performance.now() - started) / 1000;
		const cpu = cpuSeconds(pid);
		const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
		const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(status)[1]);
		return {seconds, cpuSeconds: cpu, peakRssMiB: peakKiB / 1024, screen: tmux('capture-pane', '-p', '-t', 'overview')};
	} finally {
		tmux('kill-server');
	}
}

/** Median and range of `values`, rounded. */
function spread(values, digits = 3) {
	return {median: round(median(values), digits), range: [round(Math.min(...values), digits), round(Math.max(...values), digits)]};
}

/** Replay in a child process, so its peak RSS is the replay's own. */
async function replay(file) {
	const script = `
		const {AuditTail} = await import(${JSON.stringify(path.join(dist, 'audit', 'tail.js'))});
		const reducer = ${withReducer} ? await import(${JSON.stringify(reducerPath)}) : undefined;
		const state = reducer?.createDashboardState();
		let events = 0, anomalies = 0;
		const started = performance.now();
		const cpu = process.cpuUsage();
		const tail = new AuditTail([process.argv[1]], {fromStart: true, follow: false, onEvent(event) {
			events++;
			if (event.type === 'anomaly') anomalies++;
			if (reducer) reducer.applyEvent(state, event);
		}});
		await tail.start();
		const seconds = (performance.now() - started) / 1000;
		const used = process.cpuUsage(cpu);
		const jobs = state ? state.jobs.size : null;
		process.stdout.write(JSON.stringify({seconds, cpuSeconds: (used.user + used.system) / 1e6, events, anomalies, jobs, maxRssKiB: process.resourceUsage().maxRSS}));
	`;
	const child = spawn(process.execPath, ['--input-type=module', '-e', script, file], {stdio: ['ignore', 'pipe', 'inherit']});
	let out = '';
	child.stdout.on('data', data => (out += data));
	const code = await new Promise(resolve => child.on('close', resolve));
	if (code !== 0) throw new Error(`replay child exited ${code}`);
	return JSON.parse(out);
}

/** Median latency from appendFileSync to the tail's event, over `count` appends. */
async function followLatency(count) {
	const file = path.join(dir, 'follow', 'audit.jsonl');
	fs.mkdirSync(path.dirname(file), {recursive: true});
	fs.writeFileSync(file, '');
	let resolveEvent;
	const tail = new AuditTail([file], {onEvent: () => resolveEvent?.(performance.now())});
	await tail.start();
	const latencies = [];
	for (let seq = 0; seq < count; seq++) {
		// Irregular spacing, like a job's events (some closer than chokidar's 50 ms change throttle).
		await new Promise(resolve => setTimeout(resolve, 20 + Math.floor(Math.random() * 100)));
		const arrived = new Promise(resolve => (resolveEvent = resolve));
		const started = performance.now();
		fs.appendFileSync(file, formatAuditLine({type: 'job:paused', bytesDone: seq, job: 'latency', ts: Date.now(), seq}));
		const timeout = new Promise((_resolve, reject) => setTimeout(() => reject(new Error('no event within 5 s')), 5000));
		latencies.push((await Promise.race([arrived, timeout])) - started);
	}

	await tail.close();
	return {median: median(latencies), max: Math.max(...latencies)};
}

/** Wall-clock seconds of one `cage encrypt`. */
function encryptSeconds(input, recipient, audit) {
	const output = `${input}.age`;
	fs.rmSync(output, {force: true});
	const args = ['encrypt', input, '-r', recipient, '-o', output, '--progress', 'none', ...(audit ? ['--audit-log', path.join(dir, 'state', 'audit.jsonl')] : ['--no-audit'])];
	const started = performance.now();
	execFileSync(cli, args, {env, stdio: ['ignore', 'ignore', 'inherit']});
	return (performance.now() - started) / 1000;
}

if (process.argv.includes('--overview')) {
	try {
		const jobs = Number(process.env.BENCH_OVERVIEW_JOBS ?? 1000);
		const repeats = Math.max(1, Number(process.env.BENCH_OVERVIEW_RUNS ?? 5));
		const builds = [['', cli], ...(process.env.BENCH_BASELINE_CLI ? [['baseline', path.resolve(process.env.BENCH_BASELINE_CLI)]] : [])];
		const log = path.join(dir, 'overview.jsonl');
		note(`generating a log of ${jobs} jobs, ${lineCount} lines`);
		const lines = generateJobsLog(log, jobs, lineCount);
		const runs = Object.fromEntries(builds.map(([name]) => [name, []]));
		// One uncounted round first (the first run of a build also loads its files from disk).
		for (let round = 0; round <= repeats; round++) {
			for (const [name, binary] of builds) {
				note(`${round === 0 ? 'warm-up' : `run ${round}/${repeats}`}: cage watch --from-start in tmux${name ? ` (${name} ${binary})` : ''}`);
				const opened = await overviewOpen(binary, log, jobs);
				if (round > 0) runs[name].push(opened);
			}
		}

		const figures = {overviewJobs: jobs, overviewLines: lines, overviewLogBytes: fs.statSync(log).size, overviewRuns: repeats};
		for (const [name] of builds) {
			const list = runs[name];
			const prefix = name ? `${name}: ` : '';
			note(`${prefix}seconds ${list.map(run => run.seconds.toFixed(2)).join(' ')} · CPU seconds ${list.map(run => run.cpuSeconds.toFixed(2)).join(' ')} · peak RSS MiB ${list.map(run => run.peakRssMiB.toFixed(0)).join(' ')}`);
			const seconds = spread(list.map(run => run.seconds));
			const cpu = spread(list.map(run => run.cpuSeconds), 2);
			const rss = spread(list.map(run => run.peakRssMiB), 1);
			Object.assign(figures, {
				[`${prefix}overviewSeconds`]: seconds.median,
				[`${prefix}overviewSecondsRange`]: seconds.range,
				[`${prefix}overviewCpuSeconds`]: cpu.median,
				[`${prefix}overviewCpuSecondsRange`]: cpu.range,
				[`${prefix}overviewPeakRssMiB`]: rss.median,
				[`${prefix}overviewPeakRssMiBRange`]: rss.range,
			});
		}

		figures.loadAverage = round(os.loadavg()[0], 2);
		figures.cpus = os.availableParallelism();
		process.stdout.write(`${JSON.stringify(figures)}\n`);
	} finally {
		fs.rmSync(dir, {recursive: true, force: true});
	}

	process.exit(0);
}

try {
	const log = path.join(dir, 'replay.jsonl');
	note(`generating a ${lineCount}-line audit log`);
	const generated = generateLog(log, lineCount);
	const logBytes = fs.statSync(log).size;
	note(`replaying it (${withReducer ? 'parse + validate + telemetry reducer' : 'parse + validate only: no dist/telemetry'})`);
	const replayed = await replay(log);
	if (replayed.anomalies !== 0) throw new Error(`the generated log raised ${replayed.anomalies} anomalies`);

	note('measuring follow latency (50 appends)');
	const latency = await followLatency(50);

	note(`encrypting ${size} bytes, ${runs} runs with the audit log and ${runs} without, alternating`);
	const input = path.join(dir, 'input.bin');
	writeSample(input, size);
	const key = path.join(dir, 'key.txt');
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	const withAudit = [];
	const withoutAudit = [];
	encryptSeconds(input, recipient, false); // Warm the page cache.
	for (let run = 0; run < runs; run++) {
		withAudit.push(encryptSeconds(input, recipient, true));
		withoutAudit.push(encryptSeconds(input, recipient, false));
	}

	const auditLines = fs.readFileSync(path.join(dir, 'state', 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).length / runs;
	const on = median(withAudit);
	const off = median(withoutAudit);
	process.stdout.write(
		`${JSON.stringify({
			replayLines: generated,
			replayBytes: logBytes,
			replayEvents: replayed.events,
			replayIntoReducer: withReducer,
			replaySeconds: round(replayed.seconds),
			replayCpuSeconds: round(replayed.cpuSeconds),
			replayLinesPerSecond: Math.round(generated / replayed.seconds),
			replayPeakRssMiB: round(replayed.maxRssKiB / 1024, 1),
			followLatencyMsMedian: round(latency.median, 1),
			followLatencyMsMax: round(latency.max, 1),
			encryptBytes: size,
			encryptRuns: runs,
			auditLinesPerEncrypt: Math.round(auditLines),
			encryptSecondsWithAudit: round(on),
			encryptSecondsWithoutAudit: round(off),
			auditOverheadPercent: round(((on - off) / off) * 100, 2),
			cpus: os.availableParallelism(),
		})}\n`,
	);
} finally {
	fs.rmSync(dir, {recursive: true, force: true});
}
