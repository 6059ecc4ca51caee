#!/usr/bin/env node
// cage benchmark: speed and memory against the real `age` CLI, measured in the same run.
//
//   npm run bench                          1 GiB file against age, a 4 GiB file for memory, then
//                                          the dashboard (scripts/bench-ui.mjs) and audit log
//                                          (scripts/bench-audit.mjs), cage sweep (scripts/bench-sweep.mjs) and cage lock
//                                          (scripts/bench-lock.mjs) benches
//   BENCH_SIZE=256MiB BENCH_BIG=1GiB       smaller files
//   BENCH_SKIP=big,big-resume,check,speed,tui,audit,overview,backup,sweep,lock,verify  skip sections (speed: #18's goals,
//                                          scripts/bench-speed.mjs; overview: cage watch's jobs table over a
//                                          log of 1 000 jobs and 1 000 000 lines (bench-audit.mjs --overview);
//                                          lock: cage lock against
//                                          encrypt + rm, scripts/bench-lock.mjs; verify: cage verify against age -d -o
//                                          /dev/null, and a 1 MiB range of a BENCH_BIG file (scripts/bench-verify.mjs);
//                                          sweep: cage sweep against
//                                          jq empty; backup: backup create and
//                                          verify against sha256sum and age -d; check: the resume's check of a whole
//                                          committed prefix against a full run; big-resume: the resume ratio at BENCH_BIG, on
//                                          tmpfs like the 1 GiB runs: it needs 2.2x BENCH_BIG free there)
//   BENCH_RUNS=5 BENCH_WARMUP=1            measured runs per tool, and uncounted ones before them
//   BENCH_RESUME_RUNS=3                    full runs and kill+resume cycles per resume figure
//
// Times are wall clock of whole processes; peak RSS is the kernel's (GNU time %M, else
// /proc/<pid>/status VmHWM polled). Nothing here is hard-coded: every figure is measured now.
import {execFileSync, spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {cleanUpOnSignals, hasRoom, median, parseSize, root, writeSample} from './bench-common.mjs';

const cli = path.join(root, 'dist/cli.js');
const units = {MiB: 1024 ** 2};
const size = parseSize(process.env.BENCH_SIZE ?? '1GiB');
const bigSize = parseSize(process.env.BENCH_BIG ?? '4GiB');
const skip = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
// The 1 GiB comparisons run on tmpfs when there is one, so both tools are measured on their work
// and not on the disk's write-back (which made the same command vary 1.6-3.2 s here). BENCH_DIR
// picks another place; the 4 GiB memory check always runs in the temp directory on disk.
const shm = '/dev/shm';
const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? (fs.existsSync(shm) ? shm : os.tmpdir()), 'cage-bench-'));
const bigDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-bench-big-'));
const removeFiles = () => {
	fs.rmSync(dir, {recursive: true, force: true});
	fs.rmSync(bigDir, {recursive: true, force: true});
};
cleanUpOnSignals(removeFiles);
const repeats = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
const warmups = Math.max(0, Number(process.env.BENCH_WARMUP ?? 1));
const env = {...process.env, CAGE_CONFIG_DIR: path.join(dir, 'config'), XDG_STATE_HOME: path.join(dir, 'state'), NO_COLOR: '1'};
const gnuTime = fs.existsSync('/usr/bin/time');
const results = [];

function formatMiB(bytes) {
	return `${(bytes / units.MiB).toFixed(0)} MiB`;
}

