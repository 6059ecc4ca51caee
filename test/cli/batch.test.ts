/**
 * Batches: several files or a tree as one job. The real engine, the real `age` CLI, real signals.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {encryptFile} from '../../source/age/engine.js';
import {JobEmitter} from '../../source/chunker/emitter.js';
import type {CageEvent} from '../../source/chunker/events.js';
import {batchCheckpointName, planBatch, readBatchCheckpoint, runBatch, type BatchCheckpoint} from '../../source/jobs/batch-job.js';
import {ControlProxy} from '../../source/jobs/control-proxy.js';
import {outputCheckpointPath} from '../../source/jobs/locate.js';
import {cage, makeSandbox, parseEvents, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

const key = path.join(dir, 'key.txt');
let recipient = '';
const quiet = ['--progress', 'none', '--no-audit'];
beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
});

const ageDecrypts = (file: string, original: string) => {
	const result = spawnSync('age', ['-d', '-i', key, file], {maxBuffer: 1024 ** 3});
	return result.status === 0 && Buffer.compare(result.stdout, fs.readFileSync(original)) === 0;
};

function makeTree(name: string): string {
	const root = path.join(dir, name);
	fs.mkdirSync(path.join(root, 'sub', 'deeper'), {recursive: true});
	writeRandomFile(path.join(root, 'one'), 3 * 1024 * 1024 + 1);
	writeRandomFile(path.join(root, 'sub', 'two'), 70_000);
	writeRandomFile(path.join(root, 'sub', 'deeper', 'three'), 1);
	fs.writeFileSync(path.join(root, 'sub', 'empty'), '');
	return root;
}

const treeFiles = ['one', 'sub/two', 'sub/deeper/three', 'sub/empty'];

describe('batch from the command line', () => {
	it('encrypts a tree into --output-dir (age decrypts each file) and decrypts it back', {timeout: 180_000}, () => {
		const tree = makeTree('tree');
		const out = path.join(dir, 'out');
		const run = cage(['encrypt', '--recursive', tree, '-r', recipient, '--output-dir', out, '--progress', 'json', '--no-audit'], {env});
		expect(run.status).toBe(0);
		const events = parseEvents(run.stderr);
		expect(events.filter(event => event.type === 'item:done')).toHaveLength(4);
		expect(events.find(event => event.type === 'job:start')!.items).toBe(4);
		expect(events.at(-1)).toMatchObject({type: 'job:done', outcome: 'completed', itemsDone: 4, itemsSkipped: 0});
		for (const file of treeFiles) expect(ageDecrypts(path.join(out, 'tree', `${file}.age`), path.join(tree, file))).toBe(true);
		expect(fs.existsSync(path.join(out, batchCheckpointName))).toBe(false);

		const back = path.join(dir, 'back');
		expect(cage(['decrypt', '--recursive', path.join(out, 'tree'), '-i', key, '--output-dir', back, ...quiet], {env}).status).toBe(0);
		for (const file of treeFiles) expect(fs.readFileSync(path.join(back, 'tree', file))).toEqual(fs.readFileSync(path.join(tree, file)));
	});

	it('names outputs in place (x -> x.age) for several inputs, and a re-run skips .age files', () => {
		const tree = makeTree('inplace');
		const files = [path.join(tree, 'one'), path.join(tree, 'sub', 'two')];
		expect(cage(['encrypt', ...files, '-r', recipient, ...quiet], {env}).status).toBe(0);
		for (const file of files) expect(ageDecrypts(`${file}.age`, file)).toBe(true);
		const again = cage(['encrypt', ...files, '-r', recipient, ...quiet], {env});
		expect(again.status).toBe(1);
		expect(again.stderr).toContain('one.age already exists; pass --force');
	});

	it('refuses what it cannot do, with the reason', () => {
		const tree = makeTree('refuse');
		const two = [path.join(tree, 'one'), path.join(tree, 'sub', 'two')];
		const withO = cage(['encrypt', ...two, '-r', recipient, '-o', path.join(dir, 'x.age'), ...quiet], {env});
		expect(withO.status).toBe(2);
		expect(withO.stderr).toContain('--output-dir');
		const directory = cage(['encrypt', tree, path.join(tree, 'one'), '-r', recipient, ...quiet], {env});
		expect(directory.status).toBe(1);
		expect(directory.stderr).toContain('pass --recursive');
		const notAge = cage(['decrypt', ...two, '-i', key, ...quiet], {env});
		expect(notAge.status).toBe(1);
		expect(notAge.stderr).toContain('does not end in .age');
	});

	it('SIGTERM stops the batch with exit 75; cage resume DIR finishes it', async () => {
		const tree = path.join(dir, 'slow');
		fs.mkdirSync(tree);
		for (const name of ['a', 'b', 'c']) writeRandomFile(path.join(tree, name), 4 * 1024 * 1024);
		const out = path.join(dir, 'slow-out');
		const run = startCage(['encrypt', '--recursive', tree, '-r', recipient, '--output-dir', out, '--chunk-size', '1MiB', '--rate', '6MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'item:start' && event.item === 1), {what: 'the second file', timeout: 60_000});
		run.child.kill('SIGTERM');
		expect(await run.exited).toBe(75);
		expect(run.stderr()).toContain(`resume with: cage resume ${path.join(out, batchCheckpointName)}`);
		const manifest = await readBatchCheckpoint(path.join(out, batchCheckpointName));
		expect(manifest.items.map(item => item.status)).toEqual(['done', 'pending', 'pending']);
		const inspect = cage(['chunk', 'inspect', out, '--json'], {env});
		expect(inspect.status).toBe(0);
		expect(JSON.parse(inspect.stdout)).toMatchObject({kind: 'batch', op: 'encrypt', done: 1, pending: 2});
		expect(JSON.stringify(manifest)).not.toMatch(/AGE-SECRET-KEY/);

		const resumed = cage(['resume', out, '--progress', 'json', '--no-audit'], {env});
		expect(resumed.status).toBe(0);
		const events = parseEvents(resumed.stderr);
		// The file that was in flight continues from its own checkpoint; the finished one is not redone.
		expect(events.filter(event => event.type === 'item:start').map(event => event.item)).toEqual([1, 2]);
		for (const name of ['a', 'b', 'c']) expect(ageDecrypts(path.join(out, 'slow', `${name}.age`), path.join(tree, name))).toBe(true);
		expect(fs.readdirSync(path.join(out, 'slow')).sort()).toEqual(['a.age', 'b.age', 'c.age']);
		expect(fs.existsSync(path.join(out, batchCheckpointName))).toBe(false);
	}, 120_000);
});

describe('batch through the library', () => {
	it('skip() skips the file in progress, records it, and a second run retries it from its checkpoint', async () => {
		const tree = path.join(dir, 'skip');
		fs.mkdirSync(tree);
		for (const name of ['a', 'b', 'c']) writeRandomFile(path.join(tree, name), 3 * 1024 * 1024);
		const items = await planBatch('encrypt', [tree], {recursive: true, outputDir: path.join(dir, 'skip-out')});
		fs.mkdirSync(path.join(dir, 'skip-out', 'skip'), {recursive: true});
		const checkpointPath = path.join(dir, 'skip-out', batchCheckpointName);
		const now = new Date().toISOString();
		const manifest: BatchCheckpoint = {version: 1, tool: 'cage', kind: 'batch', op: 'encrypt', job: 'test', createdAt: now, updatedAt: now, items, recipients: [recipient], passphrase: false};
		const runItem = (rate: number) =>
			(async (item, {index, count, emitter, control}) =>
				encryptFile(item.source, item.output, {recipients: [recipient]}, {emitter, control, jobs: 1, rate, chunkSize: 1024 * 1024, checkpoint: true, item: {index, count}})) satisfies Parameters<typeof runBatch>[0]['runItem'];

		const emitter = new JobEmitter();
		const control = new ControlProxy();
		const events: CageEvent[] = [];
		emitter.pipe(event => {
			events.push(event);
			// Skip the second file once its first chunk is committed.
			if (event.type === 'chunk:done' && event.item === 1) control.skip();
		});
		const first = await runBatch({manifest, checkpointPath, emitter, control, jobs: 1, resumed: false, runItem: runItem(8 * 1024 * 1024)});
		expect(first).toMatchObject({outcome: 'completed', done: 2, skipped: 1, checkpoint: checkpointPath});
		expect(events.find(event => event.type === 'item:skipped')).toMatchObject({item: 1, reason: 'skipped by user'});
		expect(manifest.items.map(item => item.status)).toEqual(['done', 'skipped', 'done']);
		expect(fs.existsSync(outputCheckpointPath(items[1]!.output))).toBe(true);

		const saved = await readBatchCheckpoint(checkpointPath);
		const again = new JobEmitter();
		const starts: CageEvent[] = [];
		again.pipe(event => {
			if (event.type === 'job:start' || event.type === 'item:start') starts.push(event);
		});
		const second = await runBatch({manifest: saved, checkpointPath, emitter: again, control: new ControlProxy(), jobs: 1, resumed: true, runItem: runItem(0)});
		expect(second).toMatchObject({outcome: 'completed', done: 3, skipped: 0});
		expect(starts.filter(event => event.type === 'item:start')).toHaveLength(1);
		for (const item of items) expect(ageDecrypts(item.output, item.source)).toBe(true);
		expect(fs.existsSync(checkpointPath)).toBe(false);
	}, 60_000);
});
