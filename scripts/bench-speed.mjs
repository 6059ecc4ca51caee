#!/usr/bin/env node
// cage's speed goals (issue #18), each measured in this run against its peer or floor:
//
//   node scripts/bench-speed.mjs          1 GiB and 4 GiB on tmpfs (/dev/shm), 3 alternated runs each
//   BENCH_SPEED_SIZES=256MiB,1GiB         other sizes      BENCH_SPEED_RUNS=5   more runs
//   BENCH_DIR=/some/dir                   another place (it needs 2.1x the largest size free)
//
// For every size: the cipher floor (node's chacha20-poly1305 over the same bytes, as cage calls
// it, on one and on two threads), then age and cage alternately, encrypting and decrypting, with
// wall time, user and system CPU and peak RSS from GNU time. Then start-up (node -e 0, cage
// --version, cage encrypt of an empty file), stdin to stdout, and a batch of 1 000 small files
// against age run once per file. Beside each, in the same rounds, its floor (scripts/floors.mjs:
// the least a node program does for that job here, with nothing of cage in it), so that a goal
// cage misses shows what stops it. The last line is the figures as JSON (bench.mjs records them).
import {execFileSync, spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {cleanUpOnSignals, hasRoom, median, parseSize, root, writeSample} from './bench-common.mjs';

const cli = path.join(root, 'dist/cli.js');
const GiB = 1024 ** 3;
const sizes = (process.env.BENCH_SPEED_SIZES ?? '1GiB,4GiB').split(',').map(size => parseSize(size));
const runs = Math.max(1, Number(process.env.BENCH_SPEED_RUNS ?? 3));
const base = process.env.BENCH_DIR ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
const dir = fs.mkdtempSync(path.join(base, 'cage-bench-speed-'));
cleanUpOnSignals(() => fs.rmSync(dir, {recursive: true, force: true}));
const env = {...process.env, CAGE_CONFIG_DIR: path.join(dir, 'config'), XDG_STATE_HOME: path.join(dir, 'state'), XDG_DATA_HOME: path.join(dir, 'data'), NO_COLOR: '1'};
const figures = {};
const label = bytes => (bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / 1024 ** 2} MiB`);

/** Run a command under GNU time: {wall, user, sys, rss (MiB)}; `input`/`output` are files for stdin/stdout. */
async function timed(command, args, {input, output} = {}) {
	const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', command, ...args], {env, stdio: [input ? fs.openSync(input, 'r') : 'ignore', output ? fs.openSync(output, 'w') : 'ignore', 'pipe']});
	let stderr = '';
	child.stderr.on('data', data => (stderr += data));
	const status = await new Promise(resolve => child.on('close', resolve));
	const last = stderr.trim().split('\n').at(-1) ?? '';
	if (status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${status}: ${stderr.slice(-1000)}`);
	const [wall, user, sys, rss] = last.split(' ').map(Number);
	return {wall, user, sys, rss: rss / 1024};
}

/** Medians of a list of timed runs (and the range of the wall times). */
function summary(list) {
	const pick = key => median(list.map(run => run[key]));
	return {wall: pick('wall'), user: pick('user'), sys: pick('sys'), rss: Math.max(...list.map(run => run.rss)), range: `${Math.min(...list.map(run => run.wall)).toFixed(2)}–${Math.max(...list.map(run => run.wall)).toFixed(2)}`};
}

function record(name, value, note = '') {
	figures[name] = value;
	console.log(`${name.padEnd(64)} ${value}${note ? `  (${note})` : ''}`);
}

const ratio = (a, b) => Math.round((a / b) * 100) / 100;

/** scripts/floors.mjs MODE ARGS under GNU time, with the allocator setting cage's launcher uses. */
const floor = (args, stdio) => timed('env', ['MALLOC_TRIM_THRESHOLD_=268435456', process.execPath, path.join(root, 'scripts', 'floors.mjs'), ...args], stdio);

/**
 * node's chacha20-poly1305 over `bytes` in 64 KiB blocks, called as cage calls it (a cipher per
 * block, its output copied into a span buffer), on `threads` worker threads: user CPU and wall,
 * less those of the same script with no blocks (node and its threads starting).
 */
