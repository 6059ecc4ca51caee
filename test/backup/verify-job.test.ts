/**
 * `cage backup verify` as a job: its events (one item per generation, a damaged chunk a failed
 * cell) on --progress json and in the audit log, and --sample.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {sampleChunks} from '../../source/backup/verify.js';
import {cage, makeSandbox, parseEvents, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-backup-verify-');
const env = {...sandbox.env, XDG_DATA_HOME: path.join(sandbox.dir, 'data')};
afterAll(() => sandbox.cleanup());

const key = path.join(sandbox.dir, 'key.txt');
const dir = path.join(sandbox.dir, 'backups');
const source = path.join(sandbox.dir, 'db.dump');
let file = '';
let chunks: Array<{id: number; start: number; end: number}> = [];

const registry = () => JSON.parse(fs.readFileSync(path.join(dir, '.cage_backups.json'), 'utf8')) as {sources: Record<string, {generations: Array<{status: string; damagedChunks?: number[]}>}>};

beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	writeRandomFile(source, 6 * 1024 * 1024 + 100);
	const made = cage(['backup', 'create', source, '-r', recipient, '--to', dir, '--chunk-size', '1MiB', '--progress', 'none'], {env});
	expect(made.status, made.stderr).toBe(0);
	const shown = JSON.parse(cage(['backup', 'chunks', source, '--to', dir, '--json'], {env}).stdout) as {chunks: typeof chunks};
	chunks = shown.chunks;
	file = fs.readdirSync(dir).map(name => path.join(dir, name)).find(name => name.endsWith('.age'))!;
});

describe('backup verify as a job', () => {
	it('intact: a verify job with one item and a done cell per chunk, with and without a key, in the audit log too', () => {
		const audit = path.join(sandbox.dir, 'audit.jsonl');
		for (const keyArgs of [[], ['-i', key]]) {
			const run = cage(['backup', 'verify', source, '--to', dir, '--progress', 'json', '--audit-log', audit, ...keyArgs], {env});
			expect(run.status, run.stderr).toBe(0);
			const events = parseEvents(run.stderr);
			expect(events[0]).toMatchObject({type: 'job:start', kind: 'verify', output: null, items: 1});
			expect(events.filter(event => event.type === 'chunk:done').map(event => event.chunk)).toEqual(chunks.map(chunk => chunk.id));
			expect(events.at(-1)).toMatchObject({type: 'job:done', outcome: 'completed', itemsDone: 1});
		}

		const logged = fs.readFileSync(audit, 'utf8').trim().split('\n').map(line => JSON.parse(line) as {type: string; kind?: string; outcome?: string});
		expect(logged.filter(line => line.type === 'job:start' && line.kind === 'verify')).toHaveLength(2);
		expect(logged.filter(line => line.type === 'job:done' && line.outcome === 'completed')).toHaveLength(2);
	});

	it('a damaged chunk is a failed cell, the job fails, and the audit log says so', () => {
		const damaged = chunks[3]!;
		const bytes = fs.readFileSync(file);
		bytes[damaged.start + 99]! ^= 0x10;
		fs.writeFileSync(file, bytes);
		const audit = path.join(sandbox.dir, 'audit-damaged.jsonl');
		const run = cage(['backup', 'verify', source, '--to', dir, '-i', key, '--progress', 'json', '--audit-log', audit], {env});
		expect(run.status).toBe(1);
		const events = parseEvents(run.stderr);
		const failed = events.filter(event => event.type === 'chunk:failed');
		expect(failed.map(event => event.chunk)).toEqual([3]);
		expect(String(failed[0]!.error)).toContain('failed authentication');
		expect(events.filter(event => event.type === 'chunk:done')).toHaveLength(chunks.length - 1);
		expect(events.at(-1)).toMatchObject({type: 'job:done', outcome: 'failed'});
		expect(run.stderr).toContain(`generation 1: DAMAGED: chunk 3 (bytes [${damaged.start}, ${damaged.end})`);
		const logged = fs.readFileSync(audit, 'utf8');
		expect(logged).toContain('"type":"chunk:failed"');
		expect(registry().sources[source]!.generations[0]).toMatchObject({status: 'damaged', damagedChunks: [3]});
	});

	it('--sample checks a share of the chunks (the last always); what it did not check stays marked damaged', () => {
		// 1% of 7 chunks: one chunk, the last one.
		expect(sampleChunks(chunks.length, 1)).toEqual([chunks.length - 1]);
		const run = cage(['backup', 'verify', source, '--to', dir, '--sample', '1', '--progress', 'json', '--no-audit'], {env});
		expect(run.status, run.stderr).toBe(0);
		expect(run.stdout).toContain('1 generation(s) sampled (1% of their chunks): all intact');
		const events = parseEvents(run.stderr);
		expect(events.filter(event => event.type === 'chunk:start').map(event => event.chunk)).toEqual([chunks.length - 1]);
		expect(registry().sources[source]!.generations[0]).toMatchObject({status: 'damaged', damagedChunks: [3]});

		const sample = sampleChunks(1000, 10);
		expect(sample).toHaveLength(100);
		expect(sample).toContain(999);
		expect(new Set(sample).size).toBe(100);
		expect(cage(['backup', 'verify', source, '--to', dir, '--sample', '0'], {env}).status).toBe(2);
		expect(cage(['backup', 'verify', source, '--to', dir, '--sample', '101%'], {env}).status).toBe(2);
	});
});
