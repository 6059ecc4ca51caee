/**
 * What the user reads is right: usage errors are refused the same way in every progress mode, an
 * error comes alone, suggestions name the nearest real thing. The built binary, real files.
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
let recipient = '';
const small = path.join(dir, 'small.bin');
beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	writeRandomFile(small, 100_000);
});

describe('usage errors and error lines', () => {
	it.each(['plain', 'json', 'tui', 'none'])('--theme nosuch is refused with --progress %s: exit 2, one message, nothing written', mode => {
		const output = path.join(dir, `theme-${mode}.age`);
		const run = cage(['encrypt', small, '-r', recipient, '-o', output, '--theme', 'nosuch', '--progress', mode, '--no-audit'], {env});
		expect(run.status).toBe(2);
		expect(run.stderr).toMatch(/^cage encrypt: --theme: unknown theme 'nosuch': use one of .*default.*\nRun 'cage encrypt --help' for usage\.\n$/);
		expect(fs.existsSync(output)).toBe(false);
	});

	it('cage watch --theme nosuch is refused too, whatever the progress mode', () => {
		for (const mode of ['plain', 'json']) {
			const run = cage(['watch', '--no-follow', '--progress', mode, '--theme', 'nosuch'], {env});
			expect(run.status, mode).toBe(2);
			expect(run.stderr, mode).toContain("--theme: unknown theme 'nosuch'");
		}
	});

	it.each(['plain', 'json'])('cage decrypt notage.bin > out (--progress %s): the one error line, no progress lines before it', mode => {
		const run = cage(['decrypt', small, '-i', key, '--progress', mode, '--no-audit'], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toBe(`cage decrypt: ${small} is not an age file (it does not start with "age-encryption.org/v1")\n`);
		expect(run.stdout).toBe('');
	});

	it('cat notage.bin | cage decrypt > out: the one error line too, and an age stream through the same pipe still decrypts', () => {
		const run = cage(['decrypt', '-i', key, '--progress', 'plain', '--no-audit'], {env, input: fs.readFileSync(small)});
		expect(run.status).toBe(1);
		expect(run.stderr).toBe('cage decrypt: stdin is not an age file (it does not start with "age-encryption.org/v1")\n');
		const encrypted = execFileSync('age', ['-r', recipient, small]);
		const good = cage(['decrypt', '-i', key, '--progress', 'none', '--no-audit'], {env, input: encrypted});
		expect(good.status, good.stderr).toBe(0);
		expect(Buffer.from(good.stdout, 'latin1').length).toBeGreaterThan(0);
	});

	it('cage config set job 4 suggests jobs', () => {
		const run = cage(['config', 'set', 'job', '4'], {env});
		// An unknown setting is a config error (exit 1), as before; now with the nearest name.
		expect(run.status).toBe(1);
		expect(run.stderr).toContain("unknown setting 'job'; did you mean 'jobs'?");
	});
});
