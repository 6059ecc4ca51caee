/**
 * ASCII armor end to end through the `cage` binary, against the real `age` CLI both ways:
 * `cage encrypt -a` → `age -d`, `age -a` → `cage decrypt` (a file and stdin), and age's refusals.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {armor} from 'age-encryption';
import {ageKeyPair, cage, makeSandbox, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

const {key, recipient} = ageKeyPair(dir);
const quiet = ['--progress', 'none', '--no-audit'];

const sizes = [0, 1, 47, 48, 49, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 3 * 1024 * 1024];

describe.runIf(fs.existsSync('/usr/bin/age'))('armor with the age CLI', () => {
	for (const size of sizes) {
		it(`${size} bytes: cage encrypt -a → age -d, and age -a → cage decrypt (file and stdin)`, () => {
			const plain = path.join(dir, `plain-${size}`);
			writeRandomFile(plain, size);
			const original = fs.readFileSync(plain);

			const ours = `${plain}.cage.age`;
			const encrypted = cage(['encrypt', '-a', '-r', recipient, plain, '-o', ours, ...quiet], {env});
			expect(encrypted.stderr).toBe('');
			expect(encrypted.status).toBe(0);
			const text = fs.readFileSync(ours, 'latin1');
			expect(text.startsWith('-----BEGIN AGE ENCRYPTED FILE-----\n')).toBe(true);
			expect(text.endsWith('\n-----END AGE ENCRYPTED FILE-----\n')).toBe(true);
			// Exactly the layout of the library's (age's) encoder, over the same binary file.
			expect(armor.encode(armor.decode(text))).toBe(text);
			const byAge = spawnSync('age', ['-d', '-i', key, ours], {maxBuffer: 64 * 1024 * 1024});
			expect(byAge.stderr.toString()).toBe('');
			expect(Buffer.compare(byAge.stdout, original)).toBe(0);

			const theirs = `${plain}.age.age`;
			execFileSync('age', ['-a', '-r', recipient, '-o', theirs, plain]);
			const decrypted = cage(['decrypt', '-i', key, theirs, '-o', `${plain}.out`, ...quiet], {env});
			expect(decrypted.stderr).toBe('');
			expect(decrypted.status).toBe(0);
			expect(Buffer.compare(fs.readFileSync(`${plain}.out`), original)).toBe(0);
			const viaStdin = spawnSync(process.execPath, [path.resolve(import.meta.dirname, '../../dist/cli.js'), 'decrypt', '-i', key, ...quiet], {env, input: fs.readFileSync(theirs), maxBuffer: 64 * 1024 * 1024});
			expect(viaStdin.stderr.toString()).toBe('');
			expect(Buffer.compare(viaStdin.stdout, original)).toBe(0);
		}, 60_000);
	}

	it('encrypt -a to stdout, and a passphrase-encrypted armored file asks without -p', () => {
		const plain = path.join(dir, 'pass');
		fs.writeFileSync(plain, 'armored and passphrase-protected\n');
		const passEnv = {...env, CAGE_PASSPHRASE: 'a long enough passphrase'};
		const encrypted = spawnSync(process.execPath, [path.resolve(import.meta.dirname, '../../dist/cli.js'), 'encrypt', '-a', '-p', plain, ...quiet], {env: passEnv});
		expect(encrypted.status).toBe(0);
		fs.writeFileSync(`${plain}.age`, encrypted.stdout);
		expect(encrypted.stdout.toString('latin1')).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n/);
		const decrypted = cage(['decrypt', `${plain}.age`, ...quiet], {env: passEnv});
		expect(decrypted.stderr).toBe('');
		expect(decrypted.stdout).toBe('armored and passphrase-protected\n');
		const fromStdin = cage(['decrypt', ...quiet], {env: passEnv, input: fs.readFileSync(`${plain}.age`)});
		expect(fromStdin.stdout).toBe('armored and passphrase-protected\n');
	});

	it('refuses what age refuses, naming the file and line, and leaves no output', () => {
		const plain = path.join(dir, 'refused');
		writeRandomFile(plain, 1000);
		execFileSync('age', ['-a', '-r', recipient, '-o', `${plain}.age`, plain]);
		const good = fs.readFileSync(`${plain}.age`, 'latin1');
		const lines = good.split('\n');
		const variants: Array<[string, string, RegExp]> = [
			['garbage', `${good}garbage\n`, /line \d+: data after "-----END AGE ENCRYPTED FILE-----"/],
			['long', good.replace(`${lines[1]}\n${lines[2]}`, `${lines[1]}${lines[2]!.slice(0, 1)}\n${lines[2]!.slice(1)}`), /line 2: longer than 64 columns/],
			['cut', lines.slice(0, 5).join('\n'), /ends before its "-----END AGE ENCRYPTED FILE-----" line/],
		];
		for (const [name, text, message] of variants) {
			const file = `${plain}.${name}.age`;
			fs.writeFileSync(file, text);
			// age refuses it too.
			expect(spawnSync('age', ['-d', '-i', key, file]).status, name).toBe(1);
			const run = cage(['decrypt', '-i', key, file, '-o', `${file}.out`, ...quiet], {env});
			expect(run.status, name).toBe(1);
			expect(run.stderr, name).toContain(`${file}: invalid armor at line`);
			expect(run.stderr, name).toMatch(message);
			expect(fs.existsSync(`${file}.out`) || fs.existsSync(`${file}.out.partial`), name).toBe(false);
		}
	});

	it('-a with a batch, or with decrypt, is a usage error', () => {
		const a = path.join(dir, 'batch-a');
		fs.writeFileSync(a, 'a');
		fs.writeFileSync(`${a}2`, 'b');
		const batch = cage(['encrypt', '-a', '-r', recipient, a, `${a}2`, ...quiet], {env});
		expect(batch.status).toBe(2);
		expect(batch.stderr).toContain('--armor writes one sequential stream');
		const decrypt = cage(['decrypt', '-a', '-i', key, a, ...quiet], {env});
		expect(decrypt.status).toBe(2);
		expect(decrypt.stderr).toContain('armored input is detected by itself');
	});
});
