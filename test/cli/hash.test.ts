import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {cage, makeSandbox, parseEvents, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

const sha256sum = (file: string) => execFileSync('sha256sum', [file]).toString().split(' ')[0]!;

/** Start a slow (rate-limited) hash and stop it once `chunks` chunks are checkpointed. */
async function interruptedHash(file: string, signal: NodeJS.Signals, chunks = 3, extra: string[] = []) {
	const run = startCage(['chunk', 'hash', file, '--chunk-size', '1MiB', '--rate', '6MiB', '--progress', 'json', '--no-audit', ...extra], {env});
	await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= chunks), {what: 'a checkpoint', timeout: 60_000});
	run.child.kill(signal);
	const code = await run.exited;
	return {code, stderr: run.stderr(), stdout: run.stdout()};
}

describe('cage chunk hash', () => {
	it('gives per-chunk digests and a whole-file digest equal to sha256sum', () => {
		const file = path.join(dir, 'data');
		writeRandomFile(file, 9 * 1024 * 1024 + 17);
		const run = cage(['chunk', 'hash', file, '--chunk-size', '2MiB', '--progress', 'none', '--no-audit'], {env});
		expect(run.status).toBe(0);
		const lines = run.stdout.trim().split('\n');
		expect(lines.filter(line => line.startsWith('# chunk'))).toHaveLength(5);
		expect(lines.at(-1)).toBe(`${sha256sum(file)}  ${file}`);
		expect(fs.existsSync(`${file}.sha256.checkpoint.json`)).toBe(false);
	});

	it('supports blake2b512 (equal to b2sum) and --json', () => {
		const file = path.join(dir, 'blake');
		writeRandomFile(file, 3 * 1024 * 1024 + 1);
		const run = cage(['chunk', 'hash', file, '--algo', 'blake2b512', '--chunk-size', '1MiB', '--json', '--progress', 'none', '--no-audit'], {env});
		expect(run.status).toBe(0);
		const result = JSON.parse(run.stdout) as {algorithm: string; digest: string; chunks: Array<{id: number; digest: string}>};
		expect(result.algorithm).toBe('blake2b512');
		expect(result.chunks).toHaveLength(4);
		expect(result.digest).toBe(execFileSync('b2sum', [file]).toString().split(' ')[0]);
	});

	it('hashes an empty file', () => {
		const file = path.join(dir, 'empty');
		fs.writeFileSync(file, '');
		const run = cage(['chunk', 'hash', file, '--progress', 'none', '--no-audit'], {env});
		expect(run.status).toBe(0);
		expect(run.stdout.trim().split('\n').at(-1)).toBe(`${sha256sum(file)}  ${file}`);
	});

	it('plain progress goes to stderr, digests to stdout', () => {
		const file = path.join(dir, 'plain');
		writeRandomFile(file, 2 * 1024 * 1024);
		const run = cage(['chunk', 'hash', file, '--chunk-size', '1MiB', '--progress', 'plain', '--no-audit'], {env});
		expect(run.status).toBe(0);
		expect(run.stderr).toContain('hash ');
		expect(run.stderr).toContain('completed');
		expect(run.stdout).not.toContain('completed');
	});

	it('after kill -9, resume gives the same digest as an uninterrupted run', async () => {
		const file = path.join(dir, 'crash');
		writeRandomFile(file, 24 * 1024 * 1024 + 3);
		const {code} = await interruptedHash(file, 'SIGKILL');
		expect(code).toBeNull();
		const checkpoint = `${file}.sha256.checkpoint.json`;
		expect(fs.existsSync(checkpoint)).toBe(true);
		expect(fs.statSync(checkpoint).mode & 0o777).toBe(0o600);
		const inspect = JSON.parse(cage(['chunk', 'inspect', checkpoint, '--json'], {env}).stdout) as {kind: string; chunksDone: number; totalChunks: number; sourceMatches: boolean};
		expect(inspect.kind).toBe('hash');
		expect(inspect.totalChunks).toBe(25);
		expect(inspect.chunksDone).toBeGreaterThanOrEqual(3);
		expect(inspect.chunksDone).toBeLessThan(25);
		expect(inspect.sourceMatches).toBe(true);
		const resumed = cage(['resume', checkpoint, '--progress', 'json', '--no-audit'], {env});
		expect(resumed.status).toBe(0);
		const start = parseEvents(resumed.stderr).find(event => event.type === 'job:start')!;
		expect(start.resumed).toBe(true);
		expect(start.chunksDone).toBe(inspect.chunksDone);
		expect(resumed.stdout.trim().split('\n').at(-1)!.split(' ')[0]).toBe(sha256sum(file));
		expect(fs.existsSync(checkpoint)).toBe(false);
	});

	it('SIGTERM saves the checkpoint, exits 75 and prints the resume line; the file name resolves too', async () => {
		const file = path.join(dir, 'term');
		writeRandomFile(file, 16 * 1024 * 1024);
		const {code, stderr} = await interruptedHash(file, 'SIGTERM', 2);
		expect(code).toBe(75);
		expect(stderr).toContain(`resume with: cage resume ${file}.sha256.checkpoint.json`);
		const again = cage(['chunk', 'hash', file, '--chunk-size', '1MiB', '--no-audit'], {env});
		expect(again.status).toBe(2);
		expect(again.stderr).toContain('a checkpoint for this job exists');
		const resumed = cage(['resume', file, '--progress', 'none', '--no-audit'], {env});
		expect(resumed.status).toBe(0);
		expect(resumed.stdout.trim().split('\n').at(-1)!.split(' ')[0]).toBe(sha256sum(file));
	});

	it('a checkpoint given any .json name with --checkpoint resumes by the printed line', async () => {
		const file = path.join(dir, 'named');
		writeRandomFile(file, 16 * 1024 * 1024);
		const named = path.join(dir, 'cp', 'h.json');
		fs.mkdirSync(path.dirname(named));
		const {code, stderr} = await interruptedHash(file, 'SIGTERM', 2, ['--checkpoint', named]);
		expect(code).toBe(75);
		const line = /resume with: cage resume (\S+)/.exec(stderr)![1]!;
		expect(line).toBe(named);
		const resumed = cage(['resume', line, '--progress', 'none', '--no-audit'], {env});
		expect(resumed.stderr).toBe('');
		expect(resumed.status).toBe(0);
		expect(resumed.stdout.trim().split('\n').at(-1)!.split(' ')[0]).toBe(sha256sum(file));
	});

	it('refuses to resume when bytes changed but size and mtime did not', async () => {
		const file = path.join(dir, 'tamper');
		writeRandomFile(file, 16 * 1024 * 1024);
		// A whole-second mtime, so putting it back after the edit is exact (a Date drops sub-ms digits).
		fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
		await interruptedHash(file, 'SIGKILL', 2);
		const fd = fs.openSync(file, 'r+');
		fs.writeSync(fd, Buffer.from('changed'), 0, 7, 100);
		fs.closeSync(fd);
		fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
		const run = cage(['resume', file, '--progress', 'none', '--no-audit'], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toMatch(/chunk 0 .* changed since the checkpoint/);
		expect(fs.existsSync(`${file}.sha256.checkpoint.json`)).toBe(true);
	});

	it('refuses to resume when the size changed', async () => {
		const file = path.join(dir, 'grow');
		writeRandomFile(file, 16 * 1024 * 1024);
		await interruptedHash(file, 'SIGKILL', 2);
		fs.appendFileSync(file, 'more');
		const run = cage(['resume', file, '--no-audit'], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain('changed since the checkpoint');
		expect(run.stderr).toContain('size');
	});
});

describe('bad checkpoints', () => {
	const write = (name: string, text: string) => {
		const file = path.join(dir, name);
		fs.writeFileSync(file, text);
		return file;
	};

	it('corrupt JSON: names the file and what to do, exit 1', () => {
		const file = write('bad.checkpoint.json', '{"tool":"cage",');
		const run = cage(['resume', file], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain(`checkpoint ${file} is corrupt`);
		expect(run.stderr.trim().split('\n')).toHaveLength(1);
	});

	it('foreign JSON is not a cage checkpoint', () => {
		const file = write('foreign.checkpoint.json', '{"hello":1}');
		const run = cage(['chunk', 'inspect', file], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain('is not a cage checkpoint');
	});

	it('a checkpoint from a newer cage asks for an upgrade', () => {
		const file = write('newer.checkpoint.json', JSON.stringify({tool: 'cage', version: 99}));
		const run = cage(['resume', file], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain('written by a newer cage');
	});

	it('nothing to resume names what it looked for', () => {
		const run = cage(['resume', path.join(dir, 'never')], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain('no checkpoint for');
	});
});
