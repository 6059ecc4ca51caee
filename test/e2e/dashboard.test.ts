/**
 * The dashboard in a real terminal: tmux runs the built CLI with --progress tui, and the tests read
 * the screen with capture-pane and type with send-keys. Config, state and home live in a sandbox.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cliPath, makeSandbox, waitFor, writeRandomFile} from '../helpers/cage.js';

const MiB = 2 ** 20;
const hasTools = ['tmux', 'age', 'age-keygen'].every(tool => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);

function sha256(file: string): string {
	return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** A private tmux server (own socket) in the sandbox. */
class Terminal {
	readonly socket: string;
	#runs = 0;

	constructor(
		readonly dir: string,
		readonly env: NodeJS.ProcessEnv,
	) {
		this.socket = path.join(dir, 'tmux.sock');
	}

	tmux(...args: string[]): string {
		return execFileSync('tmux', ['-S', this.socket, ...args], {env: this.env, encoding: 'utf8'});
	}

	/** Run a shell command line in a new session of `columns` x `rows`; returns where its exit code and stty land. */
	run(command: string, columns: number, rows: number): {session: string; exitFile: string; sttyFile: string} {
		const id = ++this.#runs;
		const session = `s${id}`;
		const exitFile = path.join(this.dir, `exit-${id}.txt`);
		const sttyFile = path.join(this.dir, `stty-${id}.txt`);
		const script = path.join(this.dir, `run-${id}.sh`);
		const exports = ['CAGE_CONFIG_DIR', 'XDG_STATE_HOME', 'HOME', 'NO_COLOR'].map(name => `export ${name}='${this.env[name] ?? ''}'`).join('\n');
		fs.writeFileSync(
			script,
			`unset CI CONTINUOUS_INTEGRATION\n${exports}\ncd '${this.dir}'\n${command}\necho "EXIT=$?" > '${exitFile}.tmp'\nstty -a > '${sttyFile}' 2>&1\nmv '${exitFile}.tmp' '${exitFile}'\nsleep 600\n`,
		);
		this.tmux('new-session', '-d', '-x', String(columns), '-y', String(rows), '-s', session, `sh '${script}'`);
		return {session, exitFile, sttyFile};
	}

	screen(session: string): string {
		return this.tmux('capture-pane', '-p', '-t', session);
	}

	keys(session: string, ...keys: string[]): void {
		this.tmux('send-keys', '-t', session, ...keys);
	}

	kill(): void {
		try {
			this.tmux('kill-server');
		} catch {
			// Already gone.
		}
	}
}

/** Bytes done on the screen, from the throughput pane's "12.0 MiB / 128 MiB". */
function bytesShown(screen: string): number | undefined {
	const match = /([\d.]+) (B|KiB|MiB|GiB) \/ \d/.exec(screen);
	if (!match) return undefined;
	const unit = {B: 1, KiB: 1024, MiB: MiB, GiB: 1024 * MiB}[match[2] as 'B'];
	return Number(match[1]) * unit;
}

/** One frame drawn in place: the header on the first line, and no stale copy of any line. */
function drawnInPlace(screen: string): void {
	const lines = screen.split('\n');
	expect(lines[0]).toContain('cage encrypt');
	for (const title of ['cage encrypt', 'Throughput', 'now ', 'Chunks ']) expect(lines.filter(line => line.includes(title))).toHaveLength(1);
}

