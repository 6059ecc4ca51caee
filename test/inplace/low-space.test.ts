/**
 * `cage unlock --low-space` and `cage unlock --recover` with the built binary: the round trip,
 * what is refused before anything is cut (a damaged block, a truncated file, a wrong key, a disk
 * without room for one chunk), a damaged tail found when a stopped job is continued, and what
 * --recover says for each state. The kill -9 tests are in kills.test.ts.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, makeSandbox, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';
import {encryptedBlockSize} from '../../source/age/stream.js';

const sandbox = makeSandbox('cage-low-space-');
const {dir} = sandbox;
const env = sandbox.env;
afterAll(() => sandbox.cleanup());

const key = path.join(dir, 'key.txt');
const otherKey = path.join(dir, 'other.txt');
let recipient = '';
const quiet = ['--progress', 'none', '--no-audit'];
const isRoot = process.getuid?.() === 0;
beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	execFileSync('age-keygen', ['-o', otherKey], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
});

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function fresh(name: string): string {
	const directory = path.join(dir, name);
	fs.mkdirSync(directory, {recursive: true});
	return directory;
}

/** `size` random bytes at `file`, locked by age itself to `file.age`; returns the plaintext's digest. */
function lockedFile(file: string, size: number): string {
	writeRandomFile(file, size);
	const want = sha(file);
	execFileSync('/usr/bin/age', ['-r', recipient, '-o', `${file}.age`, file]);
	fs.rmSync(file);
	return want;
}

/** The length of an age file's header and nonce (where its payload starts). */
function payloadOffset(file: string): number {
	const bytes = fs.readFileSync(file);
	return bytes.indexOf('\n', bytes.indexOf('---')) + 1 + 16;
}

