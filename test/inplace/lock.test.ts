/**
 * `cage lock` / `cage unlock` / `cage status` with the built binary, the real `age` CLI and real
 * signals (the kill -9 tests are in kills.test.ts): trees round-trip, backups on unlock, and
 * the bad inputs the issue names.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, cliPath, makeSandbox, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';
import {prng} from '../helpers/prng.js';

const sandbox = makeSandbox('cage-lock-');
const {dir} = sandbox;
const env = {...sandbox.env, XDG_DATA_HOME: path.join(dir, 'data')};
afterAll(() => sandbox.cleanup());

const key = path.join(dir, 'key.txt');
const otherKey = path.join(dir, 'other.txt');
let recipient = '';
const quiet = ['--progress', 'none', '--no-audit'];
beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	execFileSync('age-keygen', ['-o', otherKey], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
});

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
/** What `age -d` makes of `file`, or undefined when it fails. */
const ageDecrypt = (file: string): Buffer | undefined => {
	const result = spawnSync('/usr/bin/age', ['-d', '-i', key, file], {maxBuffer: 1024 ** 3});
	return result.status === 0 ? result.stdout : undefined;
};

const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
// A kill -9 inside an atomic JSON write can leave its temp file (NAME.tmp-PID-…): junk, never data.
const leftovers = (directory: string) => fs.readdirSync(directory).filter(name => (name.endsWith('.partial') || name.includes('checkpoint')) && !/\.tmp-\d+/.test(name));

function fresh(name: string): string {
	const directory = path.join(dir, name);
	fs.mkdirSync(directory, {recursive: true});
	return directory;
}

