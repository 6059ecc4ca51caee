#!/usr/bin/env node
// `cage sweep` benchmark (run after `npm run build`): generated JSON Lines and one JSON document
// (a top-level array of the same records) of BENCH_SWEEP_SIZE each, swept with -j 1 and -j 2,
// against `jq empty` and stream-json's token parser (scripts/bench-stream-json.mjs) on the same
// files in the same run. Per tool: MB/s (10^6 bytes) at the median wall time of BENCH_RUNS runs
// and the range, MB/s of CPU time (user + system) at the median, the highest peak RSS (GNU time
// %M, else /proc/<pid>/status VmHWM polled). jq 1.6 holds a whole document in memory (about 12
// times its size): it is not run on a document larger than BENCH_JQ_MAX (default 512MiB). For cage
// also the CPU/wall ratio (how many cores a run kept busy, median and range). The peers, much
// slower, can run fewer times (BENCH_PEER_RUNS, default BENCH_RUNS).
//
//   node scripts/bench-sweep.mjs            BENCH_SWEEP_SIZE=512MiB BENCH_RUNS=3 BENCH_PEER_RUNS=3 BENCH_DIR=/dev/shm
//
// Prints ONE JSON object on stdout; progress notes go to stderr. Every figure is measured now.
import {Buffer} from 'node:buffer';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {median, parseSize, root, pollPeakRss} from './bench-common.mjs';

const cli = path.join(root, 'dist', 'cli.js');
if (!fs.existsSync(path.join(root, 'dist', 'sweep', 'scanner.js'))) {
	process.stderr.write('bench-sweep: dist/ is missing; run `npm run build` first\n');
	process.exit(2);
}

const size = parseSize(process.env.BENCH_SWEEP_SIZE ?? '512MiB');
const jqMax = parseSize(process.env.BENCH_JQ_MAX ?? '512MiB');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const peerRuns = Math.min(runs, Math.max(1, Number(process.env.BENCH_PEER_RUNS ?? runs)));
const shm = '/dev/shm';
const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? (fs.existsSync(shm) ? shm : os.tmpdir()), 'cage-bench-sweep-'));
const env = {...process.env, CAGE_CONFIG_DIR: path.join(dir, 'config'), XDG_STATE_HOME: path.join(dir, 'state'), HOME: dir, NO_COLOR: '1', CI: '1'};
const gnuTime = fs.existsSync('/usr/bin/time');
const jq = fs.existsSync('/usr/bin/jq') ? '/usr/bin/jq' : undefined;
const note = text => process.stderr.write(`${text}\n`);
const cleanup = () => fs.rmSync(dir, {recursive: true, force: true});
process.on('SIGINT', () => (cleanup(), process.exit(130)));
process.on('SIGTERM', () => (cleanup(), process.exit(143)));

/** Records of varied shape: strings with escapes and non-ASCII, numbers, nesting, 40 distinct keys. */
function writeFiles(jsonl, json) {
	const lines = fs.openSync(jsonl, 'w');
	const array = fs.openSync(json, 'w');
	fs.writeSync(array, '[\n');
	let written = 0;
	let batch = [];
	for (let i = 0; written < size; i++) {
		const record = {
			id: i,
			name: `user ${i}`,
			email: `user${i}@example.com`,
			bio: `line one\nline "two" — é漢字 ${i % 997}`,
			score: (i * 7919) % 100_003 / 7.0,
			active: i % 3 === 0,
			tags: ['alpha', 'beta', 'gamma'].slice(0, i % 4),
			address: {street: `${i % 500} Main St`, zip: String(10_000 + (i % 89_999)), geo: [i % 180, -(i % 90)]},
			[`extra${i % 40}`]: i % 5 === 0 ? null : {nested: {deeper: [i, i + 1, {leaf: true}]}},
		};
		batch.push(JSON.stringify(record));
		if (batch.length === 5000) {
			const text = batch.join('\n') + '\n';
			fs.writeSync(lines, text);
			fs.writeSync(array, (written > 0 ? ',\n' : '') + batch.join(',\n'));
			written += Buffer.byteLength(text);
			batch = [];
		}
	}

	fs.writeSync(array, '\n]\n');
	fs.closeSync(lines);
	fs.closeSync(array);
}

