#!/usr/bin/env node
// `cage verify` and random access benchmark (run after `npm run build`):
//   - cage verify against `age -d -o /dev/null` on the same BENCH_VERIFY_SIZE (1 GiB) file made by
//     age, on tmpfs: median wall seconds of BENCH_RUNS runs, CPU seconds (user + system) beside
//     them, peak RSS, and the ratio cage / age (goal <= 0.5); beside them the floor of any node
//     program here (scripts/floors.mjs read: node's cipher over the same bytes on every core,
//     nothing else), run in turn with the two;
//   - a 1 MiB range from the middle of a BENCH_RANGE_SIZE (4 GiB) file: `cage decrypt --offset
//     --length` to stdout, its time beyond start-up (`cage decrypt --help`: the process, the CLI
//     and the decrypt code loaded; goal < 50 ms), checked against the plaintext.
//
//   node scripts/bench-verify.mjs            BENCH_VERIFY_SIZE=256MiB BENCH_RANGE_SIZE=1GiB BENCH_RUNS=3
//
// Prints ONE JSON object on stdout; progress notes go to stderr. Every figure is measured now; the
// files are deleted at the end (and on Ctrl-C).
import {Buffer} from 'node:buffer';
import {execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {cleanUpOnSignals, hasRoom, median, parseSize, root, writeSample, pollPeakRss} from './bench-common.mjs';

const cli = path.join(root, 'dist', 'cli.js');
const size = parseSize(process.env.BENCH_VERIFY_SIZE ?? process.env.BENCH_SIZE ?? '1GiB');
const rangeSize = parseSize(process.env.BENCH_RANGE_SIZE ?? process.env.BENCH_BIG ?? '4GiB');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const shm = '/dev/shm';
const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? (fs.existsSync(shm) ? shm : os.tmpdir()), 'cage-bench-verify-'));
// The 4 GiB file goes to the temp directory on disk unless tmpfs has room for it and its plaintext.
const bigDir = hasRoom(dir, 2.2 * rangeSize) ? dir : fs.mkdtempSync(path.join(os.tmpdir(), 'cage-bench-verify-big-'));
const env = {...process.env, CAGE_CONFIG_DIR: path.join(dir, 'config'), XDG_STATE_HOME: path.join(dir, 'state'), XDG_DATA_HOME: path.join(dir, 'data'), HOME: dir, NO_COLOR: '1', CI: '1'};
const gnuTime = fs.existsSync('/usr/bin/time');
const note = text => process.stderr.write(`${text}\n`);
const cleanup = () => {
	fs.rmSync(dir, {recursive: true, force: true});
	fs.rmSync(bigDir, {recursive: true, force: true});
};
cleanUpOnSignals(cleanup);

/** Run a command: wall seconds, CPU seconds (user + system), peak RSS bytes (GNU time, else /proc polled), exit status. */
async function measure(command, args, {stdout} = {}) {
	const started = process.hrtime.bigint();
	const child = spawn(gnuTime ? '/usr/bin/time' : command, gnuTime ? ['-f', '%e %U %S %M', command, ...args] : args, {env, stdio: ['ignore', stdout === undefined ? 'ignore' : fs.openSync(stdout, 'w'), 'pipe']});
	let stderr = '';
	child.stderr.on('data', data => (stderr += data));
	const poll = gnuTime ? undefined : pollPeakRss(child, 10);
	const status = await new Promise(resolve => child.on('close', resolve));
	const polled = poll?.stop() ?? 0;
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	if (!gnuTime) return {seconds, cpu: 0, peak: polled, status, stderr};
	const lines = stderr.trim().split('\n');
	const [, user, system, kib] = lines.at(-1).split(' ').map(Number);
	return {seconds, cpu: user + system, peak: kib * 1024, status, stderr: lines.slice(0, -1).join('\n')};
}

/**
 * The commands run in turn, `count` rounds after one uncounted, so that a slow spell of this VM
 * falls on all of them alike: each one's median and range of wall seconds, median CPU, peak RSS.
 */
async function alternating(commands, count = runs) {
	const all = Object.fromEntries(Object.keys(commands).map(name => [name, []]));
	for (let round = -1; round < count; round++) {
		for (const [name, [command, args, options]] of Object.entries(commands)) {
			const result = await measure(command, args, options);
			if (result.status !== 0) throw new Error(`${name} failed (exit ${result.status}): ${result.stderr}`);
			if (round >= 0) all[name].push(result);
		}
	}

	return Object.fromEntries(
		Object.entries(all).map(([name, results]) => {
			const seconds = results.map(each => each.seconds);
			return [name, {seconds: median(seconds), min: Math.min(...seconds), max: Math.max(...seconds), cpu: median(results.map(each => each.cpu)), peak: Math.max(...results.map(each => each.peak))}];
		}),
	);
}

