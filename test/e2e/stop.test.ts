/**
 * Every way a job is stopped leaves the same state behind: its final checkpoint at the last
 * committed chunk, a `job:done` (interrupted) line in the audit log, an exit status that says so
 * (75; 141 when the reader of stdout went away), and a `cage watch` that shows the job ended, not
 * running. Real processes, real signals, and tmux where a terminal matters (closing the window
 * leaves a dead pty, with or without the shell's SIGHUP).
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, cliPath, makeSandbox, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';

const MiB = 2 ** 20;
const hasAge = ['age', 'age-keygen'].every(tool => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);
const hasTmux = spawnSync('sh', ['-c', 'command -v tmux']).status === 0;
const hasBash = spawnSync('sh', ['-c', 'command -v bash']).status === 0;

type AuditLine = Record<string, unknown> & {type: string; job: string; seq: number};

function readLog(log: string): AuditLine[] {
	if (!fs.existsSync(log)) return [];
	return fs
		.readFileSync(log, 'utf8')
		.split('\n')
		.filter(line => line.startsWith('{'))
		.map(line => JSON.parse(line) as AuditLine);
}

function sha256(file: string): string {
	return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe.runIf(hasAge)('every way of stopping a job leaves the right state', () => {
	const sandbox = makeSandbox('cage-e2e-stop-');
	const {dir, env} = sandbox;
	const key = path.join(dir, 'key.txt');
	const plain = path.join(dir, 'plain.bin');
	let recipient = '';
	let runs = 0;
	const sockets: string[] = [];

	beforeAll(() => {
		execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
		recipient = execFileSync('age-keygen', ['-y', key], {encoding: 'utf8'}).trim();
		// 96 chunks at 8 MiB/s: about 12 s, mid-job whenever the test stops it.
		writeRandomFile(plain, 96 * MiB);
	});

	afterAll(() => {
		for (const socket of sockets) spawnSync('tmux', ['-S', socket, 'kill-server'], {stdio: 'ignore'});
		// A wrapper that ignores SIGHUP outlives its tmux server, and so would a cage that failed to
		// stop: end every process started here (their command lines name the sandbox).
		for (const pid of fs.readdirSync('/proc').filter(name => /^\d+$/.test(name) && Number(name) !== process.pid)) {
			try {
				if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(Number(pid), 'SIGKILL');
			} catch {
				// Gone meanwhile.
			}
		}

		sandbox.cleanup();
	});

	/** A fresh output and audit log for one run. */
	function fresh(name: string): {output: string; log: string; args: string[]} {
		const id = ++runs;
		const output = path.join(dir, `${name}-${id}.age`);
		const log = path.join(dir, `${name}-${id}.audit.jsonl`);
		return {output, log, args: ['encrypt', plain, '-r', recipient, '-o', output, '--chunk-size', '1MiB', '--rate', '8MiB', '--audit-log', log]};
	}

	/** Wait until the job has a checkpoint with at least two chunks committed (so a stop has something to keep). */
	async function checkpointed(log: string): Promise<void> {
		await waitFor(() => readLog(log).some(line => line.type === 'job:checkpoint' && (line.chunksDone as number) >= 2), {timeout: 30_000, what: `a checkpoint with 2 chunks in ${log}`});
	}

	/** The job's end: its audit log ends with job:done (interrupted), and the checkpoint on disk is at the last committed chunk. */
	function expectStopped(output: string, log: string, {final = true}: {final?: boolean} = {}): AuditLine {
		const lines = readLog(log);
		const job = lines[0]!.job;
		const last = lines.filter(line => line.job === job).at(-1)!;
		expect(last.type).toBe('job:done');
		expect(last.outcome).toBe('interrupted');
		const checkpointPath = `${output}.checkpoint.json`;
		expect(last.checkpoint).toBe(checkpointPath);
		const checkpoint = JSON.parse(fs.readFileSync(checkpointPath, 'utf8')) as {chunksDone: number; bytesDone: number; stopped?: boolean};
		expect(checkpoint.chunksDone).toBeGreaterThanOrEqual(2);
		if (final) {
			// The final checkpoint: every chunk the job committed, and marked as a clean stop.
			const committed = lines.filter(line => line.type === 'chunk:done').length;
			expect(checkpoint.chunksDone).toBe(committed);
			expect(checkpoint.bytesDone).toBe(last.bytesDone);
			expect(checkpoint.stopped).toBe(true);
		}

		// `cage watch` replays the log and ends the job there.
		const watched = cage(['watch', log, '--no-follow', '--progress', 'json'], {env});
		expect(watched.status).toBe(0);
		const events = watched.stdout.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line) as AuditLine).filter(event => event.job === job);
		expect(events.at(-1)).toMatchObject({type: 'job:done', outcome: 'interrupted'});
		return last;
	}

	/** The resume finishes the job, and the output decrypts with age to the input. */
	function expectResumable(output: string): void {
		const resumed = cage(['resume', output, '--progress', 'none', '--no-audit'], {env});
		expect(resumed.stderr).toBe('');
		expect(resumed.status).toBe(0);
		const decrypted = `${output}.out`;
		execFileSync('age', ['-d', '-i', key, '-o', decrypted, output]);
		expect(sha256(decrypted)).toBe(sha256(plain));
	}

	/** A private tmux server running `script` in a 120x40 window; the script's exit status lands in a file. */
	function terminal(name: string, command: string): {socket: string; exitFile: string; tmux: (...args: string[]) => string} {
		const id = ++runs;
		const socket = path.join(dir, `tmux-${id}.sock`);
		sockets.push(socket);
		const exitFile = path.join(dir, `${name}-${id}.exit`);
		const exports = ['CAGE_CONFIG_DIR', 'XDG_STATE_HOME', 'HOME', 'NO_COLOR'].map(variable => `export ${variable}='${env[variable] ?? ''}'`).join('\n');
		const script = path.join(dir, `${name}-${id}.sh`);
		fs.writeFileSync(script, `unset CI CONTINUOUS_INTEGRATION\n${exports}\nexport TERM=xterm-256color\ncd '${dir}'\n${command.replaceAll('EXIT_FILE', exitFile)}\n`);
		const tmux = (...args: string[]) => execFileSync('tmux', ['-S', socket, ...args], {env, encoding: 'utf8'});
		tmux('new-session', '-d', '-s', 'main', '-x', '120', '-y', '40', `sh '${script}'`);
		return {socket, exitFile, tmux};
	}

	async function exitStatus(file: string): Promise<number> {
		const text = await waitFor(() => fs.existsSync(file) && /EXIT=\d+/.exec(fs.readFileSync(file, 'utf8'))?.[0], {timeout: 30_000, what: `an exit status in ${file}`});
		return Number(text.slice('EXIT='.length));
	}

	const node = `'${process.execPath}' '${cliPath}'`;
	const quote = (args: string[]) => args.map(arg => `'${arg}'`).join(' ');

	it.runIf(hasTmux).each(['tui', 'plain'])('the terminal closed (tmux kill-window, its shell ignoring SIGHUP: a dead pty alone), --progress %s: exit 75, final checkpoint, job:done; watch shows it interrupted', async progress => {
		const {output, log, args} = fresh('dead-pty');
		// The wrapper survives the hang-up to record cage's status; cage only sees its terminal go.
		const term = terminal('dead-pty', `trap '' HUP\n${node} ${quote(args)} --progress ${progress}\necho "EXIT=$?" > 'EXIT_FILE'`);
		await checkpointed(log);
		term.tmux('kill-window', '-t', 'main');
		expect(await exitStatus(term.exitFile)).toBe(75);
		expectStopped(output, log);

		// The watch dashboard, drawn from the log, ends the job as interrupted.
		const watch = terminal('watch-dead-pty', `${node} watch '${log}' --no-follow\necho "EXIT=$?" > 'EXIT_FILE'\nsleep 60`);
		expect(await exitStatus(watch.exitFile)).toBe(0);
		const screen = watch.tmux('capture-pane', '-p', '-t', 'main');
		expect(screen).toContain('cage encrypt interrupted');
		expect(screen).not.toContain('cage encrypt running');
		expectResumable(output);
	}, 90_000);

	it.runIf(hasTmux)('cage watch in a terminal that is closed (its shell ignoring SIGHUP) while a job runs ends with 0, neither crashing nor drawing on for nobody', async () => {
		const {log, args} = fresh('watched');
		const job = startCage([...args, '--progress', 'none'], {env});
		await checkpointed(log);
		const watch = terminal('watch-closed', `trap '' HUP\n${node} watch '${log}'\necho "EXIT=$?" > 'EXIT_FILE'`);
		// The watch opens on its jobs table: the job listed running.
		await waitFor(() => watch.tmux('capture-pane', '-p', '-t', 'main').includes('Jobs 1 · 1 running'), {timeout: 30_000, what: 'the job running on the watch dashboard'});
		watch.tmux('kill-window', '-t', 'main');
		expect(await exitStatus(watch.exitFile)).toBe(0);
		job.child.kill('SIGTERM');
		expect(await job.exited).toBe(75);
	}, 60_000);

	it.runIf(hasTmux && hasBash)('the terminal closed under an interactive shell (kill-window: SIGHUP from bash plus a dead pty): exit 75, final checkpoint, job:done', async () => {
		const {output, log, args} = fresh('hangup');
		// An interactive bash runs cage as a job, as a user's terminal does; on the hang-up bash sends
		// SIGHUP to its jobs and exits. The sh between them only records cage's status.
		const term = terminal('hangup', "export PS1='ready$ '\nexec bash --norc --noprofile -i");
		await waitFor(() => term.tmux('capture-pane', '-p', '-t', 'main').includes('ready$'), {timeout: 15_000, what: 'the bash prompt'});
		term.tmux('send-keys', '-t', 'main', '-l', `sh -c 'trap "" HUP; ${node.replaceAll("'", '"')} ${args.map(arg => `"${arg}"`).join(' ')} --progress tui; echo "EXIT=$?" > "${path.join(dir, 'hangup.exit')}"'`);
		term.tmux('send-keys', '-t', 'main', 'Enter');
		await checkpointed(log);
		term.tmux('kill-window', '-t', 'main');
		expect(await exitStatus(path.join(dir, 'hangup.exit'))).toBe(75);
		expectStopped(output, log);
		expectResumable(output);
	}, 90_000);

	it.runIf(hasTmux)('q on the dashboard: exit 75, final checkpoint, job:done', async () => {
		const {output, log, args} = fresh('quit');
		const term = terminal('quit', `${node} ${quote(args)} --progress tui\necho "EXIT=$?" > 'EXIT_FILE'\nsleep 60`);
		await checkpointed(log);
		term.tmux('send-keys', '-t', 'main', 'q');
		expect(await exitStatus(term.exitFile)).toBe(75);
		expectStopped(output, log);
	}, 90_000);

	it.each(['SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGINT'] as const)('%s: exit 75, final checkpoint, job:done, and the resume finishes', async signal => {
		const {output, log, args} = fresh(signal.toLowerCase());
		const run = startCage([...args, '--progress', 'plain'], {env});
		await checkpointed(log);
		run.child.kill(signal);
		expect(await run.exited).toBe(75);
		expect(run.stderr()).toContain(`${signal}: stopping at the next block and saving the checkpoint`);
		expect(run.stderr()).toContain(`resume with: cage resume ${output}`);
		expectStopped(output, log);
		expectResumable(output);
	}, 90_000);

	// Two different signals: two of the same kind sent at once may reach the process as one.
	it.each([['SIGINT', 'SIGTERM'], ['SIGTERM', 'SIGINT']] as const)('a second signal (%s, then %s) exits at once, still with job:done in the audit log and a whole checkpoint to resume from', async (first, second) => {
		const {output, log, args} = fresh(`twice-${first.toLowerCase()}`);
		const run = startCage([...args, '--progress', 'plain'], {env});
		await checkpointed(log);
		run.child.kill(first);
		run.child.kill(second);
		expect(await run.exited).toBe(75);
		expect(run.stderr()).toMatch(/SIG(INT|TERM): stopped at once; the last checkpoint/);
		const done = expectStopped(output, log, {final: false});
		expect(done.error).toMatch(/^stopped at once by a second SIG(INT|TERM)$/);
		// The checkpoint it names is one the job wrote whole.
		expect(done.resumeCommand).toMatch(/^cage resume /);
		expectResumable(output);
	}, 90_000);

	it.runIf(hasBash)('SIGPIPE: cage decrypt x.age | head -c 1000 exits 141, records job:done (interrupted: the reader closed the pipe), no stack trace', async () => {
		const encrypted = path.join(dir, 'pipe.age');
		if (!fs.existsSync(encrypted)) execFileSync('age', ['-r', recipient, '-o', encrypted, plain]);
		const log = path.join(dir, 'pipe.audit.jsonl');
		const status = path.join(dir, 'pipe.status');
		const stderr = path.join(dir, 'pipe.stderr');
		const head = path.join(dir, 'pipe.head');
		const pipeline = `${node} decrypt '${encrypted}' -i '${key}' --rate 8MiB --progress plain --audit-log '${log}' 2> '${stderr}' | head -c 1000 > '${head}'; echo "\${PIPESTATUS[0]}" > '${status}'`;
		const shell = spawn('bash', ['-c', pipeline], {env, stdio: 'ignore'});
		await new Promise(resolve => shell.on('close', resolve));
		expect(fs.readFileSync(head).length).toBe(1000);
		expect(Buffer.compare(fs.readFileSync(head), fs.readFileSync(plain).subarray(0, 1000))).toBe(0);
		expect(fs.readFileSync(status, 'utf8').trim()).toBe('141');
		const lines = readLog(log);
		const done = lines.at(-1)!;
		expect(done).toMatchObject({type: 'job:done', outcome: 'interrupted'});
		expect(done.error).toMatch(/the reader of stdout closed the pipe/);
		const messages = fs.readFileSync(stderr, 'utf8');
		expect(messages).not.toMatch(/\n\s+at |Error:|EPIPE/);
		const watched = cage(['watch', log, '--no-follow', '--progress', 'json'], {env});
		const events = watched.stdout.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line) as AuditLine);
		expect(events.at(-1)).toMatchObject({type: 'job:done', outcome: 'interrupted'});
	}, 60_000);
});
