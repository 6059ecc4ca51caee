/**
 * `q` on the dashboard of `cage backup create` and of `cage backup verify`, in a real terminal
 * (the built CLI in tmux): the job stops cleanly with the interrupted exit status (75), the
 * backup directory is consistent (no generation listed complete that is not, no unregistered
 * file), the job is resumable, and `cage backup resume` (or the same create again, or `cage
 * resume` of the verify) finishes it; every generation then decrypts with `age -d` to the file.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, cliPath, makeSandbox, waitFor, writeRandomFile} from '../helpers/cage.js';
import {checkBackupDir, generationsOf} from '../helpers/backup-dir.js';
import {startTmux, tmuxPath, type TmuxSession} from '../helpers/tmux.js';

const MiB = 2 ** 20;
const hasAge = ['age', 'age-keygen'].every(tool => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);

describe.runIf(hasAge && fs.existsSync(tmuxPath))('q on the backup dashboard', () => {
	const sandbox = makeSandbox('cage-backup-quit-');
	const {dir, env} = sandbox;
	const key = path.join(dir, 'key.txt');
	const file = path.join(dir, 'db.dump');
	let recipient = '';
	let runs = 0;
	const sessions: TmuxSession[] = [];

	beforeAll(() => {
		execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
		recipient = execFileSync('age-keygen', ['-y', key], {encoding: 'utf8'}).trim();
		// 24 chunks at 4 MiB/s: about 6 s, mid-job when q is pressed.
		writeRandomFile(file, 24 * MiB);
	});

	afterAll(() => {
		for (const session of sessions) session.kill();
		sandbox.cleanup();
	});

	const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

	/** Run cage with `args` on the dashboard in a 120x40 tmux window; its exit status goes to a file. */
	function onDashboard(args: string[]): {session: TmuxSession; exitFile: string; log: string} {
		const id = ++runs;
		const exitFile = path.join(dir, `run-${id}.exit`);
		const log = path.join(dir, `run-${id}.audit.jsonl`);
		const variables = ['CAGE_CONFIG_DIR', 'XDG_STATE_HOME', 'XDG_DATA_HOME', 'HOME'].map(name => `${name}='${env[name]!}'`);
		const command = `env -u CI ${variables.join(' ')} NO_COLOR=1 TERM=xterm-256color '${process.execPath}' '${cliPath}' ${args.map(arg => `'${arg}'`).join(' ')} --audit-log '${log}' --progress tui; echo "EXIT=$?" > '${exitFile}'; sleep 60`;
		const session = startTmux(command, {width: 120, height: 40, env});
		sessions.push(session);
		return {session, exitFile, log};
	}

	/** Wait until the job's audit log says `chunks` chunks are committed to a checkpoint (so a stop has something to keep). */
	async function committed(log: string, chunks: number): Promise<void> {
		await waitFor(
			() =>
				fs.existsSync(log) &&
				fs
					.readFileSync(log, 'utf8')
					.split('\n')
					.some(line => line.startsWith('{') && (JSON.parse(line) as {type: string; chunksDone?: number}).type === 'job:checkpoint' && (JSON.parse(line) as {chunksDone: number}).chunksDone >= chunks),
			{timeout: 30_000, what: `a checkpoint with ${chunks} chunks in ${log}`},
		);
	}

	async function exitStatus(exitFile: string): Promise<number> {
		const text = await waitFor(() => fs.existsSync(exitFile) && /EXIT=\d+/.exec(fs.readFileSync(exitFile, 'utf8'))?.[0], {timeout: 30_000, what: `an exit status in ${exitFile}`});
		return Number(text.slice('EXIT='.length));
	}

	/** Every complete generation of the file decrypts with age -d to it. */
	function expectGenerationsDecrypt(backups: string): void {
		const state = checkBackupDir(backups, 'after the resume');
		const generations = Object.values(state.registry!.sources).flatMap(entry => entry.generations);
		expect(generations.length).toBeGreaterThan(0);
		for (const generation of generations) {
			expect(generation.status, `generation ${generation.generation}`).toBe('complete');
			const plain = execFileSync('age', ['-d', '-i', key, path.join(backups, generation.file)], {maxBuffer: 64 * MiB});
			expect(sha(plain)).toBe(sha(fs.readFileSync(file)));
		}
	}

	const create = (backups: string) => ['backup', 'create', file, '-r', recipient, '--to', backups, '--chunk-size', '1MiB', '--rate', '4MiB', '--force'];

	it('backup create: q stops it with exit 75, the generation partial and resumable; backup resume finishes it, and it decrypts', async () => {
		const backups = path.join(dir, 'backups-resume');
		const run = onDashboard(create(backups));
		await run.session.waitForScreen(/Chunks \d+\/24/);
		await committed(run.log, 3);
		run.session.send('q');
		expect(await exitStatus(run.exitFile)).toBe(75);
		const stopped = checkBackupDir(backups, 'after q');
		expect(generationsOf(stopped)).toEqual([[1, 'partial']]);
		expect(stopped.names.some(name => name.endsWith('.g1.age.checkpoint.json'))).toBe(true);
		expect(stopped.names.some(name => name.endsWith('.g1.age'))).toBe(false);
		const listed = JSON.parse(cage(['backup', 'list', file, '--to', backups, '--json'], {env}).stdout) as unknown;
		expect(JSON.stringify(listed)).toContain('"partial"');

		const resumed = cage(['backup', 'resume', file, '--to', backups, '--progress', 'none', '--no-audit'], {env});
		expect(resumed.status, resumed.stderr).toBe(0);
		expect(generationsOf(checkBackupDir(backups, 'after backup resume'))).toEqual([[1, 'complete']]);
		expectGenerationsDecrypt(backups);
	}, 90_000);

	it('backup create: q, then the same create again continues the interrupted generation; it decrypts', async () => {
		const backups = path.join(dir, 'backups-again');
		const run = onDashboard(create(backups));
		await committed(run.log, 3);
		run.session.send('q');
		expect(await exitStatus(run.exitFile)).toBe(75);
		expect(generationsOf(checkBackupDir(backups, 'after q'))).toEqual([[1, 'partial']]);
		// What the nightly job runs: the same create, without --force (and not slowed).
		const again = cage(['backup', 'create', file, '-r', recipient, '--to', backups, '--chunk-size', '1MiB', '--progress', 'none', '--no-audit'], {env});
		expect(again.status, again.stderr).toBe(0);
		expect(again.stderr).toContain('continuing generation 1 of');
		expect(generationsOf(checkBackupDir(backups, 'after the create again'))).toEqual([[1, 'complete']]);
		expectGenerationsDecrypt(backups);
	}, 90_000);

	it('backup verify: q stops it with exit 75 and its checkpoint kept; cage resume finishes it with every generation ok', async () => {
		const backups = path.join(dir, 'backups-verify');
		const made = cage(['backup', 'create', file, '-r', recipient, '--to', backups, '--chunk-size', '1MiB', '--progress', 'none', '--no-audit'], {env});
		expect(made.status, made.stderr).toBe(0);
		const run = onDashboard(['backup', 'verify', file, '-i', key, '--to', backups, '--rate', '4MiB']);
		await run.session.waitForScreen(/Chunks \d+\/24/);
		await committed(run.log, 3);
		run.session.send('q');
		expect(await exitStatus(run.exitFile)).toBe(75);
		const checkpoints = fs.readdirSync(backups).filter(name => /^\.cage_backups\.verify-[\da-f]+\.checkpoint\.json$/.test(name));
		expect(checkpoints).toHaveLength(1);
		expect(generationsOf(checkBackupDir(backups, 'after q'))).toEqual([[1, 'complete']]);

		const resumed = cage(['resume', backups, '--progress', 'none', '--no-audit'], {env});
		expect(resumed.status, resumed.stderr).toBe(0);
		expect(fs.readdirSync(backups).filter(name => name.includes('.verify-'))).toEqual([]);
		expect(generationsOf(checkBackupDir(backups, 'after the resumed verify'))).toEqual([[1, 'complete']]);
		expectGenerationsDecrypt(backups);
	}, 90_000);
});
