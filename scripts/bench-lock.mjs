#!/usr/bin/env node
// `cage lock` / `cage unlock` benchmark (run after `npm run build`): one BENCH_SIZE file locked and
// unlocked in place several ways in the same run, each from a fresh copy of the same sample:
//   encrypt+rm          `cage encrypt FILE -o FILE.age` then removing FILE (what lock replaces)
//   lock --no-verify    `cage lock FILE --no-verify`
//   lock                `cage lock FILE` (the read-back: O_DIRECT where the file system allows it)
//   lock --low-space    `cage lock FILE --low-space` (back to front, each chunk read back before the cut)
//   unlock              `cage unlock FILE.age` (backupOnUnlock off)
//   unlock --low-space  `cage unlock FILE.age --low-space` (every block authenticated first, then back to front)
// The variants run in turn, their order rotated every round so that none always comes first or
// last on a machine whose load drifts. For each: wall seconds and CPU seconds (user + sys of the
// process, GNU time), medians and ranges over BENCH_RUNS rounds, and the ratios the goals are
// about (README): lock --no-verify at most 5 % over encrypt+rm, lock at most 1.7x encrypt+rm,
// lock --low-space at most 25 % over lock. A ratio is the median of the per-round ratios (each
// round's variants ran next to each other), with its range.
//
//   node scripts/bench-lock.mjs      BENCH_SIZE=1GiB BENCH_RUNS=5 BENCH_LOCK_DIR=<a disk; default the temp directory>
//                                    BENCH_LOCK_ONLY=lock,lock --low-space (a comma list of variants)
//
// Prints ONE JSON object on stdout; progress notes go to stderr. Every figure is measured now.
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {cleanUpOnSignals, median, parseSize, root, writeSample} from './bench-common.mjs';

const cli = path.join(root, 'dist', 'cli.js');
const size = parseSize(process.env.BENCH_SIZE ?? '1GiB');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
// On a disk by default: on tmpfs there is no device to read back from.
const dir = fs.mkdtempSync(path.join(process.env.BENCH_LOCK_DIR ?? os.tmpdir(), 'cage-bench-lock-'));
const env = {...process.env, CAGE_CONFIG_DIR: path.join(dir, 'config'), XDG_STATE_HOME: path.join(dir, 'state'), XDG_DATA_HOME: path.join(dir, 'data'), HOME: dir, NO_COLOR: '1', CI: '1'};
const note = text => process.stderr.write(`${text}\n`);
const cleanup = () => fs.rmSync(dir, {recursive: true, force: true});
cleanUpOnSignals(cleanup);
const gnuTime = fs.existsSync('/usr/bin/time');

