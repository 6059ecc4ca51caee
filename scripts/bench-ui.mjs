#!/usr/bin/env node
/**
 * What the dashboard costs (run after `npm run build`):
 *
 * 1. An encryption of a generated file (BENCH_SIZE, default 1GiB) with the dashboard drawing into
 *    a real terminal (a private tmux server) against the same run with `--progress none`, both
 *    inside tmux and timed by the shell around the command, alternately; the median of BENCH_RUNS
 *    (default 5) each. The files live on tmpfs when there is one (as in bench.mjs), so the disk's
 *    write-back does not decide the result.
 *    The shell also reports the CPU time (user + system) of each run: on this VM the wall clock of a
 *    1 GiB run varies by a factor of two with the host's memory reclaim, while the CPU the
 *    dashboard adds is steadier, and on saturated cores it is what the wall clock pays for.
 *    The same comparison runs again at BENCH_UI_BIG (default 4GiB, BENCH_UI_BIG_RUNS default 3
 *    runs; 0 skips it), where the one-time load weighs less.
 * 2. What loading costs, each in a fresh process, median of 5: the CPU of importing Ink + React
 *    and drawing one bordered line (the floor of any Ink dashboard), and the CPU of cage's own
 *    dashboard (the binary's chunk) for a short job: load, first frames, the final summary.
 * 3. The CPU the dashboard uses (reducer + Ink rendering, process.cpuUsage of this process, the
 *    binary's bundled dashboard) for a synthetic 65 536-chunk job fed at ~2 000 events a second for BENCH_UI_SECONDS (default 5).
 *
 * Prints one JSON object on stdout; progress notes go to stderr. Config, state and home live in a
 * temp directory.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {Writable} from 'node:stream';
import {pathToFileURL} from 'node:url';
import {build} from 'esbuild';
import {nodeBundleOptions} from './node-bundle.mjs';
import {cleanUpOnSignals, hasRoom, median, parseSize, root, writeSample} from './bench-common.mjs';

const cli = path.join(root, 'dist/cli.js');
const note = message => process.stderr.write(`bench-ui: ${message}\n`);

const size = parseSize(process.env.BENCH_SIZE ?? '1GiB');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
const bigSize = process.env.BENCH_UI_BIG === '0' ? 0 : parseSize(process.env.BENCH_UI_BIG ?? '4GiB');
const bigRuns = Math.max(1, Number(process.env.BENCH_UI_BIG_RUNS ?? 3));
const uiSeconds = Math.max(1, Number(process.env.BENCH_UI_SECONDS ?? 5));

const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()), 'cage-bench-ui-'));
const env = {
	...process.env,
	CAGE_CONFIG_DIR: path.join(dir, 'config'),
	XDG_STATE_HOME: path.join(dir, 'state'),
	HOME: path.join(dir, 'home'),
};
fs.mkdirSync(env.HOME);
const socket = path.join(dir, 'tmux.sock');
const tmux = (...args) => execFileSync('tmux', ['-S', socket, ...args], {env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
const removeAll = () => {
	try {
		tmux('kill-server');
	} catch {
		// No server was started.
	}

	fs.rmSync(dir, {recursive: true, force: true});
};
cleanUpOnSignals(removeAll);

async function waitForFile(file, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	while (!fs.existsSync(file)) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${file}`);
		await new Promise(resolve => setTimeout(resolve, 50));
	}

	return fs.readFileSync(file, 'utf8');
}

let runId = 0;
/** `times` prints the shell's and its children's user and system time, as `0m1.23s 0m0.45s`. */
function childCpuSeconds(times) {
	const [user, system] = times.trim().split('\n').at(-1).split(/\s+/).map(value => {
		const [, minutes, seconds] = /^(\d+)m([\d.]+)s$/.exec(value) ?? [];
		return Number(minutes) * 60 + Number(seconds);
	});
	return user + system;
}