async function cipherFloor(bytes, threads) {
	const source = blocks => `const {Worker, isMainThread, workerData} = require('node:worker_threads');
const {createCipheriv, randomBytes} = require('node:crypto');
function run(blocks) {
	const key = randomBytes(32), nonce = Buffer.alloc(12), plain = randomBytes(1 << 20), out = Buffer.allocUnsafe(16 * 65552);
	for (let i = 0; i < blocks; i++) {
		nonce.writeUIntBE(i, 5, 6);
		const cipher = createCipheriv('chacha20-poly1305', key, nonce, {authTagLength: 16});
		const at = (i % 16) * 65552;
		cipher.update(plain.subarray((i % 16) * 65536, (i % 16 + 1) * 65536)).copy(out, at);
		cipher.final();
		cipher.getAuthTag().copy(out, at + 65536);
	}
}
if (isMainThread) for (let t = 0; t < ${threads}; t++) new Worker(__filename, {workerData: ${blocks}});
else run(workerData);
`;
	const file = path.join(dir, 'floor.cjs');
	fs.writeFileSync(file, source(Math.ceil(bytes / 65536 / threads)));
	const work = await timed(process.execPath, [file]);
	fs.writeFileSync(file, source(0));
	const idle = await timed(process.execPath, [file]);
	return {wall: work.wall - idle.wall, user: work.user - idle.user};
}