/** Run cage; its wall and CPU seconds (CPU: GNU time's user + sys, else NaN). */
function run(args) {
	const result = gnuTime
		? spawnSync('/usr/bin/time', ['-f', 'TIMES %e %U %S', process.execPath, cli, ...args], {env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8'})
		: spawnSync(process.execPath, [cli, ...args], {env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8'});
	if (result.status !== 0) throw new Error(`cage ${args.join(' ')} failed: ${result.stderr}`);
	const times = /TIMES ([\d.]+) ([\d.]+) ([\d.]+)/.exec(result.stderr ?? '');
	return {cpu: times ? Number(times[2]) + Number(times[3]) : Number.NaN};
}

const range = values => [Math.min(...values), Math.max(...values)].map(value => Math.round(value * 1000) / 1000);
const round = value => Math.round(value * 1000) / 1000;

try {
	const key = path.join(dir, 'key.txt');
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	execFileSync(process.execPath, [cli, 'config', 'set', 'backupOnUnlock', 'off'], {env, stdio: 'ignore'});
	const sample = path.join(dir, 'sample');
	const sampleAge = path.join(dir, 'sample.age');
	const file = path.join(dir, 'work', 'data.bin');
	fs.mkdirSync(path.dirname(file));
	note(`bench-lock: writing a ${size} byte sample in ${dir}`);
	writeSample(sample, size);
	execFileSync(process.execPath, [cli, 'encrypt', sample, '-o', sampleAge, '-r', recipient, '--progress', 'none', '--no-audit'], {env});
	const common = ['--progress', 'none', '--no-audit'];
	const fresh = locked => {
		fs.rmSync(`${file}.age`, {force: true});
		fs.rmSync(file, {force: true});
		fs.copyFileSync(locked ? sampleAge : sample, locked ? `${file}.age` : file);
		// The copy's dirty pages reach the disk before the clock starts, for every variant alike.
		spawnSync('sync');
	};

	const variants = {
		'encrypt+rm': {
			locked: false,
			fn() {
				const {cpu} = run(['encrypt', file, '-o', `${file}.age`, '-r', recipient, ...common]);
				fs.rmSync(file);
				return cpu;
			},
		},
		'lock --no-verify': {locked: false, fn: () => run(['lock', file, '-r', recipient, '--no-verify', ...common]).cpu},
		lock: {locked: false, fn: () => run(['lock', file, '-r', recipient, ...common]).cpu},
		'lock --low-space': {locked: false, fn: () => run(['lock', file, '-r', recipient, '--low-space', ...common]).cpu},
		unlock: {locked: true, fn: () => run(['unlock', `${file}.age`, '-i', key, ...common]).cpu},
		'unlock --low-space': {locked: true, fn: () => run(['unlock', `${file}.age`, '-i', key, '--low-space', ...common]).cpu},
	};
	const only = process.env.BENCH_LOCK_ONLY?.split(',').map(name => name.trim());
	const names = Object.keys(variants).filter(name => !only || only.includes(name));
	const wall = Object.fromEntries(names.map(name => [name, []]));
	const cpu = Object.fromEntries(names.map(name => [name, []]));
	for (let round = 0; round < runs; round++) {
		const order = names.map((_, index) => names[(index + round) % names.length]);
		for (const name of order) {
			const variant = variants[name];
			fresh(variant.locked);
			const started = process.hrtime.bigint();
			const seconds = variant.fn();
			const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
			wall[name].push(elapsed);
			cpu[name].push(seconds);
			note(`bench-lock: round ${round + 1}/${runs} ${name}: ${elapsed.toFixed(2)} s wall, ${seconds.toFixed(2)} s CPU`);
		}
	}

	const figures = {bytes: size, runs, 'load average at the end': os.loadavg().map(round)};
	for (const name of names) {
		figures[`${name} wall seconds`] = round(median(wall[name]));
		figures[`${name} wall range`] = range(wall[name]);
		figures[`${name} CPU seconds`] = round(median(cpu[name]));
		figures[`${name} CPU range`] = range(cpu[name]);
	}

	// The per-round ratios: each round's two variants ran close together.
	const ratio = (a, b, label) => {
		if (!names.includes(a) || !names.includes(b)) return;
		for (const [kind, table] of [['wall', wall], ['CPU', cpu]]) {
			const ratios = table[a].map((value, index) => value / table[b][index]);
			figures[`${label} (${kind})`] = round(median(ratios));
			figures[`${label} (${kind}) range`] = range(ratios);
		}
	};

	ratio('lock --no-verify', 'encrypt+rm', 'lock --no-verify / encrypt+rm');
	ratio('lock', 'encrypt+rm', 'lock / encrypt+rm');
	ratio('lock --low-space', 'lock', 'lock --low-space / lock');
	ratio('unlock --low-space', 'unlock', 'unlock --low-space / unlock');
	const help = spawnSync(process.execPath, [cli, 'lock', '--help'], {env, cwd: path.dirname(file), encoding: 'utf8'}).stdout;
	figures['read-back from'] = /Read-back: here \(the current directory\) from the (device|page cache)/.exec(help)?.[1] ?? 'unknown';
	process.stdout.write(`${JSON.stringify(figures)}\n`);
} finally {
	cleanup();
}
