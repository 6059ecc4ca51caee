/**
 * kill -9 at 30 random moments of a lock, a --low-space lock and a --low-space unlock (and of the
 * resumes after them), with the built binary and the real `age`: at every moment the file is
 * whole or recoverable (the --low-space ones from the two files as they lie, with the user's own
 * identity), and `cage resume` always ends in the right file. The jobs are slowed with --rate so
 * that the kills land in their work, not in node's start-up; files are small and chunks small, so
 * that a loaded 2-core machine runs each test in well under 40 s.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, makeSandbox, writeRandomFile} from '../helpers/cage.js';
import {killAtMoments} from '../helpers/kill-moments.js';
import {readHeader} from '../../source/age/header.js';
import {readIdentityFiles} from '../../source/age/keys.js';
import {blockSize, decryptRange, encryptedBlockSize, payloadKey} from '../../source/age/stream.js';

const sandbox = makeSandbox('cage-kills-');
const {dir} = sandbox;
const env = sandbox.env;
afterAll(() => sandbox.cleanup());

const key = path.join(dir, 'key.txt');
let recipient = '';
const quiet = ['--progress', 'none', '--no-audit'];
const isRoot = process.getuid?.() === 0;
beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
});

const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
/** What `age -d` makes of `file`, or undefined when it fails. */
const ageDecrypt = (file: string): Buffer | undefined => {
	const result = spawnSync('/usr/bin/age', ['-d', '-i', key, file], {maxBuffer: 1024 ** 3});
	return result.status === 0 ? result.stdout : undefined;
};

// A kill -9 inside an atomic JSON write can leave its temp file (NAME.tmp-PID-…): junk, never data.
const leftovers = (directory: string) => fs.readdirSync(directory).filter(name => (name.endsWith('.partial') || name.includes('checkpoint') || name.endsWith('.low-space.json')) && !/\.tmp-\d+/.test(name));

/** An age file read as a header reader wants it. */
async function headerOf(file: string) {
	const bytes = fs.readFileSync(file);
	const identities = await readIdentityFiles([key]);
	const header = await readHeader(async (buffer, offset, length, position) => {
		const slice = bytes.subarray(position, position + length);
		Buffer.from(slice).copy(buffer as Buffer, offset);
		return slice.length;
	}, {identities}, file);
	return {bytes, header, payload: payloadKey(header.fileKey, header.nonce)};
}

/** How long one run of `args` takes here (ms), for spreading the kills over it; `reset` puts its input back after. */
function timeOf(args: string[], reset: () => void): number {
	const started = Date.now();
	const run = cage(args, {env});
	expect(run.status, run.stderr).toBe(0);
	const whole = Math.max(200, Date.now() - started);
	reset();
	return whole;
}

/** A tmpfs of `size` at a new directory, or undefined where none can be mounted. */
function tmpfs(name: string, size: string): string | undefined {
	const mount = path.join(dir, name);
	fs.mkdirSync(mount, {recursive: true});
	return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mount]).status === 0 ? mount : undefined;
}

