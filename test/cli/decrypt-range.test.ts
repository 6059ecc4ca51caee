/**
 * `cage decrypt --offset/--length` from the command line: stdout and -o (partial, then renamed),
 * negative offsets, refusals. The ranges themselves are tested in test/age/random-access.test.ts.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, makeSandbox, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

const key = path.join(dir, 'key.txt');
const plainFile = path.join(dir, 'plain.bin');
const file = path.join(dir, 'plain.bin.age');
const size = 2 * 1024 * 1024 + 4321;
let plain: Buffer;

beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	writeRandomFile(plainFile, size);
	plain = fs.readFileSync(plainFile);
	execFileSync('age', ['-r', recipient, '-o', file, plainFile]);
});

const run = (args: string[]) => {
	const result = execFileSync(process.execPath, [path.resolve(import.meta.dirname, '../../dist/cli.js'), 'decrypt', file, '-i', key, ...args], {env});
	return result;
};

describe('cage decrypt --offset/--length', () => {
	it('writes the range to stdout; a negative offset counts from the end; the length defaults to the rest', () => {
		expect(run(['--offset', '70000', '--length', '200000']).equals(plain.subarray(70_000, 270_000))).toBe(true);
		expect(run(['--offset=-64KiB']).equals(plain.subarray(size - 65_536))).toBe(true);
		expect(run(['--offset', '1MiB', '--length', '1']).equals(plain.subarray(1_048_576, 1_048_577))).toBe(true);
	});

	it('-o writes OUTPUT (mode 0600) through OUTPUT.partial; an existing OUTPUT needs --force', () => {
		const out = path.join(dir, 'piece.bin');
		run(['--offset', '100', '--length', '64KiB', '-o', out]);
		expect(fs.readFileSync(out).equals(plain.subarray(100, 100 + 65_536))).toBe(true);
		expect(fs.statSync(out).mode & 0o777).toBe(0o600);
		expect(fs.existsSync(`${out}.partial`)).toBe(false);
		const again = cage(['decrypt', file, '-i', key, '--offset', '5', '-o', out], {env});
		expect(again.status).toBe(1);
		expect(again.stderr).toContain('already exists; pass --force');
		const forced = cage(['decrypt', file, '-i', key, '--offset', '5', '--length', '10', '-o', out, '--force'], {env});
		expect(forced.status, forced.stderr).toBe(0);
		expect(fs.readFileSync(out).equals(plain.subarray(5, 15))).toBe(true);
	});

	it('a range outside the file, a truncated file, stdin and armored input are refused with one clear line', () => {
		const past = cage(['decrypt', file, '-i', key, '--offset', String(size + 1)], {env});
		expect(past.status).toBe(1);
		expect(past.stderr).toContain(`holds ${size} bytes of plaintext`);
		const cut = path.join(dir, 'cut.age');
		fs.writeFileSync(cut, fs.readFileSync(file).subarray(0, -100));
		const out = path.join(dir, 'never.bin');
		const truncated = cage(['decrypt', cut, '-i', key, '--offset', '0', '--length', '10', '-o', out], {env});
		expect(truncated.status).toBe(1);
		expect(truncated.stderr).toContain('does not authenticate as the final block');
		expect(fs.existsSync(out) || fs.existsSync(`${out}.partial`)).toBe(false);
		expect(cage(['decrypt', '-', '-i', key, '--offset', '0'], {env, input: fs.readFileSync(file)}).status).toBe(2);
		const armored = path.join(dir, 'armored.age');
		execFileSync('age', ['-a', '-r', execFileSync('age-keygen', ['-y', key]).toString().trim(), '-o', armored, plainFile]);
		const pem = cage(['decrypt', armored, '-i', key, '--offset', '0', '--length', '1'], {env});
		expect(pem.status).toBe(1);
		expect(pem.stderr).toContain('is armored (PEM)');
		const negative = cage(['decrypt', file, '-i', key, '--offset', '-1KiB'], {env});
		expect(negative.status).toBe(2);
		expect(negative.stderr).toContain('--offset=-1KiB');
	});
});
