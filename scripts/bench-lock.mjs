#!/usr/bin/env node
// `cage lock` benchmark (run after `npm run build`): one BENCH_SIZE file locked in place three
// ways in the same run, each from a fresh copy of the same sample, in turn:
//   encrypt+rm       `cage encrypt FILE -o FILE.age` then removing FILE (what lock replaces)
//   lock --no-verify `cage lock FILE --no-verify`
//   lock             `cage lock FILE` (the read-back: O_DIRECT where the file system allows it)
// Median wall seconds of BENCH_RUNS runs. The goals (README): lock --no-verify at most 5 % over
// encrypt+rm, lock with its read-back at most 1.7x.
//
//   node scripts/bench-lock.mjs      BENCH_SIZE=1GiB BENCH_RUNS=3 BENCH_DIR=<a disk; default the temp directory>
//
// Prints ONE JSON object on stdout; progress notes go to stderr. Every figure is measured now.
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {cleanUpOnSignals, median, parseSize, root, writeSample} from './bench-common.mjs';

const cli = path.join(root, 'dist', 'cli.js');
const size = parseSize(process.env.BENCH_SIZE ?? '1GiB');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
// On a disk by default: on tmpfs there is no device to read back from.
const dir = fs.mkdtempSync(path.join(process.env.BENCH_LOCK_DIR ?? os.tmpdir(), 'cage-bench-lock-'));
const env = {...process.env, CAGE_CONFIG_DIR: path.join(dir, 'config'), XDG_STATE_HOME: path.join(dir, 'state'), XDG_DATA_HOME: path.join(dir, 'data'), HOME: dir, NO_COLOR: '1', CI: '1'};
const note = text => process.stderr.write(`${text}\n`);
const cleanup = () => fs.rmSync(dir, {recursive: true, force: true});
cleanUpOnSignals(cleanup);

try {
	const key = path.join(dir, 'key.txt');
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	const sample = path.join(dir, 'sample');
	const file = path.join(dir, 'work', 'data.bin');
	fs.mkdirSync(path.dirname(file));
	note(`bench-lock: writing a ${size} byte sample in ${dir}`);
	writeSample(sample, size);
	const common = ['--progress', 'none', '--no-audit'];
	const time = (fn) => {
		fs.rmSync(`${file}.age`, {force: true});
		fs.copyFileSync(sample, file);
		// The copy's dirty pages reach the disk before the clock starts, for every variant alike.
		spawnSync('sync');
		const started = process.hrtime.bigint();
		fn();
		return Number(process.hrtime.bigint() - started) / 1e9;
	};

	const run = args => {
		const result = spawnSync(process.execPath, [cli, ...args], {env, stdio: ['ignore', 'ignore', 'pipe']});
		if (result.status !== 0) throw new Error(`cage ${args.join(' ')} failed: ${result.stderr}`);
	};

	const variants = {
		'encrypt+rm': () => {
			run(['encrypt', file, '-o', `${file}.age`, '-r', recipient, ...common]);
			fs.rmSync(file);
		},
		'lock --no-verify': () => run(['lock', file, '-r', recipient, '--no-verify', ...common]),
		lock: () => run(['lock', file, '-r', recipient, ...common]),
	};
	const times = Object.fromEntries(Object.keys(variants).map(name => [name, []]));
	for (let index = 0; index < runs; index++) {
		for (const [name, fn] of Object.entries(variants)) {
			const seconds = time(fn);
			times[name].push(seconds);
			note(`bench-lock: run ${index + 1}/${runs} ${name}: ${seconds.toFixed(2)} s`);
		}
	}

	const [plain, noVerify, verified] = Object.values(times).map(median);
	const help = spawnSync(process.execPath, [cli, 'lock', '--help'], {env, cwd: path.dirname(file), encoding: 'utf8'}).stdout;
	const readBack = /Read-back: here \(the current directory\) from the (device|page cache)/.exec(help)?.[1] ?? 'unknown';
	process.stdout.write(
		`${JSON.stringify({
			bytes: size,
			runs,
			'encrypt+rm seconds': plain,
			'lock --no-verify seconds': noVerify,
			'lock seconds': verified,
			'lock --no-verify / encrypt+rm': noVerify / plain,
			'lock / encrypt+rm': verified / plain,
			'read-back from': readBack,
		})}\n`,
	);
} finally {
	cleanup();
}