describe('kill -9 at 30 random moments', () => {
	it('of a lock: always a whole original or a whole verified .age, and cage resume ends in what age -d opens', async () => {
		const work = path.join(dir, 'lock');
		fs.mkdirSync(work);
		const master = path.join(dir, 'lock-master');
		writeRandomFile(master, 2 * 1024 * 1024);
		const want = digest(fs.readFileSync(master));
		const file = path.join(work, 'data.bin');
		const manifest = path.join(work, '.cage-batch.checkpoint.json');
		const rate = ['--rate', '8MiB'];
		const start = ['lock', file, '-r', recipient, '--chunk-size', '128K', '--jobs', '2', ...rate, ...quiet];
		const fresh = () => {
			fs.rmSync(`${file}.age`, {force: true});
			fs.copyFileSync(master, file);
		};

		fresh();
		const whole = timeOf(start, fresh);
		const seen = await killAtMoments({
			moments: 30,
			chain: 4,
			seed: 1606,
			env,
			whole,
			fresh,
			start,
			next: () => (fs.existsSync(manifest) ? ['resume', manifest, ...rate, ...quiet] : fs.existsSync(file) ? start : undefined),
			async check(label) {
				const original = fs.existsSync(file) && digest(fs.readFileSync(file)) === want;
				const output = fs.existsSync(`${file}.age`) ? ageDecrypt(`${file}.age`) : undefined;
				expect(original || (output !== undefined && digest(output) === want), `${label}: a whole original or a whole .age`).toBe(true);
				return original ? (output ? 'both' : fs.existsSync(`${file}.age.partial`) ? 'original and partial' : 'original') : 'locked';
			},
			finished(label) {
				expect(fs.existsSync(file), label).toBe(false);
				expect(digest(ageDecrypt(`${file}.age`)!), label).toBe(want);
				expect(leftovers(work), label).toEqual([]);
			},
		});
		expect(seen.size, JSON.stringify([...seen])).toBeGreaterThanOrEqual(2);
	}, 120_000);

	it.skipIf(!isRoot)('of a --low-space lock on a tmpfs a little larger than the file: source prefix + output tail always hold it, cage unlock --recover rebuilds it, cage resume ends in what age -d opens', async context => {
		const mount = tmpfs('low-space-lock', '3m');
		if (!mount) return context.skip();
		try {
			const master = path.join(dir, 'low-space-lock-master');
			writeRandomFile(master, 2 * 1024 * 1024);
			const want = fs.readFileSync(master);
			const file = path.join(mount, 'archive.tar');
			const state = `${file}.age.low-space.json`;
			const partial = `${file}.age.partial`;
			const manifest = path.join(mount, '.cage-batch.checkpoint.json');
			const rate = ['--rate', '8MiB'];
			const start = ['lock', file, '-r', recipient, '--chunk-size', '128K', ...rate, ...quiet];
			const fresh = () => {
				fs.rmSync(`${file}.age`, {force: true});
				fs.copyFileSync(master, file);
			};

			/** The file as the user's own identity recovers it now: the source's prefix, then the output's finished tail. */
			const recovered = async (): Promise<Buffer | undefined> => {
				if (fs.existsSync(state) && fs.existsSync(partial)) {
					const prefix = fs.readFileSync(file);
					const {bytes, header, payload} = await headerOf(partial);
					const counter = prefix.length / blockSize;
					const cipher = bytes.subarray(header.payloadOffset + counter * encryptedBlockSize);
					// Nothing cut yet: the whole file is the source.
					const tail = cipher.length === 0 ? Buffer.alloc(0) : decryptRange(payload, cipher, counter, true);
					return Buffer.concat([prefix, tail]);
				}

				if (fs.existsSync(`${file}.age`)) return ageDecrypt(`${file}.age`);
				return fs.readFileSync(file);
			};

			fresh();
			const first = cage([...start.filter(arg => !quiet.includes(arg)), '--no-audit', '--progress', 'plain'], {env});
			expect(first.status, first.stderr).toBe(0);
			expect(first.stderr).toContain('locked back to front (--low-space)');
			expect(Buffer.compare(ageDecrypt(`${file}.age`)!, want)).toBe(0);
			fresh();
			const whole = timeOf(start, fresh);
			let recoveries = 0;
			const seen = await killAtMoments({
				moments: 30,
				chain: 4,
				seed: 2406,
				env,
				whole,
				anchor: () => fs.existsSync(state) && fs.statSync(file, {throwIfNoEntry: false})!.size < want.length,
				fresh,
				start,
				next: () => (fs.existsSync(manifest) ? ['resume', manifest, ...rate, ...quiet] : fs.existsSync(file) && !fs.existsSync(`${file}.age`) ? start : undefined),
				async check(label) {
					const cut = fs.existsSync(state) && fs.existsSync(partial) && fs.statSync(file).size < want.length;
					const now = await recovered();
					expect(now && Buffer.compare(now, want) === 0, `${label}: the file is recoverable`).toBe(true);
					if (cut && recoveries < 4) {
						// What the user runs: the rebuilt file, written off the full disk.
						recoveries++;
						const out = path.join(dir, `recovered-${recoveries}`);
						const run = cage(['unlock', '--recover', `${file}.age`, '-i', key, '-o', out], {env});
						expect(run.status, `${label}: ${run.stderr}`).toBe(0);
						expect(run.stderr).toContain('locked back to front (--low-space) and stopped at');
						expect(Buffer.compare(fs.readFileSync(out), want), label).toBe(0);
						fs.rmSync(out);
					}

					return cut ? 'cut' : fs.existsSync(state) ? 'state, nothing cut' : fs.existsSync(`${file}.age`) ? 'locked' : 'whole source';
				},
				finished(label) {
					expect(fs.existsSync(file), label).toBe(false);
					expect(Buffer.compare(ageDecrypt(`${file}.age`)!, want), label).toBe(0);
					expect(leftovers(mount), label).toEqual([]);
				},
			});
			// Most moments fall in the cuts (the rest in start-up, the authentication first, or after the end).
			expect(seen.get('cut') ?? 0, JSON.stringify([...seen])).toBeGreaterThanOrEqual(5);
			expect(recoveries).toBeGreaterThan(0);
		} finally {
			spawnSync('umount', [mount]);
		}
	}, 120_000);

	it.skipIf(!isRoot)('of a --low-space unlock on a tmpfs a little larger than the file: .age prefix + plaintext tail always hold it, cage unlock --recover rebuilds it, cage resume ends in the original', async context => {
		const mount = tmpfs('low-space-unlock', '3m');
		if (!mount) return context.skip();
		try {
			const master = path.join(dir, 'low-space-unlock-master');
			writeRandomFile(master, 2 * 1024 * 1024);
			const want = fs.readFileSync(master);
			// Locked by age itself: cage unlocks what age wrote.
			const masterAge = `${master}.age`;
			execFileSync('/usr/bin/age', ['-r', recipient, '-o', masterAge, master]);
			const file = path.join(mount, 'ledger.db');
			const locked = `${file}.age`;
			const state = `${file}.low-space.json`;
			const partial = `${file}.partial`;
			const manifest = path.join(mount, '.cage-batch.checkpoint.json');
			const rate = ['--rate', '8MiB'];
			const start = ['unlock', locked, '-i', key, '--chunk-size', '128K', ...rate, ...quiet];
			const fresh = () => {
				fs.rmSync(file, {force: true});
				fs.copyFileSync(masterAge, locked);
			};

			/** The file as the user's own identity recovers it now, read independently of cage's recover. */
			const recovered = async (): Promise<Buffer | undefined> => {
				if (fs.existsSync(state) && fs.existsSync(partial)) {
					const {bytes, header, payload} = await headerOf(locked);
					const cipher = bytes.subarray(header.payloadOffset);
					const whole = bytes.length === fs.statSync(masterAge).size;
					const prefix = decryptRange(payload, cipher, 0, whole);
					return Buffer.concat([prefix, fs.readFileSync(partial).subarray(prefix.length)]);
				}

				if (fs.existsSync(file) && !fs.existsSync(partial)) return fs.readFileSync(file);
				return ageDecrypt(locked);
			};

			fresh();
			const first = cage([...start.filter(arg => !quiet.includes(arg)), '--no-audit', '--progress', 'plain'], {env});
			expect(first.status, first.stderr).toBe(0);
			expect(first.stderr).toContain('unlocked back to front (--low-space)');
			expect(Buffer.compare(fs.readFileSync(file), want)).toBe(0);
			expect(fs.existsSync(locked)).toBe(false);
			fresh();
			const whole = timeOf(start, fresh);
			let recoveries = 0;
			const seen = await killAtMoments({
				moments: 30,
				chain: 4,
				seed: 1616,
				env,
				whole,
				anchor: () => fs.existsSync(state),
				fresh,
				start,
				next: () => (fs.existsSync(manifest) ? ['resume', manifest, ...rate, ...quiet] : fs.existsSync(locked) && !fs.existsSync(file) ? start : undefined),
				async check(label) {
					const cut = fs.existsSync(state) && fs.existsSync(locked) && fs.statSync(locked).size < fs.statSync(masterAge).size;
					const now = await recovered();
					expect(now && Buffer.compare(now, want) === 0, `${label}: the file is recoverable`).toBe(true);
					if (cut && recoveries < 4) {
						recoveries++;
						const run = spawnSync(process.execPath, [path.resolve(import.meta.dirname, '../../dist/cli.js'), 'unlock', '--recover', locked, '-i', key, '-o', '-'], {env, maxBuffer: 64 * 1024 * 1024});
						expect(run.status, `${label}: ${run.stderr.toString()}`).toBe(0);
						// Killed after the last chunk put FILE in place, before the state and FILE.age went: FILE is
						// whole, and --recover says so instead of rebuilding it.
						const placed = fs.existsSync(file) && !fs.existsSync(partial) && Buffer.compare(fs.readFileSync(file), want) === 0;
						if (placed) expect(run.stderr.toString(), label).toContain(`nothing to rebuild: ${file} is whole`);
						else {
							expect(run.stderr.toString()).toContain('unlocked back to front (--low-space) and stopped at');
							expect(Buffer.compare(run.stdout, want), label).toBe(0);
						}
					}

					return cut ? 'cut' : fs.existsSync(state) ? 'state, nothing cut' : fs.existsSync(file) ? 'unlocked' : 'whole .age';
				},
				finished(label) {
					expect(fs.existsSync(locked), label).toBe(false);
					expect(Buffer.compare(fs.readFileSync(file), want), label).toBe(0);
					expect(leftovers(mount), label).toEqual([]);
				},
			});
			// Most moments fall in the cuts (the rest in start-up, the authentication first, or after the end).
			expect(seen.get('cut') ?? 0, JSON.stringify([...seen])).toBeGreaterThanOrEqual(5);
			expect(recoveries).toBeGreaterThan(0);
		} finally {
			spawnSync('umount', [mount]);
		}
	}, 120_000);
});