try {
	console.log(`cage speed bench: ${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${execFileSync('age', ['--version']).toString().trim()}, in ${base}, ${runs} runs each\n`);
	const key = path.join(dir, 'key.txt');
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	const out = name => path.join(dir, name);
	const rm = (...files) => {
		for (const file of files) fs.rmSync(file, {force: true});
	};

	// Start-up first (small files): node, cage --version, cage encrypt of an empty file.
	{
		const empty = out('empty');
		fs.writeFileSync(empty, '');
		const lists = {node: [], version: [], empty: []};
		for (let index = 0; index < 7; index++) {
			lists.node.push(await timed(process.execPath, ['-e', '0']));
			lists.version.push(await timed(cli, ['--version']));
			rm(out('empty.age'));
			lists.empty.push(await timed(cli, ['encrypt', empty, '-r', recipient, '-o', out('empty.age'), '--progress', 'none', '--no-audit']));
		}

		const [node, version, encryptEmpty] = [summary(lists.node), summary(lists.version), summary(lists.empty)];
		record('start-up: node -e 0, wall', `${(node.wall * 1000).toFixed(0)} ms`, `range ${node.range} s; peak RSS ${node.rss.toFixed(0)} MiB`);
		record('start-up: cage --version minus node -e 0, wall', `${((version.wall - node.wall) * 1000).toFixed(0)} ms`, 'goal <= 40 ms');
		record('start-up: cage encrypt of an empty file minus node -e 0, wall', `${((encryptEmpty.wall - node.wall) * 1000).toFixed(0)} ms`, `goal <= 100 ms; CPU ${((encryptEmpty.user + encryptEmpty.sys) * 1000).toFixed(0)} ms, peak RSS ${encryptEmpty.rss.toFixed(0)} MiB`);
		figures.startupCpu = encryptEmpty.user + encryptEmpty.sys;
		// The least memory and CPU of a node process with two worker threads (floors.mjs idle).
		const idle = [];
		for (let index = 0; index < 5; index++) idle.push(await floor(['idle', '2']));
		const idleSummary = summary(idle);
		figures.floorIdleRss = idleSummary.rss;
		figures.floorIdleUser = idleSummary.user;
		record('floor: node with two idle worker threads, peak RSS', `${idleSummary.rss.toFixed(0)} MiB`, `user CPU ${(idleSummary.user * 1000).toFixed(0)} ms; the RSS goal is 48 MiB`);
	}

	for (const size of sizes) {
		if (!hasRoom(dir, 2.1 * size)) {
			console.log(`\n${label(size)}: skipped, ${dir} has not ${label(2.1 * size)} free`);
			continue;
		}

		console.log(`\n${label(size)}:`);
		const gib = size / GiB;
		const plain = out('plain.bin');
		writeSample(plain, size);
		const one = await cipherFloor(size, 1);
		const two = await cipherFloor(size, 2);
		record(`${label(size)}: cipher floor, user CPU per GiB (1 thread / 2 threads)`, `${(one.user / gib).toFixed(2)} s / ${(two.user / gib).toFixed(2)} s`, `wall ${(one.wall / gib).toFixed(2)} s / ${(two.wall / gib).toFixed(2)} s per GiB`);
		const lists = {ageEnc: [], cageEnc: [], ageDec: [], cageDec: [], floor: [], floorXxh3: []};
		// An uncounted first round (the host's first write of fresh pages is slow for whoever meets it).
		for (let index = 0; index <= runs; index++) {
			const round = {};
			rm(out('age.age'));
			round.ageEnc = await timed('age', ['-r', recipient, '-o', out('age.age'), plain]);
			rm(out('cage.age'));
			round.cageEnc = await timed(cli, ['encrypt', plain, '-r', recipient, '-o', out('cage.age'), '--progress', 'none', '--no-audit']);
			rm(out('age.plain'));
			round.ageDec = await timed('age', ['-d', '-i', key, '-o', out('age.plain'), out('cage.age')]);
			rm(out('age.plain'), out('cage.plain'));
			round.cageDec = await timed(cli, ['decrypt', out('age.age'), '-i', key, '-o', out('cage.plain'), '--progress', 'none', '--no-audit']);
			rm(out('cage.plain'));
			// The floors (floors.mjs): node's cipher over the file on every core, each span written with
			// pwrite, the output fsynced; then the same with cage's XXH3 of every span written.
			round.floor = await floor(['write', plain, out('floor.out')]);
			rm(out('floor.out'));
			round.floorXxh3 = await floor(['xxh3', plain, out('floor.out')]);
			rm(out('floor.out'));
			if (index > 0) for (const [name, run] of Object.entries(round)) lists[name].push(run);
		}

		const floorRun = summary(lists.floor);
		const floorXxh3 = summary(lists.floorXxh3);
		record(`${label(size)}: floor (node: cipher + pwrite on every core, fsync)`, `${floorRun.wall.toFixed(2)} s`, `range ${floorRun.range}; user ${floorRun.user.toFixed(2)} s, system ${floorRun.sys.toFixed(2)} s; peak RSS ${floorRun.rss.toFixed(0)} MiB`);
		record(`${label(size)}: floor with cage's XXH3 of what is written`, `${floorXxh3.wall.toFixed(2)} s`, `range ${floorXxh3.range}; user ${floorXxh3.user.toFixed(2)} s, system ${floorXxh3.sys.toFixed(2)} s`);
		for (const op of ['Enc', 'Dec']) {
			const age = summary(lists[`age${op}`]);
			const cage = summary(lists[`cage${op}`]);
			const name = `${label(size)} ${op === 'Enc' ? 'encrypt' : 'decrypt'}`;
			record(`${name}: wall cage/age`, ratio(cage.wall, age.wall), `cage ${cage.wall.toFixed(2)} s (${cage.range}), age ${age.wall.toFixed(2)} s (${age.range}); goal <= ${size >= 4 * GiB ? '0.55' : '0.75'}`);
			record(`${name}: wall floor/age (the best a node program does here)`, ratio(floorRun.wall, age.wall), `cage / floor ${ratio(cage.wall, floorRun.wall)}; with XXH3 floor/age ${ratio(floorXxh3.wall, age.wall)}`);
			record(`${name}: cage CPU / wall`, ratio(cage.user + cage.sys, cage.wall), `user ${cage.user.toFixed(2)} s, system ${cage.sys.toFixed(2)} s; goal >= 1.7`);
			record(`${name}: user CPU per GiB beyond start-up / cipher floor`, ratio((cage.user - figures.startupCpu) / gib, one.user / gib), 'goal <= 1.15');
			record(`${name}: user CPU beyond start-up / the I/O + XXH3 floor's user CPU`, ratio(cage.user - figures.startupCpu, floorXxh3.user - figures.floorIdleUser), `the floor: cipher, reads, pwrite and XXH3 on every core, ${((floorXxh3.user - figures.floorIdleUser) / gib).toFixed(2)} s per GiB beyond node's start`);
			record(`${name}: user + system CPU, cage/age`, ratio(cage.user + cage.sys, age.user + age.sys), `age user ${age.user.toFixed(2)} s, system ${age.sys.toFixed(2)} s; goal <= 1.0`);
			record(`${name}: peak RSS cage / age`, `${cage.rss.toFixed(0)} / ${age.rss.toFixed(0)} MiB`, `goal <= 48 MiB; floors: node with two idle threads ${figures.floorIdleRss.toFixed(0)} MiB, the I/O floor ${floorRun.rss.toFixed(0)} MiB`);
		}

		rm(plain, out('age.age'), out('cage.age'));
	}

	// stdin to stdout (the stream path), at the first size.
	{
		const size = sizes[0];
		const plain = out('plain.bin');
		writeSample(plain, size);
		const ages = [];
		const cages = [];
		const floors = [];
		for (let index = 0; index <= runs; index++) {
			const age = await timed('age', ['-r', recipient], {input: plain, output: out('age.age')});
			const cage = await timed(cli, ['encrypt', '-r', recipient, '--progress', 'none', '--no-audit'], {input: plain, output: out('cage.age')});
			const least = await floor(['stream'], {input: plain, output: out('floor.age')});
			if (index > 0) {
				ages.push(age);
				cages.push(cage);
				floors.push(least);
			}
		}

		const [age, cage, least] = [summary(ages), summary(cages), summary(floors)];
		record(`${label(size)} stdin -> stdout encrypt: wall cage/age`, ratio(cage.wall, age.wall), `cage ${cage.wall.toFixed(2)} s, age ${age.wall.toFixed(2)} s; goal <= 1.0`);
		record(`${label(size)} stdin -> stdout: floor/age (node, one thread, 64 KiB blocks as they come)`, ratio(least.wall, age.wall), `floor ${least.wall.toFixed(2)} s (${least.range}), user ${least.user.toFixed(2)} s, system ${least.sys.toFixed(2)} s; cage / floor ${ratio(cage.wall, least.wall)}`);
		rm(plain, out('age.age'), out('cage.age'));
	}

	// A batch of 1 000 files of 4 KiB to 1 MiB: one cage job against age once per file.
	{
		const tree = out('tree');
		fs.mkdirSync(tree);
		let bytes = 0;
		for (let index = 0; index < 1000; index++) {
			const length = 4096 + Math.floor((index * 7919) % 1000) * 1044;
			bytes += length;
			fs.writeFileSync(path.join(tree, `file-${String(index).padStart(4, '0')}.bin`), randomBytes(length));
		}

		const script = 'for f in "$1"/*.bin; do age -r "$2" -o "$3/$(basename "$f").age" "$f" || exit 1; done';
		const ages = [];
		const cages = [];
		const floors = [];
		for (let index = 0; index < runs; index++) {
			fs.rmSync(out('age-tree'), {recursive: true, force: true});
			fs.mkdirSync(out('age-tree'));
			ages.push(await timed('sh', ['-c', script, 'sh', tree, recipient, out('age-tree')]));
			fs.rmSync(out('cage-tree'), {recursive: true, force: true});
			cages.push(await timed(cli, ['encrypt', '--recursive', tree, '-r', recipient, '--output-dir', out('cage-tree'), '--progress', 'none', '--no-audit']));
			fs.rmSync(out('floor-tree'), {recursive: true, force: true});
			floors.push(await floor(['batch', tree, out('floor-tree'), recipient]));
		}

		// The floor's files are real age files: one is decrypted by age.
		const sample = fs.readdirSync(tree)[500];
		if (!execFileSync('age', ['-d', '-i', key, path.join(out('floor-tree'), `${sample}.age`)], {maxBuffer: 2 ** 24}).equals(fs.readFileSync(path.join(tree, sample)))) throw new Error('the batch floor wrote a wrong file');
		const [age, cage, least] = [summary(ages), summary(cages), summary(floors)];
		record('batch of 1 000 files (4 KiB–1 MiB): wall cage/age', ratio(cage.wall, age.wall), `${(bytes / 1024 ** 2).toFixed(0)} MiB; cage ${cage.wall.toFixed(2)} s (${cage.range}), age once per file ${age.wall.toFixed(2)} s (${age.range}); goal <= 0.3`);
		record('batch: floor/age (node, one process, each file fsynced and renamed)', ratio(least.wall, age.wall), `floor ${least.wall.toFixed(2)} s (${least.range}), user ${least.user.toFixed(2)} s, system ${least.sys.toFixed(2)} s; cage ${cage.user.toFixed(2)} s user, ${cage.sys.toFixed(2)} s system; cage / floor ${ratio(cage.wall, least.wall)}`);
	}

	console.log(JSON.stringify(figures));
} finally {
	fs.rmSync(dir, {recursive: true, force: true});
}
