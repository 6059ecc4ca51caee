/**
 * Batches: several files or a tree as one job. The real engine, the real `age` CLI, real signals.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {encryptFile, resumeFile} from '../../source/age/engine.js';
import {JobEmitter} from '../../source/chunker/emitter.js';
import type {CageEvent} from '../../source/chunker/events.js';
import {batchCheckpointName, batchCheckpointPath, planBatch, readBatchCheckpoint, runBatch, type BatchCheckpoint} from '../../source/jobs/batch-job.js';
import {journalPath} from '../../source/jobs/batch-journal.js';
import {ControlProxy} from '../../source/jobs/control-proxy.js';
import {outputCheckpointPath, readCheckpointFor} from '../../source/jobs/locate.js';
import {formatBytes} from '../../source/size.js';
import {ageKeyPair, cage, makeSandbox, parseEvents, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

const {key, recipient} = ageKeyPair(dir);
const quiet = ['--progress', 'none', '--no-audit'];

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

/** A directory `name` of random files of `size` bytes each (a, b, c unless named). */
function flatTree(name: string, size: number, names = ['a', 'b', 'c']): string {
	const tree = path.join(dir, name);
	fs.mkdirSync(tree);
	for (const file of names) writeRandomFile(path.join(tree, file), size);
	return tree;
}

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
		// Two files of the same name from two directories into one --output-dir: both named.
		const other = path.join(dir, 'refuse-other');
		fs.mkdirSync(other);
		writeRandomFile(path.join(other, 'one'), 10);
		const clash = cage(['encrypt', path.join(tree, 'one'), path.join(other, 'one'), '-r', recipient, '--output-dir', path.join(dir, 'clash'), ...quiet], {env});
		expect(clash.status).toBe(1);
		expect(clash.stderr).toContain(`${path.join(tree, 'one')} and ${path.join(other, 'one')} would both be written to ${path.join(dir, 'clash', 'one.age')}: rename one, or run them as two batches`);
	});

	it('a file that fails is named once, with its own reason, and the others are done', () => {
		const tree = path.join(dir, 'tampered');
		fs.mkdirSync(tree);
		for (const name of ['a', 'b', 'c']) {
			writeRandomFile(path.join(tree, name), 200_000);
			execFileSync('age', ['-r', recipient, '-o', path.join(tree, `${name}.age`), path.join(tree, name)]);
		}

		const victim = path.join(tree, 'b.age');
		const bytes = fs.readFileSync(victim);
		bytes[bytes.length - 1000]! ^= 1;
		fs.writeFileSync(victim, bytes);
		const back = path.join(dir, 'tampered-back');
		const run = cage(['decrypt', ...['a', 'b', 'c'].map(name => path.join(tree, `${name}.age`)), '-i', key, '--output-dir', back, '--progress', 'json', '--no-audit'], {env});
		expect(run.status).toBe(1);
		const failure = parseEvents(run.stderr).find(event => event.type === 'anomaly' && event.code === 'item-failed')!;
		expect(failure.message).toMatch(new RegExp(`^${victim}: block 3 \\(byte \\d+ of the file, plaintext bytes from 196608\\) failed authentication`));
		expect((failure.message as string).split(victim).length - 1).toBe(1);
		expect(run.stderr).toContain(`cage decrypt: 1 of 3 file(s) failed: ${victim} (block 3 (byte`);
		expect(fs.readdirSync(back).sort()).toEqual(['a', 'c', batchCheckpointName, journalPath(batchCheckpointName)].sort());
	});

	it('SIGTERM stops the batch with exit 75; cage resume DIR finishes it', async () => {
		const tree = flatTree('slow', 4 * 1024 * 1024);
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

		// A decrypt batch records its identity files: the printed resume line works as printed.
		const back = path.join(dir, 'slow-back');
		const decrypting = startCage(['decrypt', '--recursive', path.join(out, 'slow'), '-i', key, '--output-dir', back, '--rate', '6MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(decrypting.stderr()).some(event => event.type === 'item:start' && event.item === 1), {what: 'the second file', timeout: 60_000});
		decrypting.child.kill('SIGTERM');
		expect(await decrypting.exited).toBe(75);
		const line = /resume with: cage resume (\S+)/.exec(decrypting.stderr())![1]!;
		const resumedDecrypt = cage(['resume', line, '--progress', 'none', '--no-audit'], {env});
		expect(resumedDecrypt.stderr).toBe('');
		expect(resumedDecrypt.status).toBe(0);
		for (const name of ['a', 'b', 'c']) expect(Buffer.compare(fs.readFileSync(path.join(back, 'slow', name)), fs.readFileSync(path.join(tree, name)))).toBe(0);
	}, 180_000);
});

