import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {cage, makeSandbox, parseEvents, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';
import {prng} from '../helpers/prng.js';

const sandbox = makeSandbox('cage-sweep-');
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

/** Deterministic JSON Lines: records of varied shape, `bad` of them broken, some \r\n endings. */
function jsonLines(count: number, seed: number, bad: number[] = []): string {
	const random = prng(seed);
	const lines: string[] = [];
	for (let i = 0; i < count; i++) {
		const record: Record<string, unknown> = {id: i, name: `user ${i} ${'x'.repeat(Math.floor(random() * 40))}`, score: random() * 1000, tags: ['a', 'é', '漢字'].slice(0, i % 4)};
		record[`key${Math.floor(random() * 50)}`] = random() < 0.5 ? null : {deep: [[i, true]]};
		let line = JSON.stringify(record);
		if (bad.includes(i)) line = line.slice(0, -2);
		if (i % 97 === 0) line += '\r';
		lines.push(line);
		if (i % 500 === 0) lines.push('');
	}

	return `${lines.join('\n')}\n`;
}

const sweep = (args: string[]) => cage(['sweep', ...args, '--progress', 'none', '--no-audit'], {env});
const report = (args: string[]) => {
	const run = sweep([...args, '--json']);
	return {status: run.status, stderr: run.stderr, data: JSON.parse(run.stdout) as Record<string, unknown> & {lines?: Record<string, number>; badLines?: Array<Record<string, unknown>>}};
};

describe('cage sweep', () => {
	const jsonl = path.join(dir, 'export.jsonl');
	fs.writeFileSync(jsonl, jsonLines(30_000, 1, [5, 12_345, 29_998]));
	const document = path.join(dir, 'one.json');
	fs.writeFileSync(document, `{"users": [${jsonLines(20_000, 2).trim().split('\n').filter(Boolean).map(line => line.replace(/\r$/, '')).join(',\n')}]}`);

	it('JSON Lines: the same report from one job and from three, whatever the chunk size', () => {
		const one = report([jsonl, '-j', '1', '--chunk-size', '256KiB']);
		expect(fs.statSync(jsonl).size).toBeGreaterThan(4 * 256 * 1024);
		expect(one.status).toBe(1);
		expect(one.data.lines).toMatchObject({bad: 3, crlf: 310});
		// JSON.parse line by line is the oracle.
		const badLines = fs
			.readFileSync(jsonl, 'utf8')
			.split('\n')
			.flatMap((line, index) => {
				if (line.trim() === '') return [];
				try {
					JSON.parse(line);
					return [];
				} catch {
					return [index + 1];
				}
			});
		expect(badLines).toHaveLength(3);
		expect(one.data.badLines!.map(line => line.line)).toEqual(badLines);
		for (const args of [['-j', '3', '--chunk-size', '256KiB'], ['-j', '2', '--chunk-size', '100000']]) {
			const other = report([jsonl, ...args]);
			expect(other.status).toBe(1);
			expect(other.data).toEqual(one.data);
		}
	});

	it('one JSON document, swept in chunks, reports as one chunk does; exit 0 for valid', () => {
		const small = report([document, '--chunk-size', '64KiB']);
		const whole = report([document, '--chunk-size', '64MiB']);
		expect(small.status).toBe(0);
		expect(small.data.valid).toBe(true);
		expect(small.data).toEqual(whole.data);
		expect(small.data.depth).toMatchObject({max: 6});
	});

	it('one JSON document on two jobs (speculative units on worker threads) reports as one job does', () => {
		const records = jsonLines(8000, 3).trim().split('\n').filter(Boolean).map(line => line.replace(/\r$/, ''));
		const array = path.join(dir, 'array.json');
		fs.writeFileSync(array, `[\n${records.join(',\n')}\n]\n`);
		const broken = path.join(dir, 'array-broken.json');
		const at = records.length - 100;
		fs.writeFileSync(broken, `[${[...records.slice(0, at), records[at]!.replace('"name"', '"name" ').replace(':', '')].join(',')}, ${records.slice(at + 1).join(',')}]`);
		for (const file of [array, broken, document]) {
			const one = report([file, '-j', '1', '--chunk-size', '64KiB']);
			const two = report([file, '-j', '2', '--chunk-size', '64KiB']);
			expect(two.stderr).toBe('');
			expect(two.data).toEqual(one.data);
			expect(one.status).toBe(file === broken ? 1 : 0);
		}

		expect(report([broken, '-j', '2', '--chunk-size', '64KiB']).data.error).toMatchObject({path: `$[${at}].id`, expected: "':'"});
	});

	it('the first error of a JSON document: line, column, path, expected, found', () => {
		const file = path.join(dir, 'broken.json');
		fs.writeFileSync(file, '{"users": [\n  {"email": "a"},\n  {"email": "b" "c"}\n]}');
		const run = sweep([file]);
		expect(run.status).toBe(1);
		expect(run.stdout).toContain(`invalid JSON: byte 46, line 3, column 17, at $.users[1].email: expected ',' or '}', found '"'`);
	});

	it('usage errors exit 2; stdin is swept; an empty file is invalid JSON and empty JSON Lines', () => {
		expect(sweep([document, '--format', 'yaml']).status).toBe(2);
		expect(sweep([]).status).toBe(2);
		const piped = cage(['sweep', '-', '--json'], {env, input: '{"a":1}\n{"b":2}\n'});
		expect(piped.status).toBe(0);
		expect(JSON.parse(piped.stdout)).toMatchObject({format: 'jsonl', lines: {records: 2}});
		const empty = path.join(dir, 'empty');
		fs.writeFileSync(empty, '');
		expect(sweep([empty, '--format', 'json']).status).toBe(1);
		expect(sweep([empty, '--format', 'jsonl']).status).toBe(0);
	});

	it('anomalies go out as events (and so to the dashboard and audit log)', () => {
		const file = path.join(dir, 'odd.json');
		fs.writeFileSync(file, '{"a": 1, "a": "\\ud800", "b": [[[[1]]]]}');
		const run = cage(['sweep', file, '--max-depth', '3', '--progress', 'json', '--no-audit'], {env});
		expect(run.status).toBe(0);
		const codes = parseEvents(run.stderr).flatMap(event => (event.type === 'anomaly' ? [event.code] : []));
		expect(codes.sort()).toEqual(['json-deep-nesting', 'json-duplicate-key', 'json-lone-surrogate']);
	});

	it('after kill -9, cage resume gives the report of an uninterrupted run; the checkpoint holds no key names', async () => {
		const file = path.join(dir, 'slow.jsonl');
		fs.writeFileSync(file, jsonLines(40_000, 3, [7, 39_000]));
		const expected = report([file, '--chunk-size', '256KiB']).data;
		const run = startCage(['sweep', file, '--chunk-size', '256KiB', '--rate', '1MiB', '-j', '2', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 3), {what: 'a checkpoint', timeout: 60_000});
		run.child.kill('SIGKILL');
		await run.exited;
		const checkpoint = `${file}.sweep.checkpoint.json`;
		const text = fs.readFileSync(checkpoint, 'utf8');
		expect(JSON.parse(text)).toMatchObject({kind: 'sweep', params: {format: 'jsonl', state: {format: 'jsonl'}}});
		expect(text).not.toMatch(/"(name|score|tags|key\d+|deep)"/);
		expect(text).not.toContain('user ');
		const resumed = cage(['resume', file, '--json', '--progress', 'json', '--no-audit'], {env});
		expect(resumed.status).toBe(1);
		expect(parseEvents(resumed.stderr).find(event => event.type === 'job:start')).toMatchObject({resumed: true});
		const data = JSON.parse(resumed.stdout) as typeof expected;
		// Key names counted before the resume are known again once seen after it; paths of bad lines
		// found before it lose their key names (the checkpoint keeps none).
		const withoutNames = (value: typeof expected) => JSON.parse(JSON.stringify(value).replace(/"path":"[^"]*"/g, '"path":"-"').replace(/"key":"[^"]*"/g, '"key":"-"')) as unknown;
		expect(withoutNames({...data, file: null})).toEqual(withoutNames({...expected, file: null}));
		expect(fs.existsSync(checkpoint)).toBe(false);
	});

	it('a JSON document resumes from its scan state, and a changed source is refused', async () => {
		const file = path.join(dir, 'slow.json');
		fs.copyFileSync(document, file);
		const expected = report([file, '--chunk-size', '128KiB']).data;
		const stop = async () => {
			const run = startCage(['sweep', file, '--chunk-size', '128KiB', '--rate', '512KiB', '--progress', 'json', '--no-audit'], {env});
			await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 2), {what: 'a checkpoint', timeout: 60_000});
			run.child.kill('SIGTERM');
			return run.exited;
		};

		expect(await stop()).toBe(75);
		const resumed = cage(['resume', file, '--json', '--progress', 'none', '--no-audit'], {env});
		expect(resumed.status).toBe(0);
		const data = JSON.parse(resumed.stdout) as typeof expected;
		expect(data.valid).toBe(true);
		expect(data.values).toEqual(expected.values);
		expect(data.depth).toEqual(expected.depth);
		expect(data.stringLengths).toEqual(expected.stringLengths);
		expect(await stop()).toBe(75);
		fs.appendFileSync(file, ' ');
		const refused = cage(['resume', file, '--progress', 'none', '--no-audit'], {env});
		expect(refused.status).toBe(1);
		expect(refused.stderr).toContain('changed since the checkpoint');
	});

	it('an age file: its plaintext swept while decrypted (-i, or a passphrase), nothing written; a wrong key or a damaged file fails', () => {
		const ageDir = path.join(dir, 'age');
		fs.mkdirSync(ageDir);
		const key = path.join(ageDir, 'key.txt');
		execFileSync('/usr/bin/age-keygen', ['-o', key], {stdio: 'ignore'});
		const recipient = execFileSync('/usr/bin/age-keygen', ['-y', key]).toString().trim();
		const plain = path.join(ageDir, 'export.jsonl');
		fs.writeFileSync(plain, jsonLines(3000, 4, [1234]));
		const sealed = path.join(ageDir, 'export.jsonl.age');
		execFileSync('/usr/bin/age', ['-r', recipient, '-o', sealed, plain]);
		const direct = report([plain]);
		fs.rmSync(plain);
		const before = fs.readdirSync(dir, {recursive: true}).sort();
		const swept = report([sealed, '-i', key]);
		expect(swept.status).toBe(1);
		expect({...swept.data, file: 'x'}).toEqual({...direct.data, file: 'x'});
		expect(swept.data.badLines!.map(line => line.line)).toEqual(direct.data.badLines!.map(line => line.line));
		// Larger than several of the decrypter's 1 MiB batches, bad lines in the middle and near the end.
		const large = path.join(ageDir, 'large.jsonl');
		fs.writeFileSync(large, jsonLines(50_000, 9, [7, 20_001, 49_990]));
		expect(fs.statSync(large).size).toBeGreaterThan(5 * 2 ** 20);
		const largeSealed = `${large}.age`;
		execFileSync('/usr/bin/age', ['-r', recipient, '-o', largeSealed, large]);
		const largeDirect = report([large]);
		fs.rmSync(large);
		const largeSwept = report([largeSealed, '-i', key]);
		expect(largeSwept.status).toBe(1);
		expect({...largeSwept.data, file: 'x'}).toEqual({...largeDirect.data, file: 'x'});
		fs.rmSync(largeSealed);
		// No plaintext, checkpoint or temporary file appeared anywhere in the sandbox.
		expect(fs.readdirSync(dir, {recursive: true}).sort()).toEqual(before);
		// Without a key it says what to give; with another key it fails.
		expect(sweep([sealed]).stderr).toContain('give -i IDENTITY_FILE (or -p)');
		const other = path.join(ageDir, 'other.txt');
		execFileSync('/usr/bin/age-keygen', ['-o', other], {stdio: 'ignore'});
		const wrong = sweep([sealed, '-i', other]);
		expect(wrong.status).toBe(1);
		expect(wrong.stdout).toBe('');
		// A passphrase-encrypted document (cage encrypt -p), asked without -p; and damaged.
		const documentAge = path.join(ageDir, 'doc.json.age');
		const withPassphrase = {...env, CAGE_PASSPHRASE: 'correct horse'};
		expect(cage(['encrypt', '-p', document, '-o', documentAge, '--progress', 'none', '--no-audit'], {env: withPassphrase}).status).toBe(0);
		const fromAge = cage(['sweep', documentAge, '--json', '--progress', 'none', '--no-audit'], {env: withPassphrase});
		expect(fromAge.status).toBe(0);
		expect({...JSON.parse(fromAge.stdout), file: 'x'}).toEqual({...report([document]).data, file: 'x'});
		const bytes = fs.readFileSync(documentAge);
		bytes[bytes.length - 100]! ^= 1;
		fs.writeFileSync(documentAge, bytes);
		const damaged = cage(['sweep', documentAge, '--progress', 'none', '--no-audit'], {env: withPassphrase});
		expect(damaged.status).toBe(1);
		expect(damaged.stderr).toContain('failed authentication');
	});

	describe('bad input', () => {
		it('binary data: invalid, a clear error line, exit 1 (as JSON and as JSON Lines)', () => {
			const file = path.join(dir, 'random.bin');
			writeRandomFile(file, 300_000);
			const json = sweep([file, '--format', 'json']);
			expect(json.status).toBe(1);
			expect(json.stdout).toMatch(/invalid JSON: byte \d+, line \d+, column \d+/);
			const lines = report([file, '--format', 'jsonl', '-j', '2', '--chunk-size', '64KiB']);
			expect(lines.status).toBe(1);
			expect(lines.data.lines!.bad).toBeGreaterThan(0);
		});

		it('100 000 levels of nesting on two jobs: valid, an anomaly, the one-job report', () => {
			const file = path.join(dir, 'deep.json');
			fs.writeFileSync(file, `${'['.repeat(100_000)}1${']'.repeat(100_000)}`);
			const one = report([file, '-j', '1', '--chunk-size', '64KiB']);
			const two = report([file, '-j', '2', '--chunk-size', '64KiB']);
			expect(one.status).toBe(0);
			expect(two.data).toEqual(one.data);
			expect(JSON.stringify(one.data.anomalies)).toContain('json-deep-nesting');
		});

		it('UTF-8 cut by a chunk edge: a whole character is valid, a truncated one is found where it is, on one job and two', () => {
			const edge = 65_536;
			// '[' then '"x…x' so that the two bytes of 'é' are the last of chunk 0 and the first of chunk 1.
			const whole = Buffer.concat([Buffer.from(`["${'x'.repeat(edge - 3)}`), Buffer.from('é'), Buffer.from(`", ${Array.from({length: 20_000}, (_, index) => `{"n": ${index}}`).join(', ')}]`)]);
			expect(whole[edge - 1]).toBe(0xc3);
			const good = path.join(dir, 'edge.json');
			fs.writeFileSync(good, whole);
			const cut = Buffer.from(whole);
			cut[edge] = 0x78;
			const bad = path.join(dir, 'edge-bad.json');
			fs.writeFileSync(bad, cut);
			for (const jobs of ['1', '2']) {
				expect(sweep([good, '-j', jobs, '--chunk-size', '64KiB']).status).toBe(0);
				const broken = report([bad, '-j', jobs, '--chunk-size', '64KiB']);
				expect(broken.status).toBe(1);
				expect(broken.data.error).toMatchObject({offset: edge, path: '$[0]', code: 'json-invalid-utf8'});
			}
		});

		it('a file that grows while swept: what was there at the start is swept, and the job says the file changed', async () => {
			const file = path.join(dir, 'growing.jsonl');
			fs.writeFileSync(file, jsonLines(6000, 5));
			const run = startCage(['sweep', file, '--chunk-size', '64KiB', '--rate', '512KiB', '--progress', 'json', '--no-audit'], {env});
			await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'chunk:done'), {what: 'a chunk', timeout: 60_000});
			fs.appendFileSync(file, '{"late": true}\n');
			expect(await run.exited).toBe(1);
			const events = parseEvents(run.stderr());
			expect(events.find(event => event.type === 'job:start')).toMatchObject({size: Buffer.byteLength(jsonLines(6000, 5))});
			expect(run.stderr()).toContain('changed while the job ran');
		});
	});
});