/** Encrypt inside tmux (120x40); returns the seconds and CPU seconds the shell measured around the command. */
async function encryptInTmux(progress, recipient) {
	const id = ++runId;
	const output = path.join(dir, `out-${id}.age`);
	const result = path.join(dir, `time-${id}.txt`);
	const script = path.join(dir, `run-${id}.sh`);
	fs.writeFileSync(
		script,
		[
			'unset CI CONTINUOUS_INTEGRATION',
			`export CAGE_CONFIG_DIR='${env.CAGE_CONFIG_DIR}' XDG_STATE_HOME='${env.XDG_STATE_HOME}' HOME='${env.HOME}'`,
			`start=$(date +%s%N)`,
			`'${cli}' encrypt '${path.join(dir, 'input.bin')}' -r ${recipient} -o '${output}' --progress ${progress} --no-audit`,
			'code=$?',
			'end=$(date +%s%N)',
			`{ echo "$code $((end - start))"; times; } > '${result}.tmp' && mv '${result}.tmp' '${result}'`,
			'sleep 600',
		].join('\n'),
	);
	tmux('new-session', '-d', '-x', '120', '-y', '40', '-s', `r${id}`, `sh '${script}'`);
	const text = await waitForFile(result, 30 * 60_000);
	const [code, nanoseconds] = text.split('\n')[0].trim().split(' ').map(Number);
	const screen = tmux('capture-pane', '-p', '-t', `r${id}`);
	tmux('kill-session', '-t', `r${id}`);
	fs.rmSync(output, {force: true});
	if (code !== 0) throw new Error(`encrypt --progress ${progress} exited ${code}:\n${screen}`);
	if (progress === 'tui' && !screen.includes('cage encrypt completed')) throw new Error(`the dashboard summary is missing:\n${screen}`);
	return {seconds: nanoseconds / 1e9, cpuSeconds: childCpuSeconds(text.split('\n').slice(1).join('\n'))};
}

/** The dashboard against `--progress none` on a `bytes` file, `count` alternated runs of each: medians. */
async function benchEncrypt(bytes, count, recipient) {
	const input = path.join(dir, 'input.bin');
	note(`writing ${bytes} bytes of input`);
	writeSample(input, bytes);
	const none = [];
	const tui = [];
	for (let run = 0; run < count; run++) {
		none.push(await encryptInTmux('none', recipient));
		tui.push(await encryptInTmux('tui', recipient));
		note(`${bytes} B, run ${run + 1}: none ${none.at(-1).seconds.toFixed(2)} s (${none.at(-1).cpuSeconds.toFixed(2)} s CPU), tui ${tui.at(-1).seconds.toFixed(2)} s (${tui.at(-1).cpuSeconds.toFixed(2)} s CPU)`);
	}

	fs.rmSync(input, {force: true});
	const pick = (list, key) => median(list.map(run => run[key]));
	const noneSeconds = pick(none, 'seconds');
	const tuiSeconds = pick(tui, 'seconds');
	const noneCpu = pick(none, 'cpuSeconds');
	const tuiCpu = pick(tui, 'cpuSeconds');
	return {tuiSeconds, noneSeconds, overheadPercent: ((tuiSeconds - noneSeconds) / noneSeconds) * 100, noneCpu, tuiCpu, cpuOverheadPercent: ((tuiCpu - noneCpu) / noneCpu) * 100};
}

