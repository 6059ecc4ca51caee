import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {cage, makeSandbox} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-split-');
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());
const run = (args: string[]) => cage(args[0] === 'chunk' ? args : [...args, '--progress', 'none', '--no-audit'], {env});
const key = path.join(dir, 'key.txt');
execFileSync('/usr/bin/age-keygen', ['-o', key], {stdio: 'ignore'});
const recipient = execFileSync('/usr/bin/age-keygen', ['-y', key]).toString().trim();
const ageDecrypt = (file: string) => execFileSync('/usr/bin/age', ['-d', '-i', key, file], {maxBuffer: 64 * 2 ** 20});

describe('safe split points', () => {
	const records = Array.from({length: 3000}, (_, id) => ({id, text: `line ${id}, with "quotes", [brackets] and \\ é`, nested: {list: [id, {deep: id % 7 === 0}]}}));
	records[1234] = {id: 1234, text: 'x'.repeat(40_000), nested: {list: [], deep: null}} as never;
	const jsonl = path.join(dir, 'export.jsonl');
	fs.writeFileSync(jsonl, records.map(record => JSON.stringify(record)).join('\n') + '\n');
	const json = path.join(dir, 'dump.json');
	fs.writeFileSync(json, JSON.stringify(records, null, 1));

	it('cage chunk plan --boundaries: cuts at record boundaries, says which record is larger than a chunk', () => {
		const plain = JSON.parse(run(['chunk', 'plan', jsonl, '--chunk-size', '32KiB', '--boundaries', 'jsonl', '--json']).stdout) as {parts: Array<{start: number; end: number}>; oversizedCount: number; oversized: Array<{start: number}>};
		const bytes = fs.readFileSync(jsonl);
		for (const part of plain.parts.slice(0, -1)) expect(bytes[part.end - 1]).toBe(0x0a);
		expect(plain.oversizedCount).toBe(1);
		expect(bytes.subarray(plain.oversized[0]!.start, plain.oversized[0]!.start + 12).toString()).toBe('{"id":1234,"');
		const text = run(['chunk', 'plan', json, '--chunk-size', '32KiB', '--boundaries', 'json']);
		expect(text.status).toBe(0);
		expect(text.stdout).toContain('elements of the top-level array');
		expect(text.stdout).toContain('warning     1 record(s) larger than a chunk');
		expect(run(['chunk', 'plan', json, '--boundaries', 'xml']).status).toBe(2);
	});

	it('cage encrypt --split --boundaries jsonl: parts age -d decrypts, whose cat is the file byte for byte, and a manifest', () => {
		const prefix = path.join(dir, 'lines');
		const done = run(['encrypt', jsonl, '--split', '32KiB', '--boundaries', 'jsonl', '-r', recipient, '-o', prefix]);
		expect(done.stderr).toContain('larger than a chunk');
		expect(done.status).toBe(0);
		const manifest = JSON.parse(fs.readFileSync(`${prefix}.manifest.json`, 'utf8')) as {join: string; parts: Array<{file: string; records: number}>};
		expect(manifest.join).toBe('concatenate');
		expect(manifest.parts.length).toBeGreaterThan(5);
		expect(manifest.parts.reduce((sum, part) => sum + part.records, 0)).toBe(records.length);
		const plaintexts = manifest.parts.map(part => ageDecrypt(path.join(dir, part.file)));
		for (const plaintext of plaintexts) expect(plaintext.at(-1)).toBe(0x0a);
		expect(Buffer.concat(plaintexts).equals(fs.readFileSync(jsonl))).toBe(true);
		// Never over what exists.
		const again = run(['encrypt', jsonl, '--split', '64KiB', '--boundaries', 'jsonl', '-r', recipient, '-o', prefix]);
		expect(again.status).toBe(2);
		expect(again.stderr).toContain('exists');
		expect(run(['encrypt', jsonl, '--split', '64KiB', '-r', recipient, '-o', prefix]).status).toBe(2);
	});

	it('cage encrypt --split --boundaries json: each part of the top-level array is an array of its own', () => {
		const prefix = path.join(dir, 'doc');
		expect(run(['encrypt', json, '--split', '100KiB', '--boundaries', 'json', '-r', recipient, '-o', prefix]).status).toBe(0);
		const manifest = JSON.parse(fs.readFileSync(`${prefix}.manifest.json`, 'utf8')) as {join: string; parts: Array<{file: string}>};
		expect(manifest.join).toBe('array');
		const parts = manifest.parts.map(part => JSON.parse(ageDecrypt(path.join(dir, part.file)).toString()) as unknown[]);
		expect(parts.length).toBeGreaterThan(3);
		expect(parts.flat(1)).toEqual(records);
		// Each part is also a valid document for cage sweep.
		const first = path.join(dir, 'part0.json');
		fs.writeFileSync(first, ageDecrypt(path.join(dir, manifest.parts[1]!.file)));
		expect(run(['sweep', first]).status).toBe(0);
	});
});