describe('cage unlock --low-space', () => {
	it('unlocks back to front: the plaintext is whole, gets the .age\'s mode and times, and no backup generation is kept (the notice says so)', () => {
		const work = fresh('round-trip');
		const file = path.join(work, 'dump.sql');
		const want = lockedFile(file, 1_500_000);
		fs.chmodSync(`${file}.age`, 0o640);
		fs.utimesSync(`${file}.age`, new Date('2021-05-06T07:08:09Z'), new Date('2020-01-02T03:04:05Z'));
		const run = cage(['unlock', `${file}.age`, '-i', key, '--low-space', '--chunk-size', '256K', '--progress', 'plain', '--no-audit'], {env});
		expect(run.status, run.stderr).toBe(0);
		expect(run.stderr).toContain('no backup generation of it is kept');
		expect(run.stderr).toMatch(/^unlock .*dump\.sql\.age -> .*dump\.sql: /m);
		expect(sha(file)).toBe(want);
		expect(fs.statSync(file).mode & 0o777).toBe(0o640);
		expect(fs.statSync(file).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
		expect(fs.readdirSync(work)).toEqual(['dump.sql']);
		expect(cage(['backup', 'list'], {env}).stdout).not.toContain(file);
	});

	it('a damaged block in the middle, a truncated file or a wrong key: refused before anything is cut, FILE.age unchanged', () => {
		const work = fresh('refusals');
		const file = path.join(work, 'data');
		lockedFile(file, 1_000_000);
		const locked = `${file}.age`;
		const original = fs.readFileSync(locked);
		const attempt = () => cage(['unlock', locked, '-i', key, '--low-space', '--chunk-size', '128K', ...quiet], {env});
		const untouched = (what: string) => {
			expect(fs.readdirSync(work).filter(name => !name.startsWith('.cage-batch')), what).toEqual(['data.age']);
			for (const name of ['.cage-batch.checkpoint.json', '.cage-batch.checkpoint.json.journal']) fs.rmSync(path.join(work, name), {force: true});
		};

		// One byte of block 5 (of 16) changed.
		const damaged = Buffer.from(original);
		damaged[payloadOffset(locked) + 5 * encryptedBlockSize + 100]! ^= 1;
		fs.writeFileSync(locked, damaged);
		const corrupt = attempt();
		expect(corrupt.status).toBe(1);
		expect(corrupt.stderr).toMatch(/data\.age failed authentication before anything was cut \(block 5 failed authentication.*it is kept whole, nothing was written/);
		expect(Buffer.compare(fs.readFileSync(locked), damaged)).toBe(0);
		untouched('damaged');

		// The final block cut off: the last block left is not flagged final.
		fs.writeFileSync(locked, original.subarray(0, payloadOffset(locked) + 10 * encryptedBlockSize));
		const truncated = attempt();
		expect(truncated.status).toBe(1);
		expect(truncated.stderr).toMatch(/block 9 failed authentication: the file is truncated/);
		expect(fs.statSync(locked).size).toBe(payloadOffset(locked) + 10 * encryptedBlockSize);
		untouched('truncated');

		fs.writeFileSync(locked, original);
		const wrong = cage(['unlock', locked, '-i', otherKey, '--low-space', ...quiet], {env});
		expect(wrong.status).toBe(1);
		expect(wrong.stderr).toContain('nothing was unlocked');
		expect(Buffer.compare(fs.readFileSync(locked), original)).toBe(0);
		untouched('wrong key');

		const keep = cage(['unlock', locked, '-i', key, '--low-space', '--keep', ...quiet], {env});
		expect(keep.status).toBe(2);
		expect(keep.stderr).toContain('cannot be combined with --keep');
	});

	it('a stopped unlock continued: a finished tail changed meanwhile is found before more is cut; --recover says which chunk', async () => {
		const work = fresh('tampered');
		const file = path.join(work, 'video.mkv');
		const want = lockedFile(file, 2 * 1024 * 1024);
		const locked = `${file}.age`;
		const size = fs.statSync(locked).size;
		const job = startCage(['unlock', locked, '-i', key, '--low-space', '--chunk-size', '128K', '--rate', '2MiB', ...quiet], {env});
		await waitFor(() => fs.existsSync(`${file}.low-space.json`) && fs.statSync(locked).size < size - 4 * 128 * 1024, {what: 'four chunks cut'});
		job.child.kill('SIGKILL');
		await job.exited;

		// Proved as it lies: the .age prefix and the plaintext tail.
		const recovered = path.join(dir, 'tampered.recovered');
		const first = cage(['unlock', '--recover', locked, '-i', key, '-o', recovered], {env});
		expect(first.status, first.stderr).toBe(0);
		expect(first.stderr).toMatch(/was being unlocked back to front \(--low-space\) and stopped at \d+ %/);
		expect(first.stderr).toContain('each chunk encrypted again: its tags are those of the ciphertext it came from');
		expect(sha(recovered)).toBe(want);

		// The last byte of the plaintext (chunk 15) changed.
		const partial = `${file}.partial`;
		const fd = fs.openSync(partial, 'r+');
		fs.writeSync(fd, Buffer.from([0x55 ^ fs.readFileSync(partial).at(-1)!]), 0, 1, 2 * 1024 * 1024 - 1);
		fs.closeSync(fd);
		const cut = fs.statSync(locked).size;
		const again = cage(['unlock', '--recover', locked, '-i', key, '-o', path.join(dir, 'tampered.2')], {env});
		expect(again.status).toBe(1);
		expect(again.stderr).toMatch(/video\.mkv\.partial: chunk 15 \(bytes 1966080-2097152\) is not what its ciphertext held/);
		expect(fs.existsSync(path.join(dir, 'tampered.2'))).toBe(false);
		const resumed = cage(['resume', work, ...quiet], {env});
		expect(resumed.status).toBe(1);
		expect(resumed.stderr).toMatch(/chunk 15 of .*video\.mkv\.partial .* is not what its ciphertext held.*nothing more was cut/);
		expect(fs.statSync(locked).size).toBe(cut);
	});

	it('--recover: a whole FILE has nothing to rebuild, a whole FILE.age is decrypted, a missing one is named; -o never overwrites', () => {
		const work = fresh('recover');
		const file = path.join(work, 'notes.txt');
		const want = lockedFile(file, 70_000);
		const decrypted = cage(['unlock', '--recover', `${file}.age`, '-i', key], {env});
		expect(decrypted.status, decrypted.stderr).toBe(0);
		expect(decrypted.stderr).toContain('is a whole age file');
		expect(sha(`${file}.recovered`)).toBe(want);
		expect(fs.statSync(`${file}.recovered`).mode & 0o777).toBe(0o600);
		const refused = cage(['unlock', '--recover', `${file}.age`, '-i', key, '-o', `${file}.recovered`], {env});
		expect(refused.status).toBe(1);
		expect(refused.stderr).toContain('already exists');
		expect(cage(['unlock', `${file}.age`, '-i', key, ...quiet], {env}).status).toBe(0);
		const whole = cage(['unlock', '--recover', file, '-i', key], {env});
		expect(whole.status).toBe(0);
		expect(whole.stderr).toContain('nothing to rebuild');
		const missing = cage(['unlock', '--recover', path.join(work, 'nope.age'), '-i', key], {env});
		expect(missing.status).toBe(1);
		expect(missing.stderr).toContain('no such file, and no interrupted lock or unlock of it');
		expect(cage(['unlock', `${file}.age`, '-i', key, '-o', 'x', ...quiet], {env}).status).toBe(2);
	});

	it.skipIf(!isRoot)('not even one chunk fits: lock and unlock are refused, the file untouched', async context => {
		const mount = fresh('full-disk');
		if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mount]).status !== 0) return context.skip();
		try {
			const file = path.join(mount, 'big');
			writeRandomFile(file, 1024 * 1024);
			const {bavail, bsize} = fs.statfsSync(mount);
			writeRandomFile(path.join(mount, 'ballast'), bavail * bsize - 100 * 1024);
			const lock = cage(['lock', file, '-r', recipient, '--chunk-size', '512K', ...quiet], {env});
			expect(lock.status).toBe(1);
			expect(lock.stderr).toContain('not even one chunk (524288 bytes) fits');
			expect(fs.statSync(file).size).toBe(1024 * 1024);
			expect(fs.existsSync(`${file}.age.partial`)).toBe(false);

			fs.rmSync(path.join(mount, 'ballast'));
			for (const name of ['.cage-batch.checkpoint.json', '.cage-batch.checkpoint.json.journal']) fs.rmSync(path.join(mount, name), {force: true});
			execFileSync('/usr/bin/age', ['-r', recipient, '-o', `${file}.age`, file]);
			fs.rmSync(file);
			const before = sha(`${file}.age`);
			const room = fs.statfsSync(mount);
			writeRandomFile(path.join(mount, 'ballast'), room.bavail * room.bsize - 100 * 1024);
			const unlock = cage(['unlock', `${file}.age`, '-i', key, '--chunk-size', '512K', ...quiet], {env});
			expect(unlock.status).toBe(1);
			expect(unlock.stderr).toContain('not even one chunk (524288 bytes) fits');
			expect(sha(`${file}.age`)).toBe(before);
			expect(fs.existsSync(`${file}.partial`)).toBe(false);
		} finally {
			spawnSync('umount', [mount]);
		}
	});
});