/** Probes run in a fresh node each: `floor` is a bundled minimal Ink app, `cage` the binary's dashboard chunk. */
async function loadProbes() {
	const floorSource = path.join(dir, 'floor.mjs');
	fs.writeFileSync(
		floorSource,
		`const before = process.cpuUsage();
const {createElement} = await import('react');
const {render, Box, Text} = await import('ink');
const {Writable} = await import('node:stream');
const terminal = Object.assign(new Writable({write(_chunk, _encoding, callback) { callback(); }}), {isTTY: true, columns: 120, rows: 40});
const app = render(createElement(Box, {borderStyle: 'round'}, createElement(Text, null, 'hello')), {stdout: terminal, stderr: terminal, patchConsole: false, exitOnCtrlC: false});
app.unmount();
await app.waitUntilExit();
const cpu = process.cpuUsage(before);
console.log(JSON.stringify({cpuMs: (cpu.user + cpu.system) / 1000}));
`,
	);
	// Bundled the way cage's dashboard is (without cage's own replacements inside Ink).
	await build({...nodeBundleOptions(root), entryPoints: [floorSource], outfile: path.join(dir, 'floor.bundle.mjs'), nodePaths: [path.join(root, 'node_modules')]});
	const bin = path.join(root, 'dist/bin');
	const chunk = fs.readdirSync(bin).find(name => name.startsWith('mount-') && name.endsWith('.js'));
	if (!chunk) throw new Error('no dashboard chunk (dist/bin/mount-*.js): run npm run build');
	fs.writeFileSync(
		path.join(dir, 'cage-probe.mjs'),
		`const before = process.cpuUsage();
const exported = await import(${JSON.stringify(pathToFileURL(path.join(bin, chunk)).href)});
const {defaultSettings} = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist/config.js')).href)});
const {Writable} = await import('node:stream');
const mountDashboard = Object.values(exported).find(value => typeof value === 'function' && value.name === 'mountDashboard');
const terminal = Object.assign(new Writable({write(_chunk, _encoding, callback) { callback(); }}), {isTTY: true, columns: 120, rows: 40});
const dashboard = mountDashboard({stderr: terminal, theme: 'default', settings: defaultSettings, mode: 'watch'});
const job = 'probe';
let seq = 0;
const send = event => dashboard.push({...event, job, ts: Date.now(), seq: seq++});
const chunkSize = 16 * 1024 * 1024;
send({type: 'job:start', kind: 'encrypt', source: '/probe/in', output: '/probe/out.age', size: 64 * chunkSize, chunkSize, chunks: 64, chunksDone: 0, bytesDone: 0, jobs: 2, pid: process.pid, resumed: false});
// A 1 GiB job: 64 chunks over about a second, two at a time.
for (let chunk = 0; chunk < 64; chunk++) {
	send({type: 'chunk:start', chunk, start: chunk * chunkSize, size: chunkSize, attempt: 1});
	if (chunk % 2 === 1) await new Promise(resolve => setTimeout(resolve, 25));
	send({type: 'chunk:done', chunk, start: chunk * chunkSize, size: chunkSize, durationMs: 25, attempt: 1, bytesDone: (chunk + 1) * chunkSize});
}
send({type: 'job:done', outcome: 'completed', chunksDone: 64, bytesDone: 64 * chunkSize, durationMs: 800});
await dashboard.close();
const cpu = process.cpuUsage(before);
console.log(JSON.stringify({cpuMs: (cpu.user + cpu.system) / 1000}));
`,
	);
	const probe = file => {
		const child = spawnSync(process.execPath, [path.join(dir, file)], {env, encoding: 'utf8'});
		if (child.status !== 0) throw new Error(`${file} exited ${child.status}: ${child.stderr}`);
		return JSON.parse(child.stdout.trim().split('\n').at(-1)).cpuMs;
	};
	const floor = [];
	const cage = [];
	for (let run = 0; run < 5; run++) {
		floor.push(probe('floor.bundle.mjs'));
		cage.push(probe('cage-probe.mjs'));
	}

	note(`load probes (CPU ms): minimal Ink app ${floor.map(ms => ms.toFixed(0)).join(' ')} · cage dashboard ${cage.map(ms => ms.toFixed(0)).join(' ')}`);
	return {inkFloorCpuMs: median(floor), dashboardLoadCpuMs: median(cage)};
}

/** A terminal-like sink: Ink renders into it as into a 120x40 TTY; the bytes go nowhere. */
function nullTerminal() {
	const stream = new Writable({
		write(_chunk, _encoding, callback) {
			callback();
		},
	});
	Object.assign(stream, {isTTY: true, columns: 120, rows: 40});
	return stream;
}

