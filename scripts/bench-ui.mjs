#!/usr/bin/env node
/**
 * What the dashboard costs (run after `npm run build`):
 *
 * 1. An encryption of a generated file (BENCH_SIZE, default 1GiB) with the dashboard drawing into
 *    a real terminal (a private tmux server) against the same run with `--progress none`, both
 *    inside tmux and timed by the shell around the command, alternately; the median of BENCH_RUNS
 *    (default 5) each. The files live on tmpfs when there is one (as in bench.mjs), so the disk's
 *    write-back does not decide the result.
 * 2. The CPU the dashboard uses (reducer + Ink rendering, process.cpuUsage of this process, the
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
import {median, parseSize, root, writeSample} from './bench-common.mjs';

const cli = path.join(root, 'dist/cli.js');
const note = message => process.stderr.write(`bench-ui: ${message}\n`);

const size = parseSize(process.env.BENCH_SIZE ?? '1GiB');
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
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

async function waitForFile(file, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	while (!fs.existsSync(file)) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${file}`);
		await new Promise(resolve => setTimeout(resolve, 50));
	}

	return fs.readFileSync(file, 'utf8');
}

let runId = 0;
/** Encrypt inside tmux (120x40); returns seconds measured by the shell around the command. */
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
			`echo "$code $((end - start))" > '${result}.tmp' && mv '${result}.tmp' '${result}'`,
			'sleep 600',
		].join('\n'),
	);
	tmux('new-session', '-d', '-x', '120', '-y', '40', '-s', `r${id}`, `sh '${script}'`);
	const [code, nanoseconds] = (await waitForFile(result, 30 * 60_000)).trim().split(' ').map(Number);
	const screen = tmux('capture-pane', '-p', '-t', `r${id}`);
	tmux('kill-session', '-t', `r${id}`);
	fs.rmSync(output, {force: true});
	if (code !== 0) throw new Error(`encrypt --progress ${progress} exited ${code}:\n${screen}`);
	if (progress === 'tui' && !screen.includes('cage encrypt completed')) throw new Error(`the dashboard summary is missing:\n${screen}`);
	return nanoseconds / 1e9;
}

async function benchEncrypt() {
	if (spawnSync('sh', ['-c', 'command -v tmux']).status !== 0) {
		note('tmux is not installed; skipping the terminal comparison');
		return {tuiSeconds: null, noneSeconds: null, tuiOverheadPercent: null};
	}

	note(`writing ${size} bytes of input`);
	writeSample(path.join(dir, 'input.bin'), size);
	const key = spawnSync(process.execPath, [cli, 'keygen'], {env, encoding: 'utf8'});
	const recipient = /age1[0-9a-z]+/.exec(key.stdout + key.stderr)?.[0];
	if (!recipient) throw new Error(`cage keygen gave no recipient: ${key.stderr}`);
	const none = [];
	const tui = [];
	for (let run = 0; run < runs; run++) {
		none.push(await encryptInTmux('none', recipient));
		tui.push(await encryptInTmux('tui', recipient));
		note(`run ${run + 1}: none ${none.at(-1).toFixed(2)} s, tui ${tui.at(-1).toFixed(2)} s`);
	}

	fs.rmSync(path.join(dir, 'input.bin'), {force: true});
	const noneSeconds = median(none);
	const tuiSeconds = median(tui);
	return {tuiSeconds, noneSeconds, tuiOverheadPercent: ((tuiSeconds - noneSeconds) / noneSeconds) * 100};
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
	const encrypt = await benchEncrypt();
	const rendering = await benchRendering();
	process.stdout.write(
		`${JSON.stringify({
			tuiSeconds: encrypt.tuiSeconds,
			noneSeconds: encrypt.noneSeconds,
			tuiOverheadPercent: encrypt.tuiOverheadPercent,
			uiCpuPercent65536: rendering.uiCpuPercent65536,
			benchSize: size,
			runs,
			uiChunksFed: rendering.uiChunksFed,
			uiSeconds: rendering.uiSeconds,
		})}\n`,
	);
} finally {
	try {
		tmux('kill-server');
	} catch {
		// No server was started.
	}

	fs.rmSync(dir, {recursive: true, force: true});
}
