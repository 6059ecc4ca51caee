/**
 * `cage watch` with the dashboard in a real terminal (tmux): it shows a job that another
 * `cage encrypt` process runs, live, and ends on the same totals as that process's summary.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {formatBytes} from '../../source/size.js';
import {cliPath, makeSandbox, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';

const tmux = '/usr/bin/tmux';
const sandbox = makeSandbox('cage-watch-tui-');
const {dir, env} = sandbox;
const socket = `cage-watch-${process.pid}`;
afterAll(() => {
	spawnSync(tmux, ['-L', socket, 'kill-server'], {stdio: 'ignore'});
	sandbox.cleanup();
});

const capture = () => spawnSync(tmux, ['-L', socket, 'capture-pane', '-p', '-t', 'watch'], {encoding: 'utf8'}).stdout;

describe.runIf(fs.existsSync(tmux))('cage watch dashboard in tmux', () => {
	it('shows the job another process runs, and ends on that process\'s totals; q exits 0', async () => {
		const key = path.join(dir, 'key.txt');
		execFileSync('/usr/bin/age-keygen', ['-o', key], {stdio: 'ignore'});
		const recipient = execFileSync('/usr/bin/age-keygen', ['-y', key]).toString().trim();
		const plain = path.join(dir, 'big.bin');
		const size = 48 * 1024 * 1024 + 4099;
		writeRandomFile(plain, size);
		fs.mkdirSync(path.join(dir, 'state', 'cage'), {recursive: true, mode: 0o700});
		const exitFile = path.join(dir, 'watch.exit');
		const variables = ['CAGE_CONFIG_DIR', 'XDG_STATE_HOME', 'HOME'].map(name => `${name}=${env[name]!}`);
		const command = `env -u CI ${variables.join(' ')} NO_COLOR=1 TERM=xterm-256color ${process.execPath} ${cliPath} watch; echo $? > ${exitFile}; sleep 60`;
		execFileSync(tmux, ['-L', socket, 'new-session', '-d', '-s', 'watch', '-x', '120', '-y', '45', command]);
		await waitFor(() => capture().includes('no jobs in the log yet'), {timeout: 30_000, what: 'the jobs table to start'});

		const job = startCage(['encrypt', plain, '-r', recipient, '-o', `${plain}.age`, '--rate', '20MiB', '--chunk-size', '4MiB', '--progress', 'plain'], {env});
		// The jobs table lists it; enter opens it in the full dashboard.
		await waitFor(() => (capture().includes('Jobs 1 · 1 running') ? true : undefined), {timeout: 30_000, interval: 100, what: 'the job in the jobs table'});
		execFileSync(tmux, ['-L', socket, 'send-keys', '-t', 'watch', 'Enter']);
		// Live: the dashboard shows the job running, with the other process's paths.
		const running = await waitFor(() => {
			const screen = capture();
			return screen.includes('● running') && screen.includes(`${plain} -> ${plain}.age`) ? screen : undefined;
		}, {timeout: 30_000, interval: 100, what: 'the job running on the dashboard'});
		expect(running).toContain('cage encrypt');
		expect(await job.exited).toBe(0);

		// The process's own summary: "completed: 48.0 MiB in 2.4s (…)".
		const summary = /completed: (\S+ \S+) in /.exec(job.stderr());
		expect(summary).not.toBeNull();
		const total = summary![1]!;
		expect(total).toBe(formatBytes(size));
		const final = await waitFor(() => {
			const screen = capture();
			return screen.includes('● done') ? screen : undefined;
		}, {timeout: 30_000, interval: 100, what: 'the job done on the dashboard'});
		expect(final).toContain(`${total} / ${total}`);
		expect(final).toContain('chunks 13/13 done, 0 running, 0 failed, 0 skipped');
		expect(final).toContain('100.0%');

		execFileSync(tmux, ['-L', socket, 'send-keys', '-t', 'watch', 'q']);
		const code = await waitFor(() => (fs.existsSync(exitFile) ? fs.readFileSync(exitFile, 'utf8').trim() : undefined), {timeout: 30_000, what: 'watch to exit'});
		expect(code).toBe('0');
	});

	it('a log line claiming chunk 4e12 is reported, not fatal: --no-follow draws the report and exits 0', async () => {
		const log = path.join(dir, 'absurd.jsonl');
		const job = (seq: number, rest: object) => JSON.stringify({v: 1, ts: 1_700_000_000_000 + seq, job: 'absurd', seq, ...rest});
		fs.writeFileSync(
			log,
			[
				job(0, {type: 'job:start', kind: 'hash', source: '/x', output: null, size: 13, chunkSize: 1, chunks: 13, chunksDone: 0, bytesDone: 0, jobs: 1, pid: 1, resumed: false}),
				job(1, {type: 'chunk:start', chunk: 4_000_000_000_000, start: 0, size: 1, attempt: 1}),
				job(2, {type: 'chunk:start', chunk: 0, start: 0, size: 1, attempt: 1}),
				job(3, {type: 'job:done', outcome: 'completed', bytesDone: 13, durationMs: 5}),
			].join('\n') + '\n',
		);
		const exitFile = path.join(dir, 'absurd.exit');
		const variables = ['CAGE_CONFIG_DIR', 'XDG_STATE_HOME', 'HOME'].map(name => `${name}=${env[name]!}`);
		const command = `env -u CI ${variables.join(' ')} NO_COLOR=1 TERM=xterm-256color ${process.execPath} ${cliPath} watch ${log} --no-follow 2>&1; echo $? > ${exitFile}; sleep 60`;
		execFileSync(tmux, ['-L', socket, 'new-session', '-d', '-s', 'absurd', '-x', '160', '-y', '45', command]);
		const code = await waitFor(() => (fs.existsSync(exitFile) ? fs.readFileSync(exitFile, 'utf8').trim() : undefined), {timeout: 30_000, what: 'watch to exit'});
		const screen = spawnSync(tmux, ['-L', socket, 'capture-pane', '-p', '-t', 'absurd'], {encoding: 'utf8'}).stdout;
		expect(screen).not.toContain('Invalid typed array length');
		expect(code).toBe('0');
		expect(screen).toContain('audit-malformed-line');
	});
});