describe('a passphrase batch', () => {
	it('resumes only with the passphrase it began with: a mistyped one is refused before any file', async () => {
		const tree = flatTree('secret-tree', 3 * 1024 * 1024);
		const out = path.join(dir, 'secret-out');
		const right = {...env, CAGE_PASSPHRASE: 'correct horse'};
		const run = startCage(['encrypt', '-p', '--recursive', tree, '--output-dir', out, '--rate', '6MiB', '--progress', 'json', '--no-audit'], {env: right});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'item:start' && event.item === 1), {what: 'the second file', timeout: 60_000});
		run.child.kill('SIGTERM');
		expect(await run.exited).toBe(75);
		const manifest = path.join(out, batchCheckpointName);
		const before = fs.readFileSync(manifest, 'utf8');

		const wrong = cage(['resume', manifest, ...quiet], {env: {...env, CAGE_PASSPHRASE: 'correct horze'}});
		expect(wrong.status).toBe(1);
		expect(wrong.stderr).toContain(`that passphrase does not open ${path.join(out, 'secret-tree', 'a.age')}, which this batch encrypted`);
		expect(fs.readFileSync(manifest, 'utf8')).toBe(before);
		expect(fs.existsSync(path.join(out, 'secret-tree', 'c.age'))).toBe(false);

		expect(cage(['resume', manifest, ...quiet], {env: right}).status).toBe(0);
		for (const name of ['a', 'b', 'c']) {
			const back = path.join(dir, `secret-${name}`);
			expect(cage(['decrypt', '-p', path.join(out, 'secret-tree', `${name}.age`), '-o', back, ...quiet], {env: right}).status).toBe(0);
			expect(Buffer.compare(fs.readFileSync(back), fs.readFileSync(path.join(tree, name)))).toBe(0);
		}

		// Decrypting the batch: a mistyped passphrase on resume is refused up front; no file is failed.
		const back = path.join(dir, 'secret-back');
		const decrypting = startCage(['decrypt', '-p', '--recursive', path.join(out, 'secret-tree'), '--output-dir', back, '--rate', '6MiB', '--progress', 'json', '--no-audit'], {env: right});
		await waitFor(() => parseEvents(decrypting.stderr()).some(event => event.type === 'item:start' && event.item === 1), {what: 'the second file', timeout: 60_000});
		decrypting.child.kill('SIGTERM');
		expect(await decrypting.exited).toBe(75);
		const backManifest = path.join(back, batchCheckpointName);
		const beforeDecrypt = fs.readFileSync(backManifest, 'utf8');
		const mistyped = cage(['resume', back, ...quiet], {env: {...env, CAGE_PASSPHRASE: 'correct horze'}});
		expect(mistyped.status).toBe(1);
		expect(mistyped.stderr).toContain('that passphrase does not open');
		expect(mistyped.stderr).toContain('a file of this batch');
		expect(fs.readFileSync(backManifest, 'utf8')).toBe(beforeDecrypt);
		expect(cage(['resume', back, ...quiet], {env: right}).status).toBe(0);
	}, 180_000);
});