async function exitCode(file: string, timeout = 30_000): Promise<number> {
	const text = await waitFor(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8'), {timeout, what: `exit code in ${file}`});
	return Number(/EXIT=(\d+)/.exec(text)![1]);
}

describe.runIf(hasTools)('dashboard in a real terminal (tmux)', () => {
	const sandbox = makeSandbox('cage-e2e-dash-');
	const term = new Terminal(sandbox.dir, sandbox.env);
	let recipient = '';
	const node = `'${process.execPath}' '${cliPath}'`;

	beforeAll(() => {
		const keyFile = path.join(sandbox.dir, 'key.txt');
		execFileSync('age-keygen', ['-o', keyFile], {stdio: 'ignore'});
		recipient = /public key: (age1\w+)/.exec(fs.readFileSync(keyFile, 'utf8'))![1]!;
	});

	afterAll(() => {
		term.kill();
		sandbox.cleanup();
	});

	it('120x40: panes and numbers, p pauses (bytes stop) and resumes, q exits 75 with a checkpoint, resume finishes, age decrypts', async () => {
		const input = path.join(sandbox.dir, 'big.bin');
		writeRandomFile(input, 128 * MiB);
		const run = term.run(`${node} encrypt big.bin -r ${recipient} -o out.age --rate 20MiB --progress tui --chunk-size 1MiB`, 120, 40);
		const screen = () => term.screen(run.session);

		const first = await waitFor(() => {
			const text = screen();
			return (bytesShown(text) ?? 0) > 0 && text.includes('Audit tail') ? text : undefined;
		}, {timeout: 20_000, what: 'the dashboard with bytes done'});
		expect(first).toContain('cage encrypt');
		expect(first).toContain('● running');
		expect(first).toMatch(/big\.bin -> .*out\.age/);
		expect(first).toMatch(/now [\d.]+ MiB\/s(?: \(limit [^)]+\))? {2}· {2}ETA \S+ {2}· {2}avg [\d.]+ MiB\/s/);
		expect(first).toContain('128 MiB');
		expect(first).toMatch(/Chunks \d+\/128/);
		expect(first).toContain('Anomalies');
		expect(first).toMatch(/#\d+ chunk \d+ (started|done)/);
		expect(first).toContain('q quit');
		drawnInPlace(first);

		term.keys(run.session, 'p');
		await waitFor(() => screen().includes('● paused'), {timeout: 10_000, what: 'paused'});
		// In-flight chunks stop at their next block; then the count must hold still.
		await new Promise(resolve => setTimeout(resolve, 500));
		const held = bytesShown(screen())!;
		await new Promise(resolve => setTimeout(resolve, 1500));
		const stillHeld = bytesShown(screen())!;
		expect(stillHeld).toBe(held);
		expect(screen()).toContain('p resume');
		// After many frames, the screen still holds exactly one.
		drawnInPlace(screen());

		term.keys(run.session, 'p');
		await waitFor(() => screen().includes('● running') && (bytesShown(screen()) ?? 0) > held, {timeout: 10_000, what: 'running again and bytes growing'});

		term.keys(run.session, 'q');
		expect(await exitCode(run.exitFile)).toBe(75);
		expect(fs.existsSync(path.join(sandbox.dir, 'out.age.checkpoint.json'))).toBe(true);
		const after = screen();
		expect(after).toContain('cage encrypt interrupted');
		// The rate limit was the job's choice: the line to resume keeps it.
		expect(after).toContain('resume with: cage resume out.age --rate 20MiB');
		// Ink left raw mode: the terminal is back to canonical mode with echo.
		const stty = fs.readFileSync(run.sttyFile, 'utf8');
		expect(stty).toMatch(/(^|\s)icanon(\s|$)/);
		expect(stty).toMatch(/(^|\s)echo(\s|$)/);

		const resume = term.run(`${node} resume out.age --progress tui`, 120, 40);
		expect(await exitCode(resume.exitFile, 60_000)).toBe(0);
		expect(term.screen(resume.session)).toContain('completed');
		const output = path.join(sandbox.dir, 'roundtrip.bin');
		execFileSync('age', ['-d', '-i', path.join(sandbox.dir, 'key.txt'), '-o', output, path.join(sandbox.dir, 'out.age')]);
		expect(sha256(output)).toBe(sha256(input));
	}, 90_000);

	it('80x24: every pane fits while running; the summary stays after a completed job', async () => {
		const input = path.join(sandbox.dir, 'medium.bin');
		writeRandomFile(input, 72 * MiB);
		const run = term.run(`${node} encrypt medium.bin -r ${recipient} -o medium.age --rate 16MiB --progress tui --chunk-size 1MiB`, 80, 24);
		const live = await waitFor(() => {
			const text = term.screen(run.session);
			return (bytesShown(text) ?? 0) > 0 && text.includes('Audit tail') ? text : undefined;
		}, {timeout: 20_000, what: 'the dashboard at 80x24'});
		const lines = live.split('\n');
		for (const title of ['cage encrypt', 'Throughput', 'Chunks', 'Anomalies', 'Audit tail', 'q quit']) expect(live).toContain(title);
		expect(Math.max(...lines.map(line => [...line].length))).toBeLessThanOrEqual(80);
		// The header is still on the first line: the frame did not scroll the screen.
		expect(lines[0]).toContain('cage encrypt');

		expect(await exitCode(run.exitFile)).toBe(0);
		const summary = term.screen(run.session);
		expect(summary).toContain('cage encrypt completed');
		expect(summary).toContain('72.0 MiB of 72.0 MiB (100.0%)');
		expect(summary).toMatch(/average +[\d.]+ MiB\/s/);
		expect(summary).toContain('72/72 done, 0 failed, 0 skipped');
		const output = path.join(sandbox.dir, 'medium.out');
		execFileSync('age', ['-d', '-i', path.join(sandbox.dir, 'key.txt'), '-o', output, path.join(sandbox.dir, 'medium.age')]);
		expect(sha256(output)).toBe(sha256(input));
	}, 60_000);

	it('follows a resize of the terminal: 120x40 to 80x24 and back; Ctrl-C exits 75 with a checkpoint', async () => {
		const input = path.join(sandbox.dir, 'resize.bin');
		writeRandomFile(input, 80 * MiB);
		const run = term.run(`${node} encrypt resize.bin -r ${recipient} -o resize.age --rate 12MiB --progress tui --chunk-size 1MiB`, 120, 40);
		const screen = () => term.screen(run.session);
		const widest = (text: string) => Math.max(...text.split('\n').map(line => line.trimEnd().length));
		await waitFor(() => screen().includes('Audit tail') && widest(screen()) > 100, {timeout: 20_000, what: 'the dashboard at 120 columns'});
		term.tmux('resize-window', '-t', run.session, '-x', '80', '-y', '24');
		const small = await waitFor(() => {
			const text = screen();
			const lines = text.split('\n');
			return lines[0]!.includes('cage encrypt') && text.includes('Audit tail') && widest(text) <= 80 && text.includes('q quit') ? text : undefined;
		}, {timeout: 10_000, what: 'the dashboard redrawn at 80x24'});
		expect(small.split('\n').filter(line => line.includes('Throughput'))).toHaveLength(1);
		term.tmux('resize-window', '-t', run.session, '-x', '120', '-y', '40');
		await waitFor(() => {
			const text = screen();
			return text.split('\n')[0]!.includes('cage encrypt') && widest(text) > 100 && text.split('\n').filter(line => line.includes('Throughput')).length === 1;
		}, {timeout: 10_000, what: 'the dashboard redrawn at 120x40'});
		term.keys(run.session, 'C-c');
		expect(await exitCode(run.exitFile)).toBe(75);
		expect(screen()).toContain('resume with: cage resume resize.age');
		expect(fs.existsSync(path.join(sandbox.dir, 'resize.age.checkpoint.json'))).toBe(true);
	}, 60_000);

	it('a batch at 120x40: ? help, tab focus, space pause, r, s skips the file (named at the end); resume retries it', async () => {
		const tree = path.join(sandbox.dir, 'keys');
		fs.mkdirSync(tree);
		for (const [name, size] of [['a.bin', 48 * MiB], ['b.bin', 6 * MiB], ['c.bin', 24 * MiB]] as const) writeRandomFile(path.join(tree, name), size);
		const run = term.run(`${node} encrypt --recursive keys --output-dir keys-out -r ${recipient} --rate 8MiB --progress tui --chunk-size 1MiB`, 120, 40);
		const screen = () => term.screen(run.session);
		const first = await waitFor(() => (screen().includes('file 1/3: ') && (bytesShown(screen()) ?? 0) > 0 ? screen() : undefined), {timeout: 20_000, what: 'the batch dashboard'});
		expect(first).toContain('files done 0 · skipped 0 · total 3');
		// The chunk grid has the focus to begin with.
		expect(first).toMatch(/Chunks [^\n]*\*/);

		term.keys(run.session, '?');
		const help = await waitFor(() => (screen().includes('Help (? or esc to close)') ? screen() : undefined), {timeout: 10_000, what: 'the help overlay'});
		for (const line of ['pause / resume', 'skip the current file (batches)', 'retry failed chunks or files', 'quit: save the checkpoint', 'move focus']) expect(help).toContain(line);
		term.keys(run.session, '?');
		await waitFor(() => !screen().includes('Help (? or esc to close)') && screen().includes('Throughput'), {timeout: 10_000, what: 'the help closed'});

		term.keys(run.session, 'Tab');
		await waitFor(() => /Anomalies[^\n]*\*/.test(screen()) && !/Chunks [^\n]*\*/.test(screen()), {timeout: 10_000, what: 'focus on the anomalies pane'});

		term.keys(run.session, 'Space');
		await waitFor(() => screen().includes('● paused'), {timeout: 10_000, what: 'paused by space'});
		term.keys(run.session, 'Space');
		await waitFor(() => screen().includes('● running'), {timeout: 10_000, what: 'running again'});

		term.keys(run.session, 'r');
		await waitFor(() => screen().includes('retry requested'), {timeout: 10_000, what: 'the retry note'});

		// s skips the file in progress (a.bin): the next one starts, and the count says so.
		term.keys(run.session, 's');
		await waitFor(() => /files done [01] · skipped 1 · total 3/.test(screen()) && /file [23]\/3: /.test(screen()), {timeout: 15_000, what: 'a.bin skipped'});
		expect(await exitCode(run.exitFile, 30_000)).toBe(0);
		const after = screen();
		expect(after).toContain('3 in the batch: 2 done, 1 skipped');
		expect(after).toContain('cage: 1 file(s) skipped (keys/a.bin); retry them with: cage resume keys-out/.cage-batch.checkpoint.json --rate 8MiB');

		const resume = term.run(`${node} resume keys-out --progress tui`, 120, 40);
		expect(await exitCode(resume.exitFile, 60_000)).toBe(0);
		for (const name of ['a.bin', 'b.bin', 'c.bin']) {
			const output = path.join(sandbox.dir, `keys-${name}.out`);
			execFileSync('age', ['-d', '-i', path.join(sandbox.dir, 'key.txt'), '-o', output, path.join(sandbox.dir, 'keys-out', 'keys', `${name}.age`)]);
			expect(sha256(output)).toBe(sha256(path.join(tree, name)));
		}
	}, 120_000);

	it('cage demo (what npm run demo runs): the dashboard, then a verified round trip, and nothing left behind', async () => {
		const run = term.run(`${node} demo --size 96MiB --duration 3`, 120, 40);
		const screen = () => term.screen(run.session);
		const live = await waitFor(() => (screen().includes('Throughput') && /Chunks \d+\/\d+/.test(screen()) ? screen() : undefined), {timeout: 20_000, what: 'the demo dashboard'});
		expect(live).toContain('cage encrypt');
		expect(live).toMatch(/sample\.bin -> .*sample\.bin\.age/);
		expect(await exitCode(run.exitFile, 60_000)).toBe(0);
		const end = screen();
		expect(end).toContain('round trip verified');
		const dir = /cage-demo-\w+/.exec(end)![0];
		expect(fs.existsSync(path.join(os.tmpdir(), dir))).toBe(false);
	}, 90_000);

	it('cage demo stopped with q keeps its files and prints one resume line; that line, pasted, finishes it', async () => {
		// Wide enough that the resume line, with its CAGE_CONFIG_DIR, is not wrapped.
		const run = term.run(`${node} demo --size 96MiB --duration 8`, 200, 40);
		const screen = () => term.screen(run.session);
		await waitFor(() => (/Chunks [1-9]\d*\/\d+/.test(screen()) ? screen() : undefined), {timeout: 20_000, what: 'chunks done'});
		term.keys(run.session, 'q');
		expect(await exitCode(run.exitFile, 30_000)).toBe(75);
		const text = screen();
		expect(text.split('\n').filter(line => line.includes('cage resume'))).toHaveLength(1);
		const line = /resume with: (CAGE_CONFIG_DIR=\S+ cage resume \S+ --rate \d+MiB)$/m.exec(text)![1]!;
		expect(line).toContain(`CAGE_CONFIG_DIR=${sandbox.env.CAGE_CONFIG_DIR!} `);
		// As pasted in a shell that has no CAGE_CONFIG_DIR: the line alone names it.
		const resume = term.run(`unset CAGE_CONFIG_DIR; ${line.replace('cage resume', `${node} resume`)} --progress none`, 200, 40);
		expect(await exitCode(resume.exitFile, 60_000)).toBe(0);
		const kept = /stopped; the demo files stay in (\S+)/.exec(text)![1]!;
		expect(fs.existsSync(path.join(kept, 'sample.bin.age'))).toBe(true);
		fs.rmSync(kept, {recursive: true, force: true});
	}, 90_000);

	it('--theme: an unknown theme is a one-line error before anything is written', async () => {
		writeRandomFile(path.join(sandbox.dir, 'small.bin'), MiB);
		const run = term.run(`${node} encrypt small.bin -r ${recipient} -o themed.age --progress tui --theme neon`, 100, 30);
		// A usage error (exit 2), as in every other progress mode (test/cli/figures.test.ts).
		expect(await exitCode(run.exitFile)).toBe(2);
		expect(term.screen(run.session)).toContain("cage encrypt: --theme: unknown theme 'neon': use one of default, high-contrast, light, mono");
		expect(fs.readdirSync(sandbox.dir).filter(name => name.startsWith('themed.age'))).toEqual([]);
	}, 30_000);

	it('stdin piped (cat x | cage encrypt): keys come from /dev/tty, p pauses a stream job', async () => {
		const input = path.join(sandbox.dir, 'piped.bin');
		writeRandomFile(input, 64 * MiB);
		const run = term.run(`cat piped.bin | ${node} encrypt -r ${recipient} -o piped.age --rate 16MiB --progress tui`, 100, 30);
		const screen = () => term.screen(run.session);
		const first = await waitFor(() => (screen().includes('size unknown') ? screen() : undefined), {timeout: 20_000, what: 'a stream job on the dashboard'});
		expect(first).toContain('stdin -> ');
		expect(first).toContain('ETA stream');
		term.keys(run.session, 'p');
		await waitFor(() => screen().includes('● paused'), {timeout: 10_000, what: 'paused via /dev/tty'});
		term.keys(run.session, 'p');
		await waitFor(() => screen().includes('● running'), {timeout: 10_000, what: 'running again'});
		expect(await exitCode(run.exitFile, 40_000)).toBe(0);
		expect(screen()).toContain('cage encrypt completed');
		const output = path.join(sandbox.dir, 'piped.out');
		execFileSync('age', ['-d', '-i', path.join(sandbox.dir, 'key.txt'), '-o', output, path.join(sandbox.dir, 'piped.age')]);
		expect(sha256(output)).toBe(sha256(input));
	}, 60_000);
});
