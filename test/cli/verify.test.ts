/**
 * `cage verify`: every block authenticated on the worker pool, nothing written. Files made by the
 * real `age` CLI and by cage; damage named by chunk, block and byte offset.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {headerLength} from '../../source/age/header.js';
import {cage, makeSandbox, parseEvents, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

const key = path.join(dir, 'key.txt');
const otherKey = path.join(dir, 'other.txt');
const plain = path.join(dir, 'plain.bin');
const ageMade = path.join(dir, 'age-made.age');
const cageMade = path.join(dir, 'cage-made.age');
const mib = 1024 * 1024;
const size = 3 * mib + 12_345;
const quiet = ['--progress', 'none', '--no-audit'];
// Several chunks, so that the work is spread over the workers and a chunk can be named.
const chunked = ['--chunk-size', '1MiB'];

beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	execFileSync('age-keygen', ['-o', otherKey], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	writeRandomFile(plain, size);
	execFileSync('age', ['-r', recipient, '-o', ageMade, plain]);
	const made = cage(['encrypt', plain, '-r', recipient, '-o', cageMade, ...chunked, ...quiet], {env});
	expect(made.status, made.stderr).toBe(0);
});

/** Where the payload starts in an age file (header and nonce). */
function payloadOffset(file: string): number {
	return headerLength(fs.readFileSync(file).subarray(0, 64 * 1024), file)! + 16;
}

function copy(from: string, name: string): string {
	const to = path.join(dir, name);
	fs.copyFileSync(from, to);
	return to;
}

const made = [
	['age', ageMade],
	['cage', cageMade],
] as const;

describe.each(made)('a file made by %s', (maker, file) => {
	it('is intact: exit 0, and nothing is written', () => {
		const before = fs.readdirSync(dir).sort();
		const result = cage(['verify', file, '-i', key, ...chunked, ...quiet], {env});
		expect(result.status, result.stderr).toBe(0);
		expect(result.stdout).toContain(`${path.basename(file)}: intact (${size} bytes of plaintext`);
		expect(fs.readdirSync(dir).sort()).toEqual(before);
	});

	it('with a flipped byte fails, naming the block and its byte offset as decrypt does', () => {
		const bad = copy(file, `${maker}-flipped.age`);
		const payload = payloadOffset(bad);
		const at = payload + 2 * mib + 777;
		const bytes = fs.readFileSync(bad);
		bytes[at]! ^= 0x01;
		fs.writeFileSync(bad, bytes);
		const block = Math.floor((at - payload) / (64 * 1024 + 16));
		const result = cage(['verify', bad, '-i', key, ...chunked, ...quiet], {env});
		expect(result.status).toBe(1);
		const named = `block ${block} (byte ${payload + block * (64 * 1024 + 16)} of the file`;
		expect(result.stderr).toContain(`${bad}: ${named}`);
		expect(result.stderr).toContain('failed authentication');
		// decrypt names the same damage the same way (the chunk is each job's own unit).
		const decrypted = cage(['decrypt', bad, '-i', key, '-o', path.join(path.dirname(bad), `${maker}-flipped.out`), ...quiet], {env});
		expect(decrypted.status).toBe(1);
		expect(decrypted.stderr).toContain(named);
	});

	it('truncated (inside a block, or at a block boundary) fails', () => {
		const length = fs.statSync(file).size;
		const payload = payloadOffset(file);
		const cuts = [length - 1000, payload + 40 * (64 * 1024 + 16)];
		for (const [index, cut] of cuts.entries()) {
			const cutFile = path.join(dir, `${maker}-cut-${index}.age`);
			fs.writeFileSync(cutFile, fs.readFileSync(file).subarray(0, cut));
			const result = cage(['verify', cutFile, '-i', key, ...chunked, ...quiet], {env});
			expect(result.status, `cut at ${cut}`).toBe(1);
			expect(result.stderr).toMatch(/failed authentication|truncated/);
		}
	});

	it('extended (a few bytes, or a whole block) fails', () => {
		for (const extra of [100, 64 * 1024 + 16]) {
			const longer = copy(file, `${maker}-longer-${extra}.age`);
			fs.appendFileSync(longer, Buffer.alloc(extra, 7));
			const result = cage(['verify', longer, '-i', key, ...chunked, ...quiet], {env});
			expect(result.status, `${extra} bytes appended`).toBe(1);
			expect(result.stderr).toMatch(/failed authentication|trailing data/);
		}
	});

	it('with the wrong key fails, saying the identity cannot open it', () => {
		const result = cage(['verify', file, '-i', otherKey, ...quiet], {env});
		expect(result.status).toBe(1);
		expect(result.stderr).toContain('cannot open it');
	});
});