/** Run a command; {seconds, peak bytes, status}. */
async function measure(command, args) {
	const started = process.hrtime.bigint();
	const child = spawn(gnuTime ? '/usr/bin/time' : command, gnuTime ? ['-f', '%M %U %S', command, ...args] : args, {env, stdio: ['ignore', 'ignore', 'pipe']});
	let stderr = '';
	child.stderr.on('data', data => (stderr += data));
	const poll = gnuTime ? undefined : pollPeakRss(child, 20);
	const status = await new Promise(resolve => child.on('close', resolve));
	const polled = poll?.stop() ?? 0;
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	const lines = stderr.trim().split('\n');
	const [rss, user, system] = gnuTime ? lines.at(-1).split(' ').map(Number) : [0, Number.NaN, Number.NaN];
	const peak = gnuTime ? rss * 1024 : polled;
	return {seconds, cpu: user + system, peak, status, stderr: (gnuTime ? lines.slice(0, -1) : lines).join('\n')};
}

const figures = {};
try {
	const jsonl = path.join(dir, 'records.jsonl');
	const json = path.join(dir, 'document.json');
	note(`bench-sweep: writing ${(size / 2 ** 20).toFixed(0)} MiB of JSON Lines and one JSON document of the same records in ${dir}`);
	writeFiles(jsonl, json);
	const tools = {
		'cage sweep -j 1': file => [process.execPath, [cli, 'sweep', file, '-j', '1', '--progress', 'none', '--no-audit']],
		'cage sweep -j 2': file => [process.execPath, [cli, 'sweep', file, '-j', '2', '--progress', 'none', '--no-audit']],
		...(jq ? {'jq empty': file => [jq, ['empty', file]]} : {}),
		'stream-json': file => [process.execPath, [path.join(root, 'scripts', 'bench-stream-json.mjs'), file]],
	};
	figures.cpus = os.cpus().length;
	figures.loadAverageAtStart = Math.round(os.loadavg()[0] * 100) / 100;
	figures.runs = runs;
	figures.peerRuns = peerRuns;
	for (const [label, file] of [['jsonl', jsonl], ['json', json]]) {
		const bytes = fs.statSync(file).size;
		figures[`${label} bytes`] = bytes;
		const samples = Object.fromEntries(Object.keys(tools).map(tool => [tool, []]));
		// Alternate the tools, so a slow moment of a shared machine does not land on one of them.
		const skip = (tool, run) => (tool === 'jq empty' && label === 'json' && bytes > jqMax) || (!tool.startsWith('cage') && run >= peerRuns);
		for (let run = 0; run < runs; run++) {
			for (const [tool, command] of Object.entries(tools)) {
				if (skip(tool, run)) continue;
				const result = await measure(...command(file));
				if (result.status !== 0) throw new Error(`${tool} ${file} exited ${result.status}: ${result.stderr.slice(-1000)}`);
				samples[tool].push(result);
			}
		}

		for (const [tool, list] of Object.entries(samples)) {
			if (list.length === 0) {
				figures[`${label}: ${tool}`] = `not run (a ${Math.round(bytes / 2 ** 20)} MiB document; BENCH_JQ_MAX)`;
				continue;
			}

			const seconds = median(list.map(result => result.seconds));
			const cpu = median(list.map(result => result.cpu));
			const peak = Math.max(...list.map(result => result.peak));
			const rate = value => Math.round(bytes / 1e6 / value);
			const range = `${rate(Math.max(...list.map(result => result.seconds)))}–${rate(Math.min(...list.map(result => result.seconds)))}`;
			figures[`${label}: ${tool} MB/s`] = rate(seconds);
			figures[`${label}: ${tool} MB/s range`] = range;
			figures[`${label}: ${tool} MB/s of CPU time`] = Number.isNaN(cpu) ? null : rate(cpu);
			figures[`${label}: ${tool} peak RSS MiB`] = Math.round(peak / 2 ** 20);
			const cpuRange = `${rate(Math.max(...list.map(result => result.cpu)))}–${rate(Math.min(...list.map(result => result.cpu)))}`;
			const ratios = list.map(result => result.cpu / result.seconds);
			const ratio = `${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
			if (!Number.isNaN(cpu)) figures[`${label}: ${tool} MB/s of CPU time range`] = cpuRange;
			if (tool.startsWith('cage') && !Number.isNaN(cpu)) figures[`${label}: ${tool} CPU/wall`] = ratio;
			note(`  ${label.padEnd(5)} ${tool.padEnd(16)} ${String(rate(seconds)).padStart(5)} MB/s (${range}; CPU ${Number.isNaN(cpu) ? '?' : `${rate(cpu)} MB/s (${cpuRange}), CPU/wall ${ratio}`})  (runs ${list.map(result => `${result.seconds.toFixed(2)}s/${result.cpu.toFixed(2)}cpu`).join(' ')})  peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
		}
	}
	figures.loadAverageAtEnd = Math.round(os.loadavg()[0] * 100) / 100;
} finally {
	cleanup();
}

process.stdout.write(`${JSON.stringify(figures)}\n`);