describe('a running batch', () => {
	it('is not run by a second process: its resume and a --force start are refused', async () => {
		const tree = flatTree('busy-tree', 3 * 1024 * 1024);
		const out = path.join(dir, 'busy-out');
		const args = ['encrypt', '--recursive', tree, '-r', recipient, '--output-dir', out];
		const run = startCage([...args, '--rate', '3MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'item:start'), {what: 'the first file', timeout: 60_000});
		const pid = run.child.pid!;
		const resumed = cage(['resume', out, ...quiet], {env});
		expect(resumed.status).toBe(1);
		expect(resumed.stderr).toContain(`cannot resume ${path.join(out, batchCheckpointName)}: cage process ${pid} is running this job now`);
		const forced = cage([...args, '--force', ...quiet], {env});
		expect(forced.status).toBe(1);
		expect(forced.stderr).toContain(`cage process ${pid} is running the batch`);
		expect(await run.exited).toBe(0);
		// The run's lock is gone with it, and a batch walk never takes a lock for an input.
		expect(fs.readdirSync(out).filter(name => name.endsWith('.lock'))).toEqual([]);
		for (const name of ['a', 'b', 'c']) expect(ageDecrypts(path.join(out, 'busy-tree', `${name}.age`), path.join(tree, name))).toBe(true);
	}, 60_000);
});

describe('a batch of small files and Ctrl-C', () => {
	it('says its checkpoint is saved; a second Ctrl-C exits 75 with the batch resume line', async () => {
		const tree = flatTree('small-signal', 200_000);
		const out = path.join(dir, 'small-signal-out');
		const once = startCage(['encrypt', '--recursive', tree, '-r', recipient, '--output-dir', out, '--rate', '100KiB', '--progress', 'plain', '--no-audit'], {env});
		await waitFor(() => once.stderr().includes('[1/3]'), {what: 'the first file', timeout: 30_000});
		once.child.kill('SIGINT');
		expect(await once.exited).toBe(75);
		expect(once.stderr()).toContain('SIGINT: stopping at the next block and saving the checkpoint');

		const twice = startCage(['resume', out, '--rate', '100KiB', '--progress', 'plain', '--no-audit'], {env});
		await waitFor(() => twice.stderr().includes('[1/3]') || twice.stderr().includes('[2/3]'), {what: 'a file', timeout: 30_000});
		twice.child.kill('SIGINT');
		twice.child.kill('SIGINT');
		expect(await twice.exited).toBe(75);
		const line = /resume with: cage resume (\S+)/.exec(twice.stderr())![1]!;
		expect(line).toBe(path.join(out, batchCheckpointName));
		expect(cage(['resume', line, ...quiet], {env}).status).toBe(0);
		for (const name of ['a', 'b', 'c']) expect(ageDecrypts(path.join(out, 'small-signal', `${name}.age`), path.join(tree, name))).toBe(true);
	}, 60_000);
});

describe('a passphrase batch stopped in its first file', () => {
	it('checks the passphrase against the partial output', async () => {
		const tree = path.join(dir, 'secret-first');
		fs.mkdirSync(tree);
		writeRandomFile(path.join(tree, 'a'), 4 * 1024 * 1024);
		const out = path.join(dir, 'secret-first-out');
		const run = startCage(['encrypt', '-p', '--recursive', tree, '--output-dir', out, '--chunk-size', '1MiB', '--rate', '2MiB', '--progress', 'json', '--no-audit'], {env: {...env, CAGE_PASSPHRASE: 'aaa'}});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint'), {what: 'a checkpoint', timeout: 60_000});
		run.child.kill('SIGTERM');
		expect(await run.exited).toBe(75);
		const wrong = cage(['resume', out, ...quiet], {env: {...env, CAGE_PASSPHRASE: 'bbb'}});
		expect(wrong.status).toBe(1);
		expect(wrong.stderr).toContain(`that passphrase does not open ${path.join(out, 'secret-first', 'a.age.partial')}`);
		expect(cage(['resume', out, ...quiet], {env: {...env, CAGE_PASSPHRASE: 'aaa'}}).status).toBe(0);
	}, 60_000);
});

describe('batch through the library', () => {
	it('skip() skips the file in progress, records it, and a second run retries it from its checkpoint', async () => {
		const tree = flatTree('skip', 3 * 1024 * 1024);
		const items = await planBatch('encrypt', [tree], {recursive: true, outputDir: path.join(dir, 'skip-out')});
		fs.mkdirSync(path.join(dir, 'skip-out', 'skip'), {recursive: true});
		const checkpointPath = path.join(dir, 'skip-out', batchCheckpointName);
		const now = new Date().toISOString();
		const manifest: BatchCheckpoint = {version: 1, tool: 'cage', kind: 'batch', op: 'encrypt', job: 'test', createdAt: now, updatedAt: now, items, recipients: [recipient], passphrase: false};
		// As the CLI's: a file with a checkpoint of its own (the skipped one) continues from it.
		const resumed: number[] = [];
		const runItem = (rate: number) =>
			(async (item, {index, count, emitter, control}) => {
				const common = {emitter, control, jobs: 1, rate, item: {index, count}};
				const perFile = outputCheckpointPath(item.output);
				if (!fs.existsSync(perFile)) return encryptFile(item.source, item.output, {recipients: [recipient]}, {...common, chunkSize: 1024 * 1024, checkpoint: true});
				resumed.push(index);
				return resumeFile(await readCheckpointFor(perFile), perFile, common);
			}) satisfies Parameters<typeof runBatch>[0]['runItem'];

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
		expect(resumed).toEqual([1]);
		for (const item of items) expect(ageDecrypts(item.output, item.source)).toBe(true);
		expect(fs.existsSync(checkpointPath)).toBe(false);
	}, 60_000);
});

describe('batch edge cases (found in review)', () => {
	it('--force replaces existing outputs, in the run and on resume', () => {
		const tree = path.join(dir, 'force');
		fs.mkdirSync(tree);
		const [a, b] = [path.join(tree, 'a'), path.join(tree, 'b')];
		fs.writeFileSync(a, 'old a');
		fs.writeFileSync(b, 'old b');
		expect(cage(['encrypt', a, b, '-r', recipient, ...quiet], {env}).status).toBe(0);
		fs.writeFileSync(a, 'new a');
		const forced = cage(['encrypt', a, b, '-r', recipient, '--force', ...quiet], {env});
		expect(forced.stderr).toBe('');
		expect(forced.status).toBe(0);
		expect(spawnSync('age', ['-d', '-i', key, `${a}.age`]).stdout.toString()).toBe('new a');
	});

	it('follows symbolic links, reports what it leaves out, and never drops a file silently', () => {
		const root = path.join(dir, 'links');
		const outside = path.join(dir, 'links-target');
		fs.mkdirSync(path.join(root, 'sub'), {recursive: true});
		fs.mkdirSync(outside);
		fs.writeFileSync(path.join(root, 'plain'), 'plain');
		fs.writeFileSync(path.join(outside, 'file'), 'linked file');
		fs.symlinkSync(path.join(outside, 'file'), path.join(root, 'link'));
		fs.symlinkSync(outside, path.join(root, 'linkdir'));
		fs.symlinkSync(root, path.join(root, 'sub', 'loop'));
		fs.writeFileSync(path.join(root, 'old.partial'), 'not mine to take');
		const out = path.join(dir, 'links-out');
		const run = cage(['encrypt', '--recursive', root, '-r', recipient, '--output-dir', out, ...quiet], {env});
		expect(run.status).toBe(0);
		expect(run.stderr).toContain('left out 2 file(s)');
		expect(run.stderr).toMatch(/loop: a link back into a directory already walked/);
		expect(run.stderr).toMatch(/old\.partial: a file cage itself writes/);
		const made = fs.readdirSync(path.join(out, 'links'), {recursive: true}).map(String).filter(name => name.endsWith('.age')).sort();
		expect(made).toEqual(['link.age', path.join('linkdir', 'file.age'), 'plain.age']);
		expect(ageDecrypts(path.join(out, 'links', 'link.age'), path.join(outside, 'file'))).toBe(true);
		// With --output-dir, .age files are inputs like any other.
		const again = cage(['encrypt', '--recursive', path.join(out, 'links'), '-r', recipient, '--output-dir', path.join(dir, 'links-twice'), ...quiet], {env});
		expect(again.status).toBe(0);
		expect(fs.existsSync(path.join(dir, 'links-twice', 'links', 'plain.age.age'))).toBe(true);
	});

	it('keeps the manifest where cage resume DIR looks: the one directory given, else the common one', () => {
		const tree = makeTree('where');
		expect(batchCheckpointPath([tree], undefined)).toBe(path.join(tree, batchCheckpointName));
		expect(batchCheckpointPath([path.join(tree, 'one'), path.join(tree, 'sub', 'two')], undefined)).toBe(path.join(tree, batchCheckpointName));
		expect(batchCheckpointPath([tree], '/elsewhere')).toBe(path.join('/elsewhere', batchCheckpointName));
	});

	it('a file that finished just before a crash (manifest still says running) is not failed on resume', async () => {
		const tree = flatTree('crash', 100_000, ['a', 'b']);
		const items = await planBatch('encrypt', [path.join(tree, 'a'), path.join(tree, 'b')], {recursive: false});
		const checkpointPath = batchCheckpointPath([tree], undefined);
		// The state a kill between `rename(a.age.partial, a.age)` and the manifest save leaves behind:
		// the batch recorded the file's identity just before the rename.
		expect(cage(['encrypt', path.join(tree, 'a'), '-r', recipient, '-o', path.join(tree, 'a.age'), ...quiet], {env}).status).toBe(0);
		const now = new Date().toISOString();
		items[0]!.status = 'running';
		const {ino, dev, size, mtimeMs} = fs.statSync(path.join(tree, 'a.age'));
		items[0]!.written = {ino, dev, size, mtimeMs};
		fs.writeFileSync(checkpointPath, JSON.stringify({version: 1, tool: 'cage', kind: 'batch', op: 'encrypt', job: 'crash', createdAt: now, updatedAt: now, items, recipients: [recipient], passphrase: false}));
		const before = fs.statSync(path.join(tree, 'a.age')).mtimeMs;
		// chunk inspect counts the item left running as interrupted, not as nothing.
		const inspect = cage(['chunk', 'inspect', tree], {env});
		expect(inspect.stdout).toContain('done         0, interrupted 1 (continued by cage resume), pending 1, skipped 0, failed 0');
		const resumed = cage(['resume', tree, '--progress', 'json', '--no-audit'], {env});
		expect(resumed.status).toBe(0);
		expect(parseEvents(resumed.stderr).filter(event => event.type === 'item:start').map(event => event.item)).toEqual([1]);
		expect(fs.statSync(path.join(tree, 'a.age')).mtimeMs).toBe(before);
		for (const name of ['a', 'b']) expect(ageDecrypts(path.join(tree, `${name}.age`), path.join(tree, name))).toBe(true);
	});

	it('a partial output of another process is never shared: refused when the batch starts, the file failed when it appears later; a crashed run\'s own is started over', async () => {
		const tree = flatTree('shared', 2 * 1024 * 1024, ['a', 'b']);
		const [a, b] = ['a', 'b'].map(name => path.join(tree, name)) as [string, string];
		const theirs = 'another cage process writes this';
		fs.writeFileSync(`${b}.age.partial`, theirs);
		const refused = cage(['encrypt', a, b, '-r', recipient, ...quiet], {env});
		expect(refused.status).toBe(1);
		expect(refused.stderr).toContain(`${b}.age.partial already exists`);
		fs.rmSync(`${b}.age.partial`);
		// Slowed by the first file; the second's partial output appears meanwhile (a single-file job).
		const run = startCage(['encrypt', a, b, '-r', recipient, '--rate', '1MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'item:start'), {what: 'the first file started'});
		fs.writeFileSync(`${b}.age.partial`, theirs);
		expect(await run.exited).toBe(1);
		expect(fs.readFileSync(`${b}.age.partial`, 'utf8')).toBe(theirs);
		expect(ageDecrypts(`${a}.age`, a)).toBe(true);
		expect(fs.existsSync(`${b}.age`)).toBe(false);
		expect(run.stderr()).toContain('already exists: another cage process is writing');
		// The same partial, left by this batch's own run (its manifest says running): started over.
		fs.rmSync(`${a}.age`);
		const manifest = await readBatchCheckpoint(batchCheckpointPath([a, b], undefined));
		for (const item of manifest.items) item.status = item.source === b ? 'running' : 'done';
		fs.writeFileSync(batchCheckpointPath([a, b], undefined), JSON.stringify(manifest));
		// The manifest as written is the whole state: the run's journal goes with what it recorded.
		fs.rmSync(journalPath(batchCheckpointPath([a, b], undefined)), {force: true});
		fs.writeFileSync(`${a}.age`, 'done earlier');
		expect(cage(['resume', tree, ...quiet], {env}).status).toBe(0);
		expect(ageDecrypts(`${b}.age`, b)).toBe(true);
	});

	it('a file stopped by a full disk before its own first checkpoint stops the batch, resumable: it is pending, not failed', async () => {
		const tree = flatTree('nospace-tree', 1000, ['a', 'b', 'c']);
		const out = path.join(dir, 'nospace-out');
		fs.mkdirSync(out);
		const items = await planBatch('encrypt', ['a', 'b', 'c'].map(name => path.join(tree, name)), {recursive: false, outputDir: out});
		const checkpointPath = batchCheckpointPath([tree], out);
		const now = new Date().toISOString();
		const manifest: BatchCheckpoint = {version: 1, tool: 'cage', kind: 'batch', op: 'encrypt', job: 'nospace', createdAt: now, updatedAt: now, items, recipients: [recipient], passphrase: false};
		const ran: number[] = [];
		const result = await runBatch({
			manifest,
			checkpointPath,
			emitter: new JobEmitter(),
			control: new ControlProxy(),
			jobs: 1,
			resumed: false,
			async runItem(_item, {index}) {
				ran.push(index);
				if (index === 0) return {outcome: 'completed' as const, bytesDone: 1000};
				return {outcome: 'failed' as const, bytesDone: 0, error: Object.assign(new Error('b.age.partial: no space left on device'), {code: 'ENOSPC'})};
			},
		});
		expect(ran).toEqual([0, 1]);
		expect(result.outcome).toBe('interrupted');
		expect(result.checkpoint).toBe(checkpointPath);
		expect(result.error?.message).toMatch(/no space left on device/);
		expect((await readBatchCheckpoint(checkpointPath)).items.map(item => item.status)).toEqual(['done', 'pending', 'pending']);
	});

	it.skipIf(process.getuid?.() !== 0)('a manifest that cannot be saved (disk full) is kept, and the batch resumes once there is room', async context => {
		const mount = path.join(dir, 'small-batch-disk');
		fs.mkdirSync(mount);
		// A real full disk: a small tmpfs (needs root and mount rights; reported as skipped without them).
		if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]).status !== 0) context.skip('cannot mount a tmpfs here');
		try {
			const tree = flatTree('full-tree', 100_000, ['a', 'b']);
			const out = path.join(mount, 'out');
			fs.mkdirSync(out);
			const items = await planBatch('encrypt', [path.join(tree, 'a'), path.join(tree, 'b')], {recursive: false, outputDir: out});
			const checkpointPath = batchCheckpointPath([tree], out);
			const now = new Date().toISOString();
			const manifest: BatchCheckpoint = {version: 1, tool: 'cage', kind: 'batch', op: 'encrypt', job: 'full', createdAt: now, updatedAt: now, items, recipients: [recipient], passphrase: false};
			const ballast = path.join(mount, 'ballast');
			const result = await runBatch({
				manifest,
				checkpointPath,
				emitter: new JobEmitter(),
				control: new ControlProxy(),
				jobs: 1,
				resumed: false,
				async runItem(item, {index, count, emitter, control, recordWritten}) {
					const done = await encryptFile(item.source, item.output, {recipients: [recipient]}, {emitter, control, jobs: 1, chunkSize: 1024 * 1024, checkpoint: false, item: {index, count}, beforeRename: recordWritten});
					// The disk fills up right after the first file: the next manifest save fails.
					const fd = fs.openSync(ballast, 'w');
					try {
						for (;;) fs.writeSync(fd, Buffer.alloc(64 * 1024));
					} catch {
						// ENOSPC: full.
					} finally {
						fs.closeSync(fd);
					}

					return done;
				},
			});
			// The journal's append may still fit in its last page; then the next file's write fails, which
			// stops the batch as interrupted (that file pending), where a manifest not saved fails it.
			expect(result.outcome).toBe(/cannot update the batch checkpoint/.test(result.error?.message ?? '') ? 'failed' : 'interrupted');
			expect(result.error?.message).toMatch(/cannot update the batch checkpoint .* no space left on device|b\.age\.partial: no space left on device/);
			expect(fs.existsSync(checkpointPath)).toBe(true);
			fs.rmSync(ballast);
			const resumed = cage(['resume', out, '--progress', 'json', '--no-audit'], {env});
			expect(resumed.status).toBe(0);
			expect(parseEvents(resumed.stderr).filter(event => event.type === 'item:start').map(event => event.item)).toEqual([1]);
			for (const name of ['a', 'b']) expect(ageDecrypts(path.join(out, `${name}.age`), path.join(tree, name))).toBe(true);
		} finally {
			spawnSync('umount', [mount]);
		}
	});
});

describe('a batch resume counts what this run did', () => {
	it('a file resumed from its own checkpoint: "in this run" is the part redone, not the whole file', {timeout: 180_000}, async () => {
		const tree = path.join(dir, 'this-run');
		fs.mkdirSync(tree);
		writeRandomFile(path.join(tree, 'a'), 1024 * 1024);
		const bigSize = 80 * 1024 * 1024;
		writeRandomFile(path.join(tree, 'big'), bigSize);
		const out = path.join(dir, 'this-run-out');
		const run = startCage(['encrypt', '--recursive', tree, '-r', recipient, '--output-dir', out, '--chunk-size', '4MiB', '--rate', '40MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'chunk:done' && event.item === 1 && (event.bytesDone as number) >= 40 * 1024 * 1024), {what: 'half of big', timeout: 60_000});
		run.child.kill('SIGTERM');
		expect(await run.exited).toBe(75);
		const checkpoint = await readCheckpointFor(outputCheckpointPath(path.join(out, 'this-run', 'big.age')));
		expect(checkpoint.bytesDone).toBeGreaterThan(0);
		const left = bigSize - checkpoint.bytesDone;

		const resumed = cage(['resume', out, '--progress', 'plain', '--no-audit'], {env});
		expect(resumed.status, resumed.stderr).toBe(0);
		const end = resumed.stderr.trim().split('\n').at(-1)!;
		expect(end).toMatch(/^completed: 81\.0 MiB \(.* in this run\) in /);
		expect(end).toContain(`(${formatBytes(left)} in this run)`);
		expect(ageDecrypts(path.join(out, 'this-run', 'big.age'), path.join(tree, 'big'))).toBe(true);
	});
});