describe('cage lock and unlock', () => {
	it('locks a file in place: FILE.age decrypts with age -d, carries mode and times, the original is gone; unlock brings it back', () => {
		const work = fresh('basic');
		const file = path.join(work, 'report.bin');
		writeRandomFile(file, 300_000);
		const before = sha(file);
		fs.chmodSync(file, 0o640);
		fs.utimesSync(file, new Date('2021-05-06T07:08:09Z'), new Date('2020-01-02T03:04:05Z'));
		const run = cage(['lock', file, '-r', recipient, ...quiet], {env});
		expect(run.stderr).toContain('1 file(s) locked');
		expect(run.status).toBe(0);
		expect(fs.existsSync(file)).toBe(false);
		const locked = fs.statSync(`${file}.age`);
		expect(locked.mode & 0o777).toBe(0o640);
		expect(locked.mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
		expect(digest(ageDecrypt(`${file}.age`)!)).toBe(before);
		expect(leftovers(work)).toEqual([]);

		// Locking again: already locked, skipped and counted.
		const again = cage(['lock', `${file}.age`, '-r', recipient, ...quiet], {env});
		expect(again.status).toBe(0);
		expect(again.stderr).toMatch(/skipped, already locked: 1 file/);

		fs.chmodSync(`${file}.age`, 0o600);
		const unlocked = cage(['unlock', `${file}.age`, '-i', key, ...quiet], {env});
		expect(unlocked.status).toBe(0);
		expect(sha(file)).toBe(before);
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		expect(fs.statSync(file).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
		expect(fs.existsSync(`${file}.age`)).toBe(false);
	});

	it('--keep keeps the original; --help says where the read-back reads from', () => {
		const work = fresh('keep');
		const file = path.join(work, 'a');
		writeRandomFile(file, 10_000);
		expect(cage(['lock', file, '-r', recipient, '--keep', ...quiet], {env}).status).toBe(0);
		expect(fs.existsSync(file) && fs.existsSync(`${file}.age`)).toBe(true);
		expect(cage(['lock', '--help'], {env, cwd: work}).stdout).toMatch(/Read-back: here \(the current directory\) from the (device, with O_DIRECT|page cache)/);
		expect(cage(['lock', '--help'], {env, cwd: '/dev/shm'}).stdout).toContain('from the page cache: this file system keeps files in memory');
	});

	it('refuses a symbolic link unless --follow, and warns about hard links', () => {
		const work = fresh('links');
		const target = path.join(work, 'target');
		writeRandomFile(target, 5000);
		fs.symlinkSync('target', path.join(work, 'link'));
		const refused = cage(['lock', path.join(work, 'link'), '-r', recipient, ...quiet], {env});
		expect(refused.status).toBe(1);
		expect(refused.stderr).toContain('symbolic link: refused');
		expect(fs.existsSync(target)).toBe(true);

		const followed = cage(['lock', path.join(work, 'link'), '-r', recipient, '--follow', '--progress', 'plain', '--no-audit'], {env});
		expect(followed.status).toBe(0);
		expect(fs.existsSync(`${target}.age`)).toBe(true);
		expect(fs.existsSync(target)).toBe(false);

		const linked = path.join(work, 'linked');
		writeRandomFile(linked, 5000);
		fs.linkSync(linked, path.join(work, 'second-name'));
		const warned = cage(['lock', linked, '-r', recipient, '--progress', 'plain', '--no-audit'], {env});
		expect(warned.status).toBe(0);
		expect(warned.stderr).toContain('1 other hard link(s): they keep the plaintext');
	});

	it('unlock with the wrong key changes nothing', () => {
		const work = fresh('wrong-key');
		const file = path.join(work, 'secret');
		writeRandomFile(file, 20_000);
		expect(cage(['lock', file, '-r', recipient, ...quiet], {env}).status).toBe(0);
		const before = sha(`${file}.age`);
		const run = cage(['unlock', `${file}.age`, '-i', otherKey, ...quiet], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain('nothing was unlocked');
		expect(fs.readdirSync(work)).toEqual(['secret.age']);
		expect(sha(`${file}.age`)).toBe(before);
	});

	it('a file that changes during the lock stops it: the source is kept, no .age is left', async () => {
		const work = fresh('changing');
		const file = path.join(work, 'growing');
		writeRandomFile(file, 6 * 1024 * 1024);
		const job = startCage(['lock', file, '-r', recipient, '--chunk-size', '1M', '--rate', '4M', '--jobs', '1', ...quiet], {env});
		await waitFor(() => fs.existsSync(`${file}.age.partial`), {what: 'the partial output'});
		fs.appendFileSync(file, 'more');
		const code = await job.exited;
		expect(code).toBe(1);
		expect(fs.statSync(file).size).toBe(6 * 1024 * 1024 + 4);
		expect(fs.existsSync(`${file}.age`)).toBe(false);
	});

	it('a file another process has open for writing is refused, and kept', async () => {
		const work = fresh('busy');
		const file = path.join(work, 'log');
		writeRandomFile(file, 4000);
		const writer = spawn('sh', ['-c', `exec 3>>'${file}'; echo open; sleep 30`], {stdio: ['ignore', 'pipe', 'ignore']});
		try {
			await new Promise(resolve => writer.stdout.once('data', resolve));
			const run = cage(['lock', file, '-r', recipient, ...quiet], {env});
			expect(run.status).toBe(1);
			expect(run.stderr).toContain('is open for writing by another process: refused');
			expect(fs.readdirSync(work)).toEqual(['log']);
		} finally {
			writer.kill('SIGKILL');
		}
	});

	it('an original that cannot be removed: exit 1 with the reason, both kept', () => {
		// Needs another user: root runs cage as nobody in a sticky directory holding root's file.
		if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0) return;
		const work = path.join('/tmp', `cage-lock-sticky-${process.pid}`);
		fs.rmSync(work, {recursive: true, force: true});
		fs.mkdirSync(work, {mode: 0o1777});
		fs.chmodSync(work, 0o1777);
		const home = path.join(work, 'home');
		fs.mkdirSync(home, {mode: 0o777});
		fs.chmodSync(home, 0o777);
		try {
			const file = path.join(work, 'roots-file');
			writeRandomFile(file, 50_000);
			fs.chmodSync(file, 0o644);
			const nobodyEnv = {...env, HOME: home, CAGE_CONFIG_DIR: path.join(home, 'config'), XDG_STATE_HOME: path.join(home, 'state'), XDG_DATA_HOME: path.join(home, 'data')};
			const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cliPath, 'lock', file, '-r', recipient, ...quiet], {env: nobodyEnv, cwd: work});
			if (run.stderr.toString().includes('EACCES') && !fs.existsSync(`${file}.age`)) return; // cage itself not readable by nobody here
			expect(run.status).toBe(1);
			expect(run.stderr.toString()).toMatch(/cannot remove .*roots-file: permission denied.*both are kept/);
			expect(fs.existsSync(file)).toBe(true);
			expect(digest(ageDecrypt(`${file}.age`)!)).toBe(sha(file));
		} finally {
			fs.rmSync(work, {recursive: true, force: true});
		}
	});

	it.skipIf(process.getuid?.() !== 0)('a disk that fills during the lock: exit 75, the original kept, and the lock resumes once there is room', async context => {
		const mount = fresh('small-disk');
		if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=10m', 'tmpfs', mount]).status !== 0) context.skip();
		try {
			const file = path.join(mount, 'big');
			writeRandomFile(file, 4 * 1024 * 1024);
			const before = sha(file);
			// Room for the whole output when the lock starts (so not --low-space); then something else fills the disk.
			const job = startCage(['lock', file, '-r', recipient, '--chunk-size', '256K', '--rate', '2M', ...quiet], {env});
			await waitFor(() => fs.existsSync(`${file}.age.partial`), {what: 'the partial output'});
			const ballast = path.join(mount, 'ballast');
			spawnSync('dd', ['if=/dev/zero', `of=${ballast}`, 'bs=64k', 'count=200']);
			expect(await job.exited, job.stderr()).toBe(75);
			expect(sha(file)).toBe(before);
			expect(fs.existsSync(`${file}.age`)).toBe(false);
			fs.rmSync(ballast);
			const resumed = cage(['resume', mount, ...quiet], {env});
			expect(resumed.status, resumed.stderr).toBe(0);
			expect(fs.existsSync(file)).toBe(false);
			expect(digest(ageDecrypt(`${file}.age`)!)).toBe(before);
		} finally {
			spawnSync('umount', [mount]);
		}
	});

	it('--low-space is refused with --keep', () => {
		const work = fresh('low-space-refusals');
		const file = path.join(work, 'f');
		writeRandomFile(file, 1000);
		const run = cage(['lock', file, '-r', recipient, '--low-space', '--keep', ...quiet], {env});
		expect(run.status).toBe(2);
		expect(run.stderr).toContain('cannot be combined with --keep');
	});

	it('a 300-file tree: lock interrupted and resumed, status, then unlock: diff -r is clean', async () => {
		const work = fresh('tree');
		const tree = path.join(work, 'tree');
		const copy = path.join(work, 'copy');
		const random = prng(300);
		for (let index = 0; index < 300; index++) {
			const sub = path.join(tree, `d${index % 7}`, index % 3 === 0 ? 'deep' : '');
			fs.mkdirSync(sub, {recursive: true});
			writeRandomFile(path.join(sub, `f${index}`), Math.floor(random() * 40_000));
		}

		fs.cpSync(tree, copy, {recursive: true});
		const job = startCage(['lock', '--recursive', tree, '-r', recipient, '--progress', 'plain', '--no-audit', '--jobs', '1'], {env});
		await waitFor(() => /\[40\] done/.test(job.stderr()), {what: '40 files locked', timeout: 60_000});
		job.child.kill('SIGKILL');
		await job.exited;
		const manifest = path.join(tree, '.cage-batch.checkpoint.json');
		expect(fs.existsSync(manifest)).toBe(true);
		const status = cage(['status', tree, '--json'], {env});
		const report = JSON.parse(status.stdout) as {locked: number; unlocked: number; jobs: Array<{op: string; state: string; resume: string}>};
		expect(report.locked).toBeGreaterThanOrEqual(40);
		expect(report.locked + report.unlocked).toBeGreaterThanOrEqual(300);
		expect(report.jobs).toEqual([expect.objectContaining({op: 'lock', state: 'interrupted', resume: expect.stringContaining('cage resume') as unknown})]);
		// What a run killed in the middle of saving its manifest leaves (a dead pid's temp file): the resume removes it.
		fs.writeFileSync(path.join(tree, '..cage-batch.checkpoint.json.tmp-2147483646-0123456789ab'), '{');
		const resumed = cage(['resume', manifest, ...quiet], {env});
		expect(resumed.status, resumed.stderr).toBe(0);
		const after = JSON.parse(cage(['status', tree, '--json'], {env}).stdout) as {locked: number; unlocked: number; jobs: unknown[]};
		expect(after).toMatchObject({locked: 300, unlocked: 0, jobs: []});
		expect(cage(['config', 'set', 'backupOnUnlock', 'off'], {env}).status).toBe(0);
		try {
			expect(cage(['unlock', '--recursive', tree, '-i', key, ...quiet], {env}).status).toBe(0);
		} finally {
			cage(['config', 'set', 'backupOnUnlock', 'on'], {env});
		}

		const diff = spawnSync('diff', ['-r', tree, copy], {encoding: 'utf8'});
		expect(diff.status, diff.stdout.slice(0, 2000)).toBe(0);
	}, 120_000);

	it('unlock with backups on leaves a registered generation that cage backup restore brings back', () => {
		const work = fresh('backups');
		const file = path.join(work, 'ledger.csv');
		writeRandomFile(file, 200_000);
		const want = sha(file);
		expect(cage(['lock', file, '-r', recipient, ...quiet], {env}).status).toBe(0);
		expect(cage(['unlock', `${file}.age`, '-i', key, ...quiet], {env}).status).toBe(0);
		expect(fs.existsSync(`${file}.age`)).toBe(false);
		const list = cage(['backup', 'list'], {env});
		expect(list.stdout).toContain(file);
		expect(list.stdout).toMatch(/1\s+\S+\s+complete/);
		const restored = path.join(work, 'restored.csv');
		const restore = cage(['backup', 'restore', file, '-i', key, '-o', restored, ...quiet], {env});
		expect(restore.status, restore.stderr).toBe(0);
		expect(sha(restored)).toBe(want);
	});
});