describe('batches', () => {
	it('several files: one line each, exit 0 when all are intact', () => {
		const result = cage(['verify', ageMade, cageMade, '-i', key, ...quiet], {env});
		expect(result.status, result.stderr).toBe(0);
		expect(result.stdout.trim().split('\n')).toEqual([`${ageMade}: intact`, `${cageMade}: intact`]);
	});

	it('--recursive takes the .age files of a tree; one damaged file fails the batch, named', () => {
		const tree = path.join(dir, 'tree');
		fs.mkdirSync(path.join(tree, 'sub'), {recursive: true});
		fs.copyFileSync(ageMade, path.join(tree, 'a.age'));
		fs.copyFileSync(cageMade, path.join(tree, 'sub', 'c.age'));
		fs.writeFileSync(path.join(tree, 'notes.txt'), 'not age');
		const good = cage(['verify', '--recursive', tree, '-i', key, ...quiet], {env});
		expect(good.status, good.stderr).toBe(0);
		expect(good.stderr).toContain('notes.txt: not an .age file');

		const damaged = path.join(tree, 'sub', 'c.age');
		const bytes = fs.readFileSync(damaged);
		bytes[bytes.length - 5]! ^= 0xff;
		fs.writeFileSync(damaged, bytes);
		const bad = cage(['verify', '--recursive', tree, '-i', key, ...quiet], {env});
		expect(bad.status).toBe(1);
		expect(bad.stdout).toContain(`${path.join(tree, 'a.age')}: intact`);
		expect(bad.stdout).toMatch(new RegExp(`${damaged.replaceAll('/', '\\/')}: FAILED: block \\d+ \\(byte \\d+ of the file`));
		expect(fs.readdirSync(tree).sort()).toEqual(['a.age', 'notes.txt', 'sub']);
	});

	it('a directory without --recursive is refused', () => {
		const result = cage(['verify', path.join(dir, 'tree'), '-i', key, ...quiet], {env});
		expect(result.status).toBe(1);
		expect(result.stderr).toContain('--recursive');
	});
});

describe('progress, audit, armor, usage', () => {
	it('--progress json shows a verify job, and the audit log records it', () => {
		const audit = path.join(dir, 'audit.jsonl');
		const result = cage(['verify', cageMade, '-i', key, ...chunked, '--progress', 'json', '--audit-log', audit], {env});
		expect(result.status, result.stderr).toBe(0);
		const events = parseEvents(result.stderr);
		expect(events[0]).toMatchObject({type: 'job:start', kind: 'verify', output: null, size, chunks: 4});
		expect(events.filter(event => event.type === 'chunk:done')).toHaveLength(4);
		expect(events.at(-1)).toMatchObject({type: 'job:done', outcome: 'completed', bytesDone: size});
		const logged = fs.readFileSync(audit, 'utf8').trim().split('\n').map(line => JSON.parse(line) as {type: string; kind?: string});
		expect(logged[0]).toMatchObject({type: 'job:start', kind: 'verify'});
		expect(logged.at(-1)).toMatchObject({type: 'job:done', outcome: 'completed'});
	});

	it('a failed verify is a failed job with an auth-failed anomaly in the events', () => {
		const bad = path.join(dir, 'cage-flipped.age');
		const result = cage(['verify', bad, '-i', key, ...chunked, '--progress', 'json', '--no-audit'], {env});
		expect(result.status).toBe(1);
		const events = parseEvents(result.stderr);
		expect(events.some(event => event.type === 'anomaly' && event.code === 'auth-failed')).toBe(true);
		expect(events.at(-1)).toMatchObject({type: 'job:done', outcome: 'failed'});
		expect(String(events.at(-1)!.error)).toMatch(/: block \d+ \(byte \d+ of the file/);
	});

	it('armored files from age -a are verified; a changed payload line fails', () => {
		const armored = path.join(dir, 'armored.age');
		const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
		execFileSync('age', ['-a', '-r', recipient, '-o', armored, plain]);
		const good = cage(['verify', armored, '-i', key, ...quiet], {env});
		expect(good.status, good.stderr).toBe(0);
		const lines = fs.readFileSync(armored, 'utf8').split('\n');
		const middle = Math.floor(lines.length / 2);
		lines[middle] = (lines[middle]![0] === 'A' ? 'B' : 'A') + lines[middle]!.slice(1);
		const changed = path.join(dir, 'armored-changed.age');
		fs.writeFileSync(changed, lines.join('\n'));
		const bad = cage(['verify', changed, '-i', key, ...quiet], {env});
		expect(bad.status).toBe(1);
		expect(bad.stderr).toMatch(/: block \d+ \(byte \d+ of the decoded payload/);
	});

	it('--help says what it does; missing keys and stdin are usage errors', () => {
		const help = cage(['verify', '--help'], {env});
		expect(help.status).toBe(0);
		expect(help.stdout).toContain('nothing is written to disk');
		expect(cage(['verify', ageMade, ...quiet], {env}).status).toBe(2);
		expect(cage(['verify', '-', '-i', key, ...quiet], {env}).status).toBe(2);
		expect(cage(['--help'], {env}).stdout).toContain('verify');
	});
});
