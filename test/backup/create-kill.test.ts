/**
 * `kill -9` at 20 random moments of `cage backup create` and of what a user runs next (`backup
 * resume`, or the same create again, which continues the interrupted generation), with real
 * processes and real SIGKILL; every second kill is followed by that recovery, unkilled. At the instant of
 * each kill the registry is whole and never lists a generation whose file is gone, no generation
 * file is on disk that it does not list; after the recovery no generation is left unfinished, and
 * every generation kept decrypts with the real `age -d` and `backup restore` brings it back byte
 * for byte. 1 MiB in 128 KiB chunks, slowed with --rate (and the retention prune with the
 * slow-prune fault point), so that the kills land inside the job and not in node's start.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, expect, it} from 'vitest';
import {cage, makeSandbox, startCage, writeRandomFile} from '../helpers/cage.js';
import {checkBackupDir, generationsOf} from '../helpers/backup-dir.js';
import {prng} from '../helpers/prng.js';

const sandbox = makeSandbox('cage-create-kill-');
const env = {...sandbox.env, XDG_DATA_HOME: path.join(sandbox.dir, 'data')};
afterAll(() => sandbox.cleanup());

const key = path.join(sandbox.dir, 'key.txt');
let recipient = '';
beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
});

const ageDecrypt = (file: string): Buffer | undefined => {
	const result = spawnSync('age', ['-d', '-i', key, file], {maxBuffer: 64 * 1024 * 1024});
	return result.status === 0 ? result.stdout : undefined;
};

it('kill -9 at 20 random moments of backup create, then backup resume or create again: registry, manifests and files agree, and every generation kept is the file', async () => {
	const dir = path.join(sandbox.dir, 'backups');
	const file = path.join(sandbox.dir, 'db.dump');
	writeRandomFile(file, 1024 * 1024 + 4321);
	const want = fs.readFileSync(file);
	const common = ['backup', 'create', file, '-r', recipient, '--to', dir, '--chunk-size', '128K', '--force', '--keep-last', '3', '--progress', 'none', '--no-audit'];
	const slowed = {...env, CAGE_FAULT: 'slow-prune'};
	const started = Date.now();
	const first = cage([...common, '--rate', '4MiB'], {env: slowed});
	expect(first.status, first.stderr).toBe(0);
	const whole = Math.max(300, Date.now() - started);
	const random = prng(1507);
	const resume = ['backup', 'resume', file, '--to', dir, '--keep-last', '3', '--progress', 'none', '--no-audit'];
	// The states the kills found: the test means something only if they hit the job in several.
	const seen = new Set<string>();
	let resumable = false;
	for (let moment = 0; moment < 20; moment++) {
		const delay = Math.floor(random() * whole * 1.1);
		// Every other kill hits what a user runs after the one before: backup resume, or the create
		// again (which continues the interrupted generation).
		const args = moment % 2 === 1 && resumable && moment % 4 === 1 ? resume : common;
		const job = startCage([...args, '--rate', '4MiB'], {env: slowed});
		await new Promise(resolve => setTimeout(resolve, delay));
		job.child.kill('SIGKILL');
		await job.exited;
		const what = `moment ${moment} (${args[1]!}, killed at ${delay} ms of ${whole})`;
		const killed = checkBackupDir(dir, what);
		const newest = Object.values(killed.registry!.sources)[0]!.generations.at(-1)!;
		resumable = newest.status === 'partial' && fs.existsSync(path.join(dir, `${newest.file}.checkpoint.json`));
		seen.add(newest.status === 'partial' ? (resumable ? 'partial, checkpointed' : fs.existsSync(path.join(dir, newest.file)) ? 'finished, no manifest' : 'partial, no checkpoint') : generationsOf(killed).some(([, status]) => status === 'pruning') ? 'pruning' : newest.status);
		if (moment % 2 === 0) continue;

		// What a user does next: resume the interrupted generation, or run the nightly create again.
		const recover = moment % 4 === 3 && resumable ? cage(resume, {env}) : cage(common, {env});
		expect(recover.status, `${what}: ${recover.stderr}`).toBe(0);
		const after = checkBackupDir(dir, `${what}, recovered`, {temporaries: false});
		const generations = Object.values(after.registry!.sources)[0]!.generations;
		expect(generations.map(g => g.status), what).toEqual(generations.map(() => 'complete'));
		// Keep-last 3 (one create before the kills, and one at least every two moments). A kill that
		// left the newest generation unfinished (a resume killed late on a loaded machine) has the
		// create go on with it, or drop it if nothing can resume it: one fewer, never a finished one.
		if (newest.status === 'partial') expect(generations.length, what).toBeGreaterThanOrEqual(2);
		else expect(generations.length, what).toBe(3);
		expect(generations.length, what).toBeLessThanOrEqual(3);
		// Numbers only grow: the newest is the newest ever made.
		const numbers = generations.map(g => g.generation);
		expect(numbers, what).toEqual([...numbers].sort((a, b) => a - b));
		expect(Buffer.compare(ageDecrypt(path.join(dir, generations.at(-1)!.file))!, want), `${what}: age -d of the newest`).toBe(0);
		resumable = false;
	}

	if (process.env.CAGE_TEST_DEBUG) console.log([...seen]);
	expect(seen.size, [...seen].join(', ')).toBeGreaterThanOrEqual(2);
	// Every generation kept: age -d and backup restore give the file back.
	const {registry} = checkBackupDir(dir, 'at the end', {temporaries: false});
	for (const generation of Object.values(registry!.sources)[0]!.generations) {
		expect(Buffer.compare(ageDecrypt(path.join(dir, generation.file))!, want)).toBe(0);
		const out = path.join(sandbox.dir, `restored-${generation.generation}`);
		const restored = cage(['backup', 'restore', file, '--generation', String(generation.generation), '-i', key, '-o', out, '--to', dir, '--progress', 'none', '--no-audit'], {env});
		expect(restored.status, restored.stderr).toBe(0);
		expect(Buffer.compare(fs.readFileSync(out), want)).toBe(0);
	}

	const verified = cage(['backup', 'verify', file, '-i', key, '--to', dir, '--progress', 'none', '--no-audit'], {env});
	expect(verified.status, verified.stderr).toBe(0);
}, 120_000);
