/**
 * A full disk under `cage backup create` and `cage backup prune`, for real: the backup directory
 * on a small tmpfs (needs root and mount rights; reported as skipped without them). A create that
 * fills it keeps its checkpoint and exits 75; one that cannot even write the registry, and a
 * prune that cannot, exit 1 with one line naming the file, and change nothing; the registry
 * never lists a partial file as complete; once there is room, the same command succeeds.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, makeSandbox, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';
import {checkBackupDir, generationsOf} from '../helpers/backup-dir.js';

const sandbox = makeSandbox('cage-backup-full-');
const env = {...sandbox.env, XDG_DATA_HOME: path.join(sandbox.dir, 'data')};
const key = path.join(sandbox.dir, 'key.txt');
let recipient = '';
const quiet = ['--progress', 'none', '--no-audit'];
const mounts: string[] = [];

beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
});
afterAll(() => {
	for (const mount of mounts) spawnSync('umount', [mount]);
	sandbox.cleanup();
});

/** A tmpfs of `size` at a fresh directory, or undefined when this machine cannot mount one. */
function smallDisk(name: string, size: string): string | undefined {
	const mount = path.join(sandbox.dir, name);
	fs.mkdirSync(mount);
	if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mount]).status !== 0) return undefined;
	mounts.push(mount);
	return mount;
}

/** Fill `mount` so that `leave` bytes stay free (tmpfs counts whole 4 KiB pages). */
function fill(mount: string, leave: number): string {
	const ballast = path.join(mount, 'ballast');
	const {bavail, bsize} = fs.statfsSync(mount);
	const fd = fs.openSync(ballast, 'a');
	fs.writeSync(fd, Buffer.alloc(Math.max(0, bavail * bsize - leave)));
	fs.closeSync(fd);
	// Whatever is left below a page (or the last bytes) fills it to the brim.
	if (leave === 0) spawnSync('sh', ['-c', `cat /dev/zero >> ${ballast}`]);
	return ballast;
}

const ageDecrypt = (file: string) => spawnSync('age', ['-d', '-i', key, file], {maxBuffer: 64 * 1024 * 1024}).stdout;
const metadata = (dir: string) => ['.cage_backups.json', '.cage_backups.chunks.json'].map(name => fs.readFileSync(path.join(dir, name), 'utf8'));