const round = (value, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;
const figures = {};
try {
	const key = path.join(dir, 'key.txt');
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();

	note(`bench-verify: ${size} bytes, ${os.availableParallelism()} cores, ${runs} runs`);
	const plain = path.join(dir, 'plain.bin');
	const file = path.join(dir, 'verify.age');
	writeSample(plain, size);
	execFileSync('age', ['-r', recipient, '-o', file, plain]);
	fs.rmSync(plain);
	// cage runs as its users run it: the launcher (dist/cli.js), which sets the allocator's trim threshold.
	// The floor: node and its cipher alone over the same bytes on every core (scripts/floors.mjs read),
	// with the allocator setting cage's launcher uses.
	const floorEnv = {MALLOC_TRIM_THRESHOLD_: '268435456'};
	// The tag floor: the same reads with each tag computed by libsodium, nothing decrypted, which is
	// what cage verify does where sodium-native loads. Start-up: node alone, and cage verify of a
	// one-block file (the CLI, the identity, the header, no workers).
	const tiny = path.join(dir, 'tiny.age');
	fs.writeFileSync(path.join(dir, 'tiny.bin'), 'tiny');
	execFileSync('age', ['-r', recipient, '-o', tiny, path.join(dir, 'tiny.bin')]);
	const floorArgs = mode => ['env', [...Object.entries(floorEnv).map(([name, value]) => `${name}=${value}`), process.execPath, path.join(root, 'scripts', 'floors.mjs'), mode, file]];
	const {age, cage, floor, tags, node, start: small} = await alternating({
		age: ['age', ['-d', '-i', key, '-o', '/dev/null', file]],
		cage: [cli, ['verify', file, '-i', key, '--progress', 'none', '--no-audit']],
		floor: floorArgs('read'),
		tags: floorArgs('tags'),
		node: [process.execPath, ['-e', '0']],
		start: [cli, ['verify', tiny, '-i', key, '--progress', 'none', '--no-audit']],
	});
	Object.assign(figures, {
		'verify bytes': size,
		'age -d -o /dev/null: s': round(age.seconds),
		'age -d -o /dev/null: cpu s': round(age.cpu),
		'age -d -o /dev/null: peak RSS MiB': round(age.peak / 2 ** 20, 1),
		'cage verify: s': round(cage.seconds),
		'cage verify: cpu s': round(cage.cpu),
		'cage verify: peak RSS MiB': round(cage.peak / 2 ** 20, 1),
		'age -d -o /dev/null: range s': `${round(age.min)}-${round(age.max)}`,
		'cage verify: range s': `${round(cage.min)}-${round(cage.max)}`,
		'cipher floor (node, its cipher, every core): s': round(floor.seconds),
		'cipher floor: range s': `${round(floor.min)}-${round(floor.max)}`,
		'cage verify / age -d (wall, goal <= 0.5)': round(cage.seconds / age.seconds),
		'cipher floor / age -d (wall: the best a node program can do here)': round(floor.seconds / age.seconds),
		'cage verify / cipher floor (wall)': round(cage.seconds / floor.seconds),
		'tag floor (node, libsodium tags, every core): s': round(tags.seconds),
		'tag floor: range s': `${round(tags.min)}-${round(tags.max)}`,
		'tag floor / age -d (wall: the best a node program checking tags can do here)': round(tags.seconds / age.seconds),
		'cage verify / tag floor (wall)': round(cage.seconds / tags.seconds),
		'node -e 0: s': round(node.seconds),
		'cage verify of a 4-byte file: s': round(small.seconds),
	});
	fs.rmSync(file);

	note(`bench-verify: a 1 MiB range of a ${rangeSize}-byte file in ${bigDir}`);
	const bigPlain = path.join(bigDir, 'big.bin');
	const big = path.join(bigDir, 'big.age');
	writeSample(bigPlain, rangeSize);
	execFileSync('age', ['-r', recipient, '-o', big, bigPlain]);
	const offset = Math.floor(rangeSize / 2) - 12_345;
	const length = 1024 * 1024;
	const piece = path.join(dir, 'piece.bin');
	// Short runs: more of them, so that the difference of two medians means something on a busy machine.
	const short = Math.max(runs, 9);
	// Start-up: the process, the CLI and the decrypt command's code loaded (its help printed).
	// Run in turn: start-up (the process, the CLI and the decrypt command's code loaded: its help
	// printed), the range's fixed part (the header opened and the last block authenticated), the range.
	// The range runs last in each round, so the piece left on disk is its output.
	const {help: start, opened, range} = await alternating(
		{
			help: [cli, ['decrypt', '--help']],
			opened: [cli, ['decrypt', big, '-i', key, '--offset', String(offset), '--length', '0'], {stdout: piece}],
			range: [cli, ['decrypt', big, '-i', key, '--offset', String(offset), '--length', String(length)], {stdout: piece}],
		},
		short,
	);
	const expected = Buffer.alloc(length);
	const fd = fs.openSync(bigPlain, 'r');
	fs.readSync(fd, expected, 0, length, offset);
	fs.closeSync(fd);
	Object.assign(figures, {
		'range file bytes': rangeSize,
		'start-up (cage decrypt --help): s': round(start.seconds),
		'header and last block only (--length 0): s': round(opened.seconds),
		'1 MiB range from the middle: s': round(range.seconds),
		'1 MiB range beyond start-up: ms (goal < 50)': round((range.seconds - start.seconds) * 1000, 1),
		'1 MiB range beyond start-up: cpu ms': round((range.cpu - start.cpu) * 1000, 1),
		'1 MiB range: peak RSS MiB': round(range.peak / 2 ** 20, 1),
		'1 MiB range equals the plaintext': fs.readFileSync(piece).equals(expected),
	});
} finally {
	cleanup();
}

process.stdout.write(`${JSON.stringify(figures)}\n`);
