/**
 * `kill -9` at 20 random moments of `cage backup prune` (real processes, real SIGKILL): at the
 * instant of each kill the registry is whole, lists no generation as there whose file is gone, and
 * every generation file on disk is one it lists; the next prune (the CLI, or the library's
 * prune()) finishes the journal and ends
 * with exactly what retention keeps (an interrupted create it never touches). Three files of three
 * generations each, and an interrupted fourth of one; the slow-prune fault point pauses 15 ms
 * before each step, so that the kills land inside the prune and not in node's start.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, expect, it} from 'vitest';
import {cage, makeSandbox, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';
import {checkBackupDir, type DirState} from '../helpers/backup-dir.js';
import {prng} from '../helpers/prng.js';
import {prune as pruneLibrary} from '../../source/backup/prune.js';

const sandbox = makeSandbox('cage-prune-kill-');
const env = {...sandbox.env, XDG_DATA_HOME: path.join(sandbox.dir, 'data')};
afterAll(() => sandbox.cleanup());

const master = path.join(sandbox.dir, 'master');
const files = ['a.bin', 'b.bin', 'c.bin'].map(name => path.join(sandbox.dir, name));
const quiet = ['--progress', 'none', '--no-audit'];

beforeAll(async () => {
	const key = path.join(sandbox.dir, 'key.txt');
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	for (const file of files) writeRandomFile(file, 200_000);
	const create = ['backup', 'create', '-r', recipient, '--to', master, '--chunk-size', '64K', '--force', '--keep-last', '0', ...quiet];
	for (let day = 0; day < 3; day++) {
		const made = cage([...create, ...files], {env});
		expect(made.status, made.stderr).toBe(0);
	}

	// A fourth generation of a.bin, interrupted after its first checkpoint: resumable, so never pruned.
	const killed = startCage([...create, files[0]!, '--rate', '256K'], {env});
	await waitFor(() => fs.readdirSync(master).some(name => name.endsWith('.g4.age.checkpoint.json')), {what: 'the interrupted create\'s checkpoint'});
	killed.child.kill('SIGKILL');
	await killed.exited;
});

/** Per source: the generations and their statuses. */
const bySource = (state: DirState) => Object.fromEntries(Object.entries(state.registry!.sources).map(([source, entry]) => [path.basename(source), entry.generations.map(g => `${g.generation}:${g.status}`)]));

it('kill -9 at 20 random moments of backup prune, then prune again: registry, manifests and files agree, and retention keeps what it must', async () => {
	expect(bySource(checkBackupDir(master, 'before'))).toEqual({'a.bin': ['1:complete', '2:complete', '3:complete', '4:partial'], 'b.bin': ['1:complete', '2:complete', '3:complete'], 'c.bin': ['1:complete', '2:complete', '3:complete']});
	const prune = ['backup', 'prune', '--keep-last', '1', '--to'];
	const slowed = {...env, CAGE_FAULT: 'slow-prune'};
	const measure = path.join(sandbox.dir, 'measure');
	fs.cpSync(master, measure, {recursive: true});
	const started = Date.now();
	expect(cage([...prune, measure], {env: slowed}).status).toBe(0);
	const whole = Math.max(300, Date.now() - started);
	const kept = {'a.bin': ['3:complete', '4:partial'], 'b.bin': ['3:complete'], 'c.bin': ['3:complete']};
	expect(bySource(checkBackupDir(measure, 'measured'))).toEqual(kept);

	const random = prng(2907);
	const seen = new Set<string>();
	for (let moment = 0; moment < 20; moment++) {
		const work = path.join(sandbox.dir, `work-${moment}`);
		fs.cpSync(master, work, {recursive: true});
		const delay = Math.floor(random() * whole * 1.1);
		const job = startCage([...prune, work], {env: slowed});
		await new Promise(resolve => setTimeout(resolve, delay));
		job.child.kill('SIGKILL');
		await job.exited;
		const what = `moment ${moment} (${delay} ms of ${whole})`;
		const killed = checkBackupDir(work, what);
		const statuses = Object.values(bySource(killed)).flat();
		const generationFiles = killed.names.filter(name => name.endsWith('.age')).length;
		seen.add(statuses.some(status => status.endsWith(':pruning')) ? `journaled, ${generationFiles} files left` : statuses.length === 10 ? 'not started' : 'done');
		// The interrupted create is never touched.
		expect(statuses, what).toContain('4:partial');

		// Pruned again by the CLI every fourth time, else by the library's prune() in this process (the
		// same code, without a process start: the kills are what needs processes).
		if (moment % 4 === 0) {
			const again = cage([...prune, work], {env});
			expect(again.status, `${what}: ${again.stderr}`).toBe(0);
		} else {
			const report = await pruneLibrary(work, {keepLast: 1, keepDays: 0});
			expect(report.orphans.filter(orphan => !orphan.removed), what).toEqual([]);
		}

		const after = checkBackupDir(work, `${what}, pruned again`, {temporaries: false});
		expect(bySource(after), what).toEqual(kept);
		// The files and manifests are exactly those of the generations kept (and the interrupted one's partial output and checkpoint).
		const manifests = Object.fromEntries(Object.entries(after.manifests!.generations).map(([source, generations]) => [path.basename(source), Object.keys(generations)]));
		expect(manifests, what).toEqual({'a.bin': ['3'], 'b.bin': ['3'], 'c.bin': ['3']});
		expect(after.names.filter(name => /\.g\d+\.age/.test(name)).map(name => name.replace(/\.[\da-f]{8}\./, '.')), what).toEqual([
			'a.bin.g3.age',
			'a.bin.g4.age.checkpoint.json',
			// The claim the killed create left: stale, taken over by its resume.
			'a.bin.g4.age.checkpoint.json.lock',
			'a.bin.g4.age.partial',
			'b.bin.g3.age',
			'c.bin.g3.age',
		]);
		fs.rmSync(work, {recursive: true});
	}

	if (process.env.CAGE_TEST_DEBUG) console.log([...seen]);
	expect([...seen].some(state => state.startsWith('journaled')), [...seen].join(', ')).toBe(true);
	expect(seen.size, [...seen].join(', ')).toBeGreaterThanOrEqual(2);
}, 120_000);