describe.skipIf(process.getuid?.() !== 0)('backup on a full disk', () => {
	it('create: the disk fills while it encrypts (exit 75, checkpoint kept), then cannot hold the registry (exit 1, nothing changed); with room, the same create finishes', context => {
		const mount = smallDisk('create-disk', '3m');
		if (!mount) return context.skip('cannot mount a tmpfs here');
		const dir = path.join(mount, 'backups');
		const source = path.join(sandbox.dir, 'db.dump');
		writeRandomFile(source, 4 * 1024 * 1024);
		const want = fs.readFileSync(source);
		const create = ['backup', 'create', source, '-r', recipient, '--to', dir, '--chunk-size', '512K', '--jobs', '1', '--keep-last', '2', ...quiet];

		const full = cage(create, {env});
		expect(full.status, full.stderr).toBe(75);
		expect(full.stderr).toMatch(/\.g1\.age\.partial: no space left on device while writing chunk \d+/);
		expect(full.stderr).toContain(`continue it with 'cage backup resume ${source} --to ${dir}'`);
		let state = checkBackupDir(dir, 'after the disk filled');
		expect(generationsOf(state)).toEqual([[1, 'partial']]);
		expect(state.names.some(name => name.endsWith('.g1.age.checkpoint.json'))).toBe(true);

		// Room again: the same create continues the generation from its checkpoint.
		spawnSync('mount', ['-o', 'remount,size=12m', mount]);
		const again = cage(create, {env});
		expect(again.status, again.stderr).toBe(0);
		expect(again.stderr).toContain(`continuing generation 1 of ${source}, which was interrupted`);
		state = checkBackupDir(dir, 'after the create finished', {temporaries: false});
		expect(generationsOf(state)).toEqual([[1, 'complete']]);
		const [generation] = Object.values(state.registry!.sources)[0]!.generations;
		expect(Buffer.compare(ageDecrypt(path.join(dir, generation!.file)), want)).toBe(0);

		// A disk too full for the registry's lock, then for the registry itself: one line naming the file, nothing changed.
		fs.appendFileSync(source, 'a day later');
		for (const [leave, file] of [[0, '.cage_backups.json.lock'], [4096, '.cage_backups.json.prev']] as const) {
			const ballast = fill(mount, leave);
			const before = metadata(dir);
			const names = fs.readdirSync(dir).sort();
			const refused = cage(create, {env});
			expect(refused.status, refused.stderr).toBe(1);
			expect(refused.stderr).toBe(`cage backup create: ${path.join(dir, file)}: no space left on device; free some space and run the command again\n`);
			expect(metadata(dir)).toEqual(before);
			expect(fs.readdirSync(dir).sort()).toEqual(names);
			fs.rmSync(ballast);
		}

		const second = cage(create, {env});
		expect(second.status, second.stderr).toBe(0);
		state = checkBackupDir(dir, 'at the end', {temporaries: false});
		expect(generationsOf(state)).toEqual([[1, 'complete'], [2, 'complete']]);
		const out = path.join(sandbox.dir, 'restored');
		const restored = cage(['backup', 'restore', source, '-i', key, '-o', out, '--to', dir, ...quiet], {env});
		expect(restored.status, restored.stderr).toBe(0);
		expect(Buffer.compare(fs.readFileSync(out), fs.readFileSync(source))).toBe(0);
	});

	it('create: the disk fills at the manifest write after the encrypt: exit 1 naming the file, the generation still partial (never complete without its manifest); the same create again finishes it', async context => {
		const mount = smallDisk('manifest-disk', '8m');
		if (!mount) return context.skip('cannot mount a tmpfs here');
		const dir = path.join(mount, 'backups');
		const source = path.join(sandbox.dir, 'ledger.db');
		// Small chunks: a manifest of a few pages.
		const create = ['backup', 'create', source, '-r', recipient, '--to', dir, '--chunk-size', '64K', '--jobs', '1', ...quiet];
		const slowed = {...env, CAGE_FAULT: 'slow-manifest'};
		for (const generation of [1, 2]) {
			writeRandomFile(source, 2 * 1024 * 1024 + generation);
			const before = generation === 1 ? undefined : metadata(dir);
			// Encrypted and renamed into place, then paused (3 s) just before the manifest is written,
			// under the registry's lock: the disk is filled to the brim then.
			const job = startCage(create, {env: slowed});
			const paused = () => {
				const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
				return names.some(name => name.endsWith(`.g${generation}.age`)) && !names.some(name => name.endsWith(`.g${generation}.age.partial`)) && names.includes('.cage_backups.json.lock');
			};
			await waitFor(paused, {what: `generation ${generation} encrypted, its manifest about to be written`, interval: 10});
			// The registry's lock is taken twice after the encrypt (before and after the manifest is built); the pause is in the second.
			await new Promise(resolve => setTimeout(resolve, 300));
			expect(paused()).toBe(true);
			const ballast = fill(mount, 0);
			expect(await job.exited, job.stderr()).toBe(1);
			const manifestFile = path.join(dir, '.cage_backups.chunks.json');
			expect([`${manifestFile}`, `${manifestFile}.prev`].map(file => `cage backup create: ${file}: no space left on device; free some space and run the command again\n`)).toContain(job.stderr());
			let state = checkBackupDir(dir, `the disk full at generation ${generation}'s manifest`);
			expect(generationsOf(state)).toEqual([...(generation === 2 ? [[1, 'complete']] : []), [generation, 'partial']]);
			expect(Object.keys(Object.values(state.manifests?.generations ?? {})[0] ?? {})).not.toContain(String(generation));
			if (before) expect(metadata(dir)[1]).toBe(before[1]);
			// A generation that is not complete is neither listed as such nor restored.
			const listed = cage(['backup', 'list', source, '--to', dir], {env});
			expect(listed.stdout).toMatch(new RegExp(`^ +${generation} .* partial `, 'm'));

			fs.rmSync(ballast);
			const again = cage(create, {env});
			expect(again.status, again.stderr).toBe(0);
			state = checkBackupDir(dir, `generation ${generation} finished`, {temporaries: false});
			expect(generationsOf(state)).toEqual(generation === 1 ? [[1, 'complete']] : [[1, 'complete'], [2, 'complete']]);
			const finished = Object.values(state.registry!.sources)[0]!.generations.find(g => g.generation === generation)!;
			expect(Buffer.compare(ageDecrypt(path.join(dir, finished.file)), fs.readFileSync(source))).toBe(0);
		}

		const verified = cage(['backup', 'verify', source, '--to', dir, ...quiet], {env});
		expect(verified.status, verified.stderr + verified.stdout).toBe(0);
	});

	it('prune: a disk too full for its lock or its journal changes nothing (exit 1, the file named); with room, it prunes', context => {
		const mount = smallDisk('prune-disk', '4m');
		if (!mount) return context.skip('cannot mount a tmpfs here');
		const dir = path.join(mount, 'backups');
		const source = path.join(sandbox.dir, 'notes.bin');
		for (let day = 0; day < 3; day++) {
			writeRandomFile(source, 300_000 + day);
			const made = cage(['backup', 'create', source, '-r', recipient, '--to', dir, '--keep-last', '0', ...quiet], {env});
			expect(made.status, made.stderr).toBe(0);
		}

		const prune = ['backup', 'prune', '--keep-last', '1', '--to', dir, '--no-audit'];
		for (const [leave, file] of [[0, '.cage_backups.json.lock'], [4096, '.cage_backups.json.prev']] as const) {
			const ballast = fill(mount, leave);
			const before = metadata(dir);
			const names = fs.readdirSync(dir).sort();
			const refused = cage(prune, {env});
			expect(refused.status, refused.stderr).toBe(1);
			expect(refused.stderr).toBe(`cage backup prune: ${path.join(dir, file)}: no space left on device; free some space and run the command again\n`);
			expect(metadata(dir)).toEqual(before);
			expect(fs.readdirSync(dir).sort()).toEqual(names);
			expect(generationsOf(checkBackupDir(dir, `refused (${file})`))).toEqual([[1, 'complete'], [2, 'complete'], [3, 'complete']]);
			fs.rmSync(ballast);
		}

		const pruned = cage(prune, {env});
		expect(pruned.status, pruned.stderr).toBe(0);
		expect(generationsOf(checkBackupDir(dir, 'pruned', {temporaries: false}))).toEqual([[3, 'complete']]);
	});
});