async function benchRendering() {
	// The binary's own dashboard chunk (what `cage` runs: bundled, with text-width.ts in place of
	// string-width), not the library build in dist/ui/.
	const bin = path.join(root, 'dist/bin');
	const chunk = fs.readdirSync(bin).find(name => name.startsWith('mount-') && name.endsWith('.js'));
	if (!chunk) throw new Error('no dashboard chunk (dist/bin/mount-*.js): run npm run build');
	const exported = await import(pathToFileURL(path.join(bin, chunk)).href);
	const mountDashboard = Object.values(exported).find(value => typeof value === 'function' && value.name === 'mountDashboard');
	if (!mountDashboard) throw new Error(`${chunk} exports no mountDashboard`);
	const {defaultSettings} = await import(pathToFileURL(path.join(root, 'dist/config.js')).href);
	const chunks = 65_536;
	const chunkSize = 16 * 1024 * 1024;
	const job = 'bench-65536';
	let seq = 0;
	let frames = 0;
	const terminal = nullTerminal();
	const write = terminal.write.bind(terminal);
	terminal.write = (...args) => {
		frames++;
		return write(...args);
	};

	const dashboard = mountDashboard({stderr: terminal, theme: 'default', settings: defaultSettings, mode: 'watch'});
	const send = event => dashboard.push({...event, job, ts: Date.now(), seq: event.type === 'chunk:progress' ? seq : seq++});
	send({type: 'job:start', kind: 'encrypt', source: '/bench/in', output: '/bench/out.age', size: chunks * chunkSize, chunkSize, chunks, chunksDone: 0, bytesDone: 0, jobs: 4, pid: process.pid, resumed: false});

	// ~1 000 chunks a second (start + done) and progress samples every 10 ms: far more than a real
	// job sends, so the figure is an upper bound.
	let next = 0;
	let bytes = 0;
	const cpuBefore = process.cpuUsage();
	const startedAt = process.hrtime.bigint();
	await new Promise(resolve => {
		const timer = setInterval(() => {
			for (let index = 0; index < 10 && next < chunks; index++, next++) {
				send({type: 'chunk:start', chunk: next, start: next * chunkSize, size: chunkSize, attempt: 1});
				bytes += chunkSize;
				send({type: 'chunk:done', chunk: next, start: next * chunkSize, size: chunkSize, durationMs: 40, attempt: 1, bytesDone: bytes});
				if (next % 97 === 0) send({type: 'anomaly', severity: 'warn', code: 'slow-chunk', message: `chunk ${next} synthetic`, chunk: next});
			}

			send({type: 'chunk:progress', chunk: next, bytes: chunkSize / 2, bytesDone: bytes + chunkSize / 2});
			if (Number(process.hrtime.bigint() - startedAt) / 1e9 >= uiSeconds) {
				clearInterval(timer);
				resolve();
			}
		}, 10);
	});
	const cpu = process.cpuUsage(cpuBefore);
	const wallMicros = Number(process.hrtime.bigint() - startedAt) / 1000;
	await dashboard.close();
	note(`rendering: ${next} chunks fed in ${(wallMicros / 1e6).toFixed(1)} s, ${frames} terminal writes`);
	return {uiCpuPercent65536: ((cpu.user + cpu.system) / wallMicros) * 100, uiChunksFed: next, uiSeconds: wallMicros / 1e6};
}

try {
	const figures = {benchSize: size, runs};
	if (spawnSync('sh', ['-c', 'command -v tmux']).status === 0) {
		const key = spawnSync(process.execPath, [cli, 'keygen'], {env, encoding: 'utf8'});
		const recipient = /age1[0-9a-z]+/.exec(key.stdout + key.stderr)?.[0];
		if (!recipient) throw new Error(`cage keygen gave no recipient: ${key.stderr}`);
		const encrypt = await benchEncrypt(size, runs, recipient);
		Object.assign(figures, {
			tuiSeconds: encrypt.tuiSeconds,
			noneSeconds: encrypt.noneSeconds,
			tuiOverheadPercent: encrypt.overheadPercent,
			tuiCpuSeconds: encrypt.tuiCpu,
			noneCpuSeconds: encrypt.noneCpu,
			tuiCpuOverheadPercent: encrypt.cpuOverheadPercent,
		});
		if (bigSize > 0 && !hasRoom(dir, 2.2 * bigSize)) note(`the ${bigSize}-byte comparison is skipped: ${dir} has not ${Math.ceil(2.2 * bigSize)} bytes free (BENCH_DIR picks another place)`);
		else if (bigSize > 0) {
			const big = await benchEncrypt(bigSize, bigRuns, recipient);
			Object.assign(figures, {bigSize, bigRuns, bigTuiSeconds: big.tuiSeconds, bigNoneSeconds: big.noneSeconds, bigTuiOverheadPercent: big.overheadPercent, bigTuiCpuOverheadPercent: big.cpuOverheadPercent});
		}
	} else {
		note('tmux is not installed; skipping the terminal comparison');
	}

	Object.assign(figures, await loadProbes());
	const rendering = await benchRendering();
	Object.assign(figures, {uiCpuPercent65536: rendering.uiCpuPercent65536, uiChunksFed: rendering.uiChunksFed, uiSeconds: rendering.uiSeconds});
	process.stdout.write(`${JSON.stringify(figures)}\n`);
} finally {
	removeAll();
}