/** Run a command, return {seconds, peak (RSS bytes), userSeconds (CPU in user mode; GNU time only, else 0)}. */
async function measure(command, args, {stdin, stdout, extraEnv} = {}) {
	const timeArgs = gnuTime ? ['-f', '%e %M %U', command, ...args] : args;
	const started = process.hrtime.bigint();
	const child = spawn(gnuTime ? '/usr/bin/time' : command, timeArgs, {
		env: {...env, ...extraEnv},
		stdio: [stdin ? fs.openSync(stdin, 'r') : 'ignore', stdout ? fs.openSync(stdout, 'w') : 'ignore', 'pipe'],
	});
	let stderr = '';
	child.stderr.on('data', data => (stderr += data));
	let polledPeak = 0;
	const poll = gnuTime
		? undefined
		: setInterval(() => {
				try {
					const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
					polledPeak = Math.max(polledPeak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024);
				} catch {
					// The process may have exited between polls.
				}
			}, 20);
	const status = await new Promise(resolve => child.on('close', resolve));
	if (poll) clearInterval(poll);
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	let peak = polledPeak;
	let userSeconds = 0;
	if (gnuTime) {
		const last = stderr.trim().split('\n').at(-1) ?? '';
		peak = Number(last.split(' ')[1]) * 1024;
		userSeconds = Number(last.split(' ')[2]);
		stderr = stderr.trim().split('\n').slice(0, -1).join('\n');
	}

	if (status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${status}: ${stderr.slice(-2000)}`);
	return {seconds, peak, userSeconds};
}

function record(name, value, note = '') {
	results.push({name, value, note});
	console.log(`${name.padEnd(58)} ${value}${note ? `  (${note})` : ''}`);
}

// The binary as users run it (its launcher line tunes malloc; see source/cli.tsx).
const cage = (...args) => [cli, args];

/** Run age and cage alternately `repeats` times; medians of time and peak RSS. */
async function compare(ageArgs, cageArgs) {
	const runs = {age: [], cage: []};
	// Each run starts without the output of the last one: freeing a replaced 1 GiB file is kernel
	// time that would land on whichever tool happened to replace it.
	const output = args => args[args.indexOf('-o') + 1];
	// One uncounted round first, as hyperfine's --warmup: on this VM the first 1 GiB write after the
	// input was made was often 2-4x slower for whichever tool met it (host memory reclaim).
	const warmup = [];
	for (let index = 0; index < warmups; index++) {
		fs.rmSync(output(ageArgs), {force: true});
		warmup.push(`age ${(await measure('age', ageArgs)).seconds.toFixed(2)}`);
		fs.rmSync(output(cageArgs), {force: true});
		warmup.push(`cage ${(await measure(...cage(...cageArgs))).seconds.toFixed(2)}`);
	}

	if (warmup.length > 0) console.log(`  warm-up, not counted (s): ${warmup.join(' · ')}`);
	for (let index = 0; index < repeats; index++) {
		fs.rmSync(output(ageArgs), {force: true});
		runs.age.push(await measure('age', ageArgs));
		fs.rmSync(output(cageArgs), {force: true});
		runs.cage.push(await measure(...cage(...cageArgs)));
	}

	console.log(`  runs (s): age ${runs.age.map(run => run.seconds.toFixed(2)).join(' ')} · cage ${runs.cage.map(run => run.seconds.toFixed(2)).join(' ')}`);
	const pick = list => ({seconds: median(list.map(run => run.seconds)), peak: Math.max(...list.map(run => run.peak))});
	return {age: pick(runs.age), cage: pick(runs.cage)};
}

const resumeRounds = Math.max(1, Number(process.env.BENCH_RESUME_RUNS ?? 3));
const startup = {node: 0, cage: 0};

/** Encrypt `input` under a rate limit and SIGKILL it once half the file is checkpointed; returns the bytes the checkpoint holds. */
async function killAtHalf(input, output, bytes, recipient) {
	const child = spawn(cli, ['encrypt', input, '-r', recipient, '-o', output, '--progress', 'json', '--no-audit', '--force', '--rate', `${Math.ceil(bytes / units.MiB / 8)}MiB`], {env, stdio: ['ignore', 'ignore', 'pipe']});
	let buffer = '';
	let done = 0;
	await new Promise(resolve => {
		child.stderr.on('data', data => {
			buffer += data;
			const lines = buffer.split('\n');
			buffer = lines.pop() ?? '';
			for (const line of lines) {
				if (!line.startsWith('{')) continue;
				const event = JSON.parse(line);
				if (event.type === 'job:checkpoint' && event.bytesDone >= bytes / 2 && done === 0) {
					done = event.bytesDone;
					child.kill('SIGKILL');
				}
			}
		});
		child.on('close', resolve);
	});
	if (done === 0) throw new Error(`the encryption of ${input} ended before half of it was checkpointed`);
	return done;
}

/**
 * Resume from 50 %: a full encryption is timed, then a rate-limited one is SIGKILLed once half the
 * file is checkpointed and the resume alone is timed; `resumeRounds` of each, alternated, so the
 * VM's slow and quiet phases fall on both sides of the ratio. Each kill lands a little past half
 * (at a checkpoint), so the ratio slightly favours the resume; the bench prints where each landed.
 * `floor` is what a resume would cost with no verification and no overhead beyond cage's start-up
 * (an empty file's encryption): start-up + the part of the full run's work that was left.
 */
async function resumeFromHalf(input, bytes, {key, recipient}) {
	const output = path.join(dir, 'resume.age');
	const full = [];
	const resumes = [];
	const fullUser = [];
	const resumeUser = [];
	const landed = [];
	let ok = true;
	for (let index = 0; index < resumeRounds; index++) {
		fs.rmSync(output, {force: true});
		const fullRun = await measure(...cage('encrypt', input, '-r', recipient, '-o', output, '--progress', 'none', '--no-audit', '--force'));
		full.push(fullRun.seconds);
		fullUser.push(fullRun.userSeconds);
		fs.rmSync(output, {force: true});
		landed.push(await killAtHalf(input, output, bytes, recipient));
		const resumeRun = await measure(...cage('resume', output, '--progress', 'none', '--no-audit'));
		resumes.push(resumeRun.seconds);
		resumeUser.push(resumeRun.userSeconds);
		// Compared through a pipe: a third copy of a 4 GiB file may not fit on tmpfs.
		ok &&= spawnSync('sh', ['-c', 'age -d -i "$1" "$2" | cmp -s - "$3"', 'sh', key, output, input]).status === 0;
		fs.rmSync(output, {force: true});
	}

	console.log(`  ${formatMiB(bytes)}: full runs (s) ${full.map(seconds => seconds.toFixed(2)).join(' ')} · resumes (s) ${resumes.map(seconds => seconds.toFixed(2)).join(' ')} · killed at ${landed.map(done => `${((done / bytes) * 100).toFixed(0)} %`).join(', ')}${gnuTime ? ` · user CPU (s) full ${fullUser.join(' ')}, resumes ${resumeUser.join(' ')}` : ''}`);
	const left = 1 - median(landed) / bytes;
	const floor = (startup.cage + left * (median(full) - startup.cage)) / median(full);
	// CPU in user mode: cage's own work. On this VM the wall clock also carries the kernel's time
	// for pages the host reclaimed and hands back on first touch, which varied 1-7 s for the same
	// 2 GiB of writes; the user time did not.
	const cpuRatio = gnuTime ? median(resumeUser) / median(fullUser) : Number.NaN;
	// The same floor in user CPU: start-up's CPU + the part of the full run's CPU that was left.
	const cpuFloor = gnuTime ? (startup.cageUser + left * (median(fullUser) - startup.cageUser)) / median(fullUser) : Number.NaN;
	return {full: median(full), resume: median(resumes), ratio: median(resumes) / median(full), cpuRatio, floor, cpuFloor, ok};
}

/**
 * What checking a whole committed prefix costs a resume after an unclean stop, against redoing it:
 * a run killed (SIGKILL, by the CAGE_FAULT point) just after renaming its output, before removing
 * its checkpoint, leaves every chunk committed; `cage resume` then reads the whole output back and
 * checks every chunk's digest before it finishes. Redo = the same full job, timed in the same
 * round. Both with cage's start-up; `net` takes the empty-file start-up off both sides.
 */
async function prefixCheck(kind, input, output, keyArgs) {
	const job = [kind, input, ...keyArgs, '-o', output, '--progress', 'none', '--no-audit', '--force'];
	const redo = [];
	const check = [];
	const redoUser = [];
	const checkUser = [];
	let ok = true;
	for (let index = 0; index < resumeRounds; index++) {
		fs.rmSync(output, {force: true});
		const full = await measure(...cage(...job));
		redo.push(full.seconds);
		redoUser.push(full.userSeconds);
		fs.rmSync(output, {force: true});
		const crashed = spawnSync(process.execPath, [cli, ...job], {env: {...env, CAGE_FAULT: 'after-final-rename'}});
		ok &&= crashed.signal === 'SIGKILL' && fs.existsSync(`${output}.checkpoint.json`);
		const resumed = await measure(...cage('resume', output, '--progress', 'none', '--no-audit'));
		check.push(resumed.seconds);
		checkUser.push(resumed.userSeconds);
		ok &&= !fs.existsSync(`${output}.checkpoint.json`);
	}

	console.log(`  ${kind} ${formatMiB(size)}: full runs (s) ${redo.map(value => value.toFixed(2)).join(' ')} · checks of the whole prefix (s) ${check.map(value => value.toFixed(2)).join(' ')}${gnuTime ? ` · user CPU (s) full ${redoUser.join(' ')}, checks ${checkUser.join(' ')}` : ''}`);
	const net = (median(check) - startup.cage) / (median(redo) - startup.cage);
	return {ratio: median(check) / median(redo), net, cpuRatio: gnuTime ? median(checkUser) / median(redoUser) : Number.NaN, check: median(check), redo: median(redo), ok};
}

try {
	console.log(`cage bench: ${formatMiB(size)} file, ${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${execFileSync('age', ['--version']).toString().trim()}\n`);
	const plain = path.join(dir, 'plain.bin');
	writeSample(plain, size);
	const key = path.join(dir, 'key.txt');
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	const out = name => path.join(dir, name);
	const rm = (...files) => {
		for (const file of files) fs.rmSync(file, {force: true});
	};

	// Warm the page cache so the first contestant does not pay for cold reads.
	execFileSync('cat', [plain], {stdio: ['ignore', 'ignore', 'ignore']});

	const encrypt = await compare(['-r', recipient, '-o', out('age.age'), plain], ['encrypt', plain, '-r', recipient, '-o', out('cage.age'), '--progress', 'none', '--no-audit', '--force']);
	const {age: ageEnc, cage: cageEnc} = encrypt;
	record('encrypt: age time', `${ageEnc.seconds.toFixed(2)} s`, `${(size / units.MiB / ageEnc.seconds).toFixed(0)} MiB/s`);
	record('encrypt: cage time', `${cageEnc.seconds.toFixed(2)} s`, `${(size / units.MiB / cageEnc.seconds).toFixed(0)} MiB/s`);
	record('encrypt: time ratio cage/age', (cageEnc.seconds / ageEnc.seconds).toFixed(2), `median of ${repeats}; goal <= 1.0, stretch 0.7`);
	record('encrypt: peak RSS age / cage', `${formatMiB(ageEnc.peak)} / ${formatMiB(cageEnc.peak)}`, 'cage goal <= 128 MiB');

	const decrypt = await compare(['-d', '-i', key, '-o', out('age.plain'), out('age.age')], ['decrypt', out('cage.age'), '-i', key, '-o', out('cage.plain'), '--progress', 'none', '--no-audit', '--force']);
	const {age: ageDec, cage: cageDec} = decrypt;
	record('decrypt: age time', `${ageDec.seconds.toFixed(2)} s`);
	record('decrypt: cage time', `${cageDec.seconds.toFixed(2)} s`);
	record('decrypt: time ratio cage/age', (cageDec.seconds / ageDec.seconds).toFixed(2), `median of ${repeats}; goal <= 1.0`);
	record('decrypt: peak RSS age / cage', `${formatMiB(ageDec.peak)} / ${formatMiB(cageDec.peak)}`);
	const same = spawnSync('cmp', [plain, out('cage.plain')]).status === 0 && spawnSync('cmp', [plain, out('age.plain')]).status === 0;
	record('round trip identical (cage->age -d, cage -d)', String(same && spawnSync('age', ['-d', '-i', key, '-o', out('x.plain'), out('cage.age')]).status === 0));
	rm(out('age.plain'), out('cage.plain'), out('x.plain'), out('age.age'));

	// Backups: a verify without a key re-hashes every ciphertext chunk (SHA-256) against the manifest,
	// compared with sha256sum over the same file; with -i it also authenticates every block on the
	// workers, compared with age -d to /dev/null. Alternated, medians of BENCH_RUNS.
	if (!skip.has('backup')) {
		const backups = out('backups');
		const created = await measure(...cage('backup', 'create', plain, '-r', recipient, '--to', backups, '--progress', 'none', '--no-audit'));
		record('backup create: time, peak RSS', `${created.seconds.toFixed(2)} s, ${formatMiB(created.peak)}`, 'the encryption plus one read of the generation for its manifest');
		const generation = path.join(backups, fs.readdirSync(backups).find(name => name.endsWith('.age')));
		const runs = {sha: [], verify: [], age: [], keyed: [], floor: []};
		for (let index = 0; index < warmups + repeats; index++) {
			const round = {
				sha: await measure('sha256sum', [generation]),
				verify: await measure(...cage('backup', 'verify', plain, '--to', backups, '--progress', 'none', '--no-audit')),
				age: await measure('age', ['-d', '-i', key, '-o', '/dev/null', generation]),
				keyed: await measure(...cage('backup', 'verify', plain, '-i', key, '--to', backups, '--progress', 'none', '--no-audit')),
				// The floor of verify -i: node reading the same bytes on both cores, SHA-256 of every byte
				// and every block's tag with libsodium, nothing of cage (scripts/floors.mjs tags-sha256).
				floor: await measure(process.execPath, [path.join(root, 'scripts', 'floors.mjs'), 'tags-sha256', generation]),
			};
			if (index >= warmups) for (const [name, run] of Object.entries(round)) runs[name].push(run);
		}

		const m = name => median(runs[name].map(run => run.seconds));
		console.log(`  runs (s): sha256sum ${runs.sha.map(run => run.seconds.toFixed(2)).join(' ')} · verify ${runs.verify.map(run => run.seconds.toFixed(2)).join(' ')} · age -d ${runs.age.map(run => run.seconds.toFixed(2)).join(' ')} · verify -i ${runs.keyed.map(run => run.seconds.toFixed(2)).join(' ')} · floor ${runs.floor.map(run => run.seconds.toFixed(2)).join(' ')}`);
		record('backup verify (no key) / sha256sum time', (m('verify') / m('sha')).toFixed(2), `median of ${repeats}; ${m('verify').toFixed(2)} s / ${m('sha').toFixed(2)} s; goal <= 1.0`);
		record('backup verify -i / age -d -o /dev/null time', (m('keyed') / m('age')).toFixed(2), `median of ${repeats}; ${m('keyed').toFixed(2)} s / ${m('age').toFixed(2)} s; goal <= 0.5`);
		record('backup verify -i floor / age -d -o /dev/null time', (m('floor') / m('age')).toFixed(2), `median of ${repeats}; ${m('floor').toFixed(2)} s: SHA-256 and tags of every byte on both cores, nothing else`);
		record('backup verify: peak RSS without / with -i', `${formatMiB(Math.max(...runs.verify.map(run => run.peak)))} / ${formatMiB(Math.max(...runs.keyed.map(run => run.peak)))}`);
		// Flat in the file's size: the same verifies of a file an eighth the size.
		const smallPlain = out('backup-small.bin');
		writeSample(smallPlain, Math.max(1, Math.floor(size / 8)));
		await measure(...cage('backup', 'create', smallPlain, '-r', recipient, '--to', backups, '--progress', 'none', '--no-audit'));
		const smallVerify = await measure(...cage('backup', 'verify', smallPlain, '--to', backups, '--progress', 'none', '--no-audit'));
		const smallKeyed = await measure(...cage('backup', 'verify', smallPlain, '-i', key, '--to', backups, '--progress', 'none', '--no-audit'));
		record(`backup verify of ${formatMiB(Math.floor(size / 8))}: peak RSS without / with -i`, `${formatMiB(smallVerify.peak)} / ${formatMiB(smallKeyed.peak)}`, 'flat in the file size: compare the line above');
		rm(smallPlain);
		fs.rmSync(backups, {recursive: true, force: true});
	}

	// Start-up, which a resume pays in full however little is left: bare node, and cage on an empty file.
	{
		const empty = out('empty.bin');
		fs.writeFileSync(empty, '');
		const node = [];
		const cageEmpty = [];
		const cageEmptyUser = [];
		for (let index = 0; index < 5; index++) {
			node.push((await measure(process.execPath, ['-e', '0'])).seconds);
			const run = await measure(...cage('encrypt', empty, '-r', recipient, '-o', out('empty.age'), '--progress', 'none', '--no-audit', '--force'));
			cageEmpty.push(run.seconds);
			cageEmptyUser.push(run.userSeconds);
		}

		startup.node = median(node);
		startup.cage = median(cageEmpty);
		startup.cageUser = gnuTime ? median(cageEmptyUser) : Number.NaN;
		record('start-up: node -e 0 / cage encrypt of an empty file', `${startup.node.toFixed(2)} s / ${startup.cage.toFixed(2)} s`, 'median of 5');
		rm(empty, out('empty.age'));
	}

	// A resume after kill -9 checks every committed chunk of the partial output: against a redo.
	if (!skip.has('check')) {
		const encrypted = out('check.age');
		for (const [kind, input, keyArgs] of [['encrypt', plain, ['-r', recipient]], ['decrypt', out('cage.age'), ['-i', key]]]) {
			const target = kind === 'encrypt' ? encrypted : out('check.plain');
			const figures = await prefixCheck(kind, input, target, keyArgs);
			const cpu = Number.isNaN(figures.cpuRatio) ? 'n/a' : figures.cpuRatio.toFixed(2);
			record(`${kind}: check of the whole prefix / redo time`, figures.ratio.toFixed(2), `median of ${resumeRounds}; ${figures.check.toFixed(2)} s / ${figures.redo.toFixed(2)} s; goal <= 0.30`);
			record(`${kind}: check / redo without start-up, user CPU`, `${figures.net.toFixed(2)}, ${cpu}`);
			record(`${kind}: checked resumes finished, checkpoints removed`, String(figures.ok));
			rm(target);
		}
	}

	// Resume from 50 %, at the bench size and at BENCH_BIG (where start-up weighs less).
	const resume = await resumeFromHalf(plain, size, {key, recipient});
	record('resume from 50%: time / full encrypt time', resume.ratio.toFixed(2), `median of ${resumeRounds}, full runs alternated with resumes; goal <= 0.60`);
	const ratio = value => (Number.isNaN(value) ? 'n/a (needs GNU time)' : value.toFixed(2));
	record('resume from 50%: user CPU time / full encrypt user CPU time', ratio(resume.cpuRatio), `median of ${resumeRounds}; cage's own work, without the kernel's page faults`);
	record('resume from 50%: floor with no verification at all', resume.floor.toFixed(2), 'start-up + the rest of the work, over a full run ; see resumeFromHalf');
	record('resume from 50%: user CPU floor with no verification at all', ratio(resume.cpuFloor), "start-up's CPU + the rest of the full run's, over the full run's; the rest of the measured ratio is the check of the committed half");
	record('resumed outputs decrypt with age -d to the input', String(resume.ok));
	rm(plain);
	// On tmpfs, as the 1 GiB runs: the input, the output and a killed run's partial at once.
	if (!skip.has('big-resume') && !hasRoom(dir, 2.2 * bigSize)) console.log(`  resume at ${formatMiB(bigSize)} skipped: ${dir} has not ${formatMiB(2.2 * bigSize)} free (BENCH_DIR picks another place)`);
	else if (!skip.has('big-resume')) {
		const bigPlain = out('big-resume.bin');
		writeSample(bigPlain, bigSize);
		const bigResume = await resumeFromHalf(bigPlain, bigSize, {key, recipient});
		record(`resume from 50%, ${formatMiB(bigSize)}: time / full encrypt time`, bigResume.ratio.toFixed(2), `median of ${resumeRounds}; full ${bigResume.full.toFixed(2)} s, resume ${bigResume.resume.toFixed(2)} s`);
		record(`resume from 50%, ${formatMiB(bigSize)}: user CPU time / full user CPU time`, ratio(bigResume.cpuRatio), `median of ${resumeRounds}`);
		record(`resume from 50%, ${formatMiB(bigSize)}: floor with no verification at all`, bigResume.floor.toFixed(2));
		record(`resume from 50%, ${formatMiB(bigSize)}: user CPU floor with no verification at all`, ratio(bigResume.cpuFloor));
		record(`resumed ${formatMiB(bigSize)} outputs decrypt with age -d to the input`, String(bigResume.ok));
		rm(bigPlain);
	}

	// Memory does not grow with the file: a 4 GiB encrypt and a 4 GiB resumable hash.
	if (!skip.has('big')) {
		rm(plain);
		const big = path.join(bigDir, 'big.bin');
		const bigOut = path.join(bigDir, 'big.age');
		writeSample(big, bigSize);
		const bigEnc = await measure(...cage('encrypt', big, '-r', recipient, '-o', bigOut, '--progress', 'none', '--no-audit'));
		record(`encrypt ${formatMiB(bigSize)}: cage time, peak RSS`, `${bigEnc.seconds.toFixed(2)} s, ${formatMiB(bigEnc.peak)}`, 'RSS goal <= 128 MiB');
		rm(bigOut);
		const hash = await measure(...cage('chunk', 'hash', big, '--progress', 'none', '--no-audit'), {stdout: out('hash.txt')});
		const digest = fs.readFileSync(out('hash.txt'), 'utf8').trim().split('\n').at(-1).split(' ')[0];
		const expected = execFileSync('sha256sum', [big]).toString().split(' ')[0];
		record(`chunk hash ${formatMiB(bigSize)}: time, peak RSS`, `${hash.seconds.toFixed(2)} s, ${formatMiB(hash.peak)}`, 'RSS goal < 100 MiB');
		record('chunk hash digest equals sha256sum', String(digest === expected));
		rm(big);
	}

	// The dashboard and the audit log have their own benches; their JSON is recorded here.
	for (const [section, script, ...args] of [['speed', 'bench-speed.mjs'], ['tui', 'bench-ui.mjs'], ['audit', 'bench-audit.mjs'], ['overview', 'bench-audit.mjs', '--overview'], ['sweep', 'bench-sweep.mjs'], ['lock', 'bench-lock.mjs'], ['verify', 'bench-verify.mjs']]) {
		if (skip.has(section)) continue;
		const child = spawnSync(process.execPath, [path.join(root, 'scripts', script), ...args], {env: {...process.env, BENCH_SIZE: process.env.BENCH_SIZE ?? '1GiB', BENCH_DIR: path.dirname(dir)}, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * 1024 * 1024});
		if (child.status !== 0) {
			record(`${script}`, `failed (exit ${child.status})`);
			continue;
		}

		const figures = JSON.parse(child.stdout.trim().split('\n').at(-1));
		for (const [name, value] of Object.entries(figures)) record(`${section}: ${name}`, typeof value === 'number' ? String(Math.round(value * 100) / 100) : JSON.stringify(value));
	}

	fs.writeFileSync(path.join(root, 'bench-results.json'), JSON.stringify({date: new Date().toISOString(), size, results}, null, 2));
	console.log('\nresults written to bench-results.json');
} finally {
	removeFiles();
}
