/**
 * `cage backup` end to end: the built binary, real files, the real `age` CLI. Files of a few MiB
 * in 1 MiB chunks, so chunk 5 exists and each run takes well under a second.
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {createHash} from 'node:crypto';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, makeSandbox, parseEvents, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-backup-');
const env = {...sandbox.env, XDG_DATA_HOME: path.join(sandbox.dir, 'data')};
const key = path.join(sandbox.dir, 'key.txt');
let recipient = '';

beforeAll(() => {
	const made = spawnSync('age-keygen', ['-o', key], {encoding: 'utf8'});
	expect(made.status).toBe(0);
	recipient = spawnSync('age-keygen', ['-y', key], {encoding: 'utf8'}).stdout.trim();
});
afterAll(() => sandbox.cleanup());

type Listed = {generation: number; status: string; file: string; damagedChunks?: number[]};

function list(dir: string, file?: string): Listed[] {
	const run = cage(['backup', 'list', ...(file ? [file] : []), '--to', dir, '--json'], {env});
	expect(run.stderr).toBe('');
	return (JSON.parse(run.stdout) as {sources: Array<{generations: Listed[]}>}).sources.flatMap(source => source.generations);
}

function create(dir: string, files: string[], extra: string[] = []) {
	return cage(['backup', 'create', ...files, '-r', recipient, '--to', dir, '--chunk-size', '1MiB', '--progress', 'none', '--keep-last', '0', ...extra], {env});
}

/** The generation files in `dir`. */
function generationFiles(dir: string): string[] {
	return fs.readdirSync(dir).filter(name => /\.g\d+\.age$/.test(name)).sort();
}

describe('cage backup', () => {
	const dir = path.join(sandbox.dir, 'backups');
	const source = path.join(sandbox.dir, 'db.dump');
	const days: Buffer[] = [];

	it('makes a generation per day; each decrypts with age -d and restores to that day\'s file', () => {
		for (let day = 0; day < 3; day++) {
			writeRandomFile(source, 6 * 1024 * 1024 + 1000 * day);
			days.push(fs.readFileSync(source));
			const run = create(dir, [source]);
			expect(run.stderr).toBe('');
			expect(run.status).toBe(0);
			expect(run.stdout).toContain(`generation ${day + 1} written`);
		}

		expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
		const generations = list(dir);
		expect(generations.map(g => [g.generation, g.status])).toEqual([[1, 'complete'], [2, 'complete'], [3, 'complete']]);
		for (const [index, generation] of generations.entries()) {
			const file = path.join(dir, generation.file);
			expect(fs.statSync(file).mode & 0o777).toBe(0o600);
			const decrypted = spawnSync('age', ['-d', '-i', key, file], {maxBuffer: 64 * 1024 * 1024});
			expect(decrypted.status).toBe(0);
			expect(decrypted.stdout.equals(days[index]!)).toBe(true);
			const out = path.join(sandbox.dir, `restored-${generation.generation}`);
			const restored = cage(['backup', 'restore', source, '--generation', String(generation.generation), '-i', key, '-o', out, '--to', dir, '--progress', 'none'], {env});
			expect(restored.stderr).toBe('');
			expect(restored.status).toBe(0);
			expect(fs.readFileSync(out).equals(days[index]!)).toBe(true);
		}

		// The manifest holds digests of ciphertext only: none of them is the SHA-256 of a day's file or chunk.
		const manifests = fs.readFileSync(path.join(dir, '.cage_backups.chunks.json'), 'utf8');
		for (const day of days) {
			expect(manifests).not.toContain(createHash('sha256').update(day).digest('hex'));
			expect(manifests).not.toContain(createHash('sha256').update(day.subarray(0, 1024 * 1024)).digest('hex'));
		}
	});

	it('skips a file unchanged since its newest generation, unless --force', () => {
		const run = create(dir, [source]);
		expect(run.status).toBe(0);
		expect(run.stderr).toContain(`${source} is unchanged since generation 3`);
		expect(list(dir).length).toBe(3);
		const restore = cage(['backup', 'restore', source, '-i', key, '-o', path.join(sandbox.dir, 'restored-1'), '--to', dir], {env});
		expect(restore.status).toBe(1);
		expect(restore.stderr).toMatch(/restored-1 already exists; restore elsewhere with -o OUT\n$/);
	});

	it('names a byte flipped in generation 2\'s chunk 5, without a key and with -i, and marks it damaged', () => {
		const generation = list(dir).find(g => g.generation === 2)!;
		const chunks = JSON.parse(cage(['backup', 'chunks', source, '--generation', '2', '--to', dir, '--json'], {env}).stdout) as {chunks: Array<{id: number; start: number; end: number}>};
		const chunk5 = chunks.chunks[5]!;
		const file = path.join(dir, generation.file);
		const fd = fs.openSync(file, 'r+');
		const at = chunk5.start + 1234;
		const byte = Buffer.alloc(1);
		fs.readSync(fd, byte, 0, 1, at);
		byte.writeUInt8(byte.readUInt8(0) ^ 0x40, 0);
		fs.writeSync(fd, byte, 0, 1, at);
		fs.closeSync(fd);

		const keyless = cage(['backup', 'verify', source, '--to', dir, '--progress', 'none'], {env});
		expect(keyless.status).toBe(1);
		expect(keyless.stderr).toBe(`cage backup verify: 1 of 3 generation(s) damaged, missing or not verifiable\n${source} generation 2: DAMAGED: chunk 5 (bytes [${chunk5.start}, ${chunk5.end}) of ${file})\n`);
		expect(keyless.stdout).toContain(`${source} generation 1: ok`);
		expect(keyless.stdout).toContain(`${source} generation 3: ok`);
		expect(list(dir).find(g => g.generation === 2)).toMatchObject({status: 'damaged', damagedChunks: [5]});

		const keyed = cage(['backup', 'verify', source, '--generation', '2', '-i', key, '--to', dir, '--progress', 'none'], {env});
		expect(keyed.status).toBe(1);
		expect(keyed.stderr).toContain(`generation 2: DAMAGED: chunk 5 (bytes [${chunk5.start}, ${chunk5.end})`);
		expect(keyed.stderr).toContain('; chunk 5: block 80 failed authentication');
		// The job's one line, and the finding's.
		expect(keyed.stderr.trim().split('\n')).toHaveLength(2);
		const shown = cage(['backup', 'chunks', source, '--generation', '2', '--to', dir], {env}).stdout;
		expect(shown).toMatch(/^chunk 5 \[\d+, \d+\) [\da-f]{64} damaged$/m);
		expect(shown).toMatch(/^chunk 4 \[\d+, \d+\) [\da-f]{64} ok$/m);

		const restore = cage(['backup', 'restore', source, '--generation', '2', '-i', key, '-o', path.join(sandbox.dir, 'never'), '--to', dir], {env});
		expect(restore.status).toBe(1);
		expect(restore.stderr).toContain('not restoring');
		expect(fs.existsSync(path.join(sandbox.dir, 'never'))).toBe(false);

		// A key that opens no generation: said, exit 1, and nothing is marked for it.
		const otherKey = path.join(sandbox.dir, 'other-key.txt');
		spawnSync('age-keygen', ['-o', otherKey]);
		const wrong = cage(['backup', 'verify', source, '--generation', '3', '-i', otherKey, '--to', dir], {env});
		expect(wrong.status).toBe(1);
		expect(wrong.stderr).toMatch(/generation 3: not authenticated: .*the identity given cannot open it/);
		expect(list(dir).find(g => g.generation === 3)!.status).toBe('complete');

		// Put back: verify finds it intact again.
		const fix = fs.openSync(file, 'r+');
		byte.writeUInt8(byte.readUInt8(0) ^ 0x40, 0);
		fs.writeSync(fix, byte, 0, 1, at);
		fs.closeSync(fix);
		expect(cage(['backup', 'verify', '--all', '-i', key, '--to', dir], {env}).status).toBe(0);
		expect(list(dir).find(g => g.generation === 2)!.status).toBe('complete');
	});

	it('marks a generation whose file was deleted missing, exit 1', () => {
		const other = path.join(sandbox.dir, 'missing-dir');
		const file = path.join(sandbox.dir, 'notes.txt');
		writeRandomFile(file, 2 * 1024 * 1024);
		expect(create(other, [file]).status).toBe(0);
		const [generation] = list(other);
		fs.rmSync(path.join(other, generation!.file));
		const run = cage(['backup', 'verify', '--all', '--to', other], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain(`${file} generation 1: MISSING`);
		expect(list(other)[0]!.status).toBe('missing');
	});

	it('keep-last 2 after five creates keeps generations 4 and 5, in the registry and on disk', () => {
		const other = path.join(sandbox.dir, 'keep');
		const file = path.join(sandbox.dir, 'daily.bin');
		for (let day = 0; day < 5; day++) {
			writeRandomFile(file, 1024 * 1024 + day);
			const run = cage(['backup', 'create', file, '-r', recipient, '--to', other, '--progress', 'none', '--keep-last', '2'], {env});
			expect(run.status).toBe(0);
		}

		expect(list(other).map(g => g.generation)).toEqual([4, 5]);
		expect(generationFiles(other)).toEqual(list(other).map(g => g.file).sort());
	});

	for (const fault of ['backup-prune-journaled', 'backup-prune-deleted']) {
		it(`kill -9 mid-prune (${fault}), then prune again: registry and files agree`, () => {
			const other = path.join(sandbox.dir, `prune-${fault}`);
			const file = path.join(sandbox.dir, `weekly-${fault}.bin`);
			for (let day = 0; day < 4; day++) {
				writeRandomFile(file, 512 * 1024 + day);
				expect(create(other, [file]).status).toBe(0);
			}

			const killed = cage(['backup', 'prune', '--keep-last', '1', '--to', other], {env: {...env, CAGE_FAULT: fault}});
			expect(killed.signal).toBe('SIGKILL');
			// Whatever the registry lists as live has its file.
			for (const generation of list(other).filter(g => g.status !== 'pruning')) expect(fs.existsSync(path.join(other, generation.file))).toBe(true);
			const again = cage(['backup', 'prune', '--keep-last', '1', '--to', other], {env});
			expect(again.status).toBe(0);
			expect(again.stdout).toContain('an interrupted prune');
			expect(list(other).map(g => [g.generation, g.status])).toEqual([[4, 'complete']]);
			expect(generationFiles(other)).toEqual([list(other)[0]!.file]);
			expect(Object.keys((JSON.parse(fs.readFileSync(path.join(other, '.cage_backups.chunks.json'), 'utf8')) as {generations: Record<string, object>}).generations[file]!)).toEqual(['4']);
		});
	}

	it('kill -9 mid-create: prune keeps the interrupted generation, backup resume finishes it, age -d decrypts it', async () => {
		const other = path.join(sandbox.dir, 'resume');
		const file = path.join(sandbox.dir, 'big.bin');
		writeRandomFile(file, 8 * 1024 * 1024);
		expect(create(other, [file]).status).toBe(0);
		fs.appendFileSync(file, 'a day later');
		const run = startCage(['backup', 'create', file, '-r', recipient, '--to', other, '--chunk-size', '1MiB', '--rate', '4MiB', '--progress', 'json', '--keep-last', '1'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 2), {what: '2 chunks checkpointed', timeout: 60_000});
		run.child.kill('SIGKILL');
		await run.exited;
		expect(list(other).map(g => [g.generation, g.status])).toEqual([[1, 'complete'], [2, 'partial']]);
		// Keep-last 1 counts complete generations only, and never touches one being written.
		const pruned = cage(['backup', 'prune', '--keep-last', '1', '--to', other], {env});
		expect(pruned.stdout).toBe('nothing to remove\n');
		const resumed = cage(['backup', 'resume', file, '--to', other, '--progress', 'none', '--keep-last', '1'], {env});
		expect(resumed.stderr).toBe('');
		expect(resumed.status).toBe(0);
		expect(resumed.stdout).toContain('generation 2 written');
		expect(resumed.stdout).toContain('removed');
		const generations = list(other);
		expect(generations.map(g => [g.generation, g.status])).toEqual([[2, 'complete']]);
		const decrypted = spawnSync('age', ['-d', '-i', key, path.join(other, generations[0]!.file)], {maxBuffer: 64 * 1024 * 1024});
		expect(decrypted.stdout.equals(fs.readFileSync(file))).toBe(true);
		expect(cage(['backup', 'verify', file, '--to', other], {env}).status).toBe(0);
		expect(generationFiles(other)).toEqual([generations[0]!.file]);
	});

	it('two creates of different files into one directory at once both land', async () => {
		const other = path.join(sandbox.dir, 'together');
		const files = ['a.bin', 'b.bin'].map(name => path.join(sandbox.dir, name));
		for (const file of files) writeRandomFile(file, 3 * 1024 * 1024);
		const runs = files.map(file => startCage(['backup', 'create', file, '-r', recipient, '--to', other, '--chunk-size', '1MiB', '--progress', 'none'], {env}));
		expect(await Promise.all(runs.map(async run => run.exited))).toEqual([0, 0]);
		const listed = JSON.parse(cage(['backup', 'list', '--to', other, '--json'], {env}).stdout) as {sources: Array<{source: string; generations: Listed[]}>};
		expect(listed.sources.map(s => [s.source, s.generations.map(g => g.status)])).toEqual(files.map(file => [file, ['complete']]));
	});

	it('refuses a corrupt registry in one line naming it and its .prev', () => {
		const other = path.join(sandbox.dir, 'corrupt');
		const file = path.join(sandbox.dir, 'c.bin');
		writeRandomFile(file, 100_000);
		expect(create(other, [file]).status).toBe(0);
		const registry = path.join(other, '.cage_backups.json');
		fs.writeFileSync(registry, '{"version": 1, "tool": "cage"');
		for (const args of [['list'], ['prune'], ['verify', '--all']]) {
			const run = cage(['backup', ...args, '--to', other], {env});
			expect(run.status).toBe(1);
			expect(run.stderr.trim().split('\n')).toHaveLength(1);
			expect(run.stderr).toContain(`the backup registry ${registry} is corrupt (not valid JSON)`);
			expect(run.stderr).toContain(`${registry}.prev`);
		}

		expect(fs.readFileSync(registry, 'utf8')).toBe('{"version": 1, "tool": "cage"');
	});

	it('goes to $XDG_DATA_HOME/cage/backups by default, else config backupDir, with config backupKeepLast', () => {
		const file = path.join(sandbox.dir, 'configured.bin');
		writeRandomFile(file, 200_000);
		const home = cage(['backup', 'create', file, '-r', recipient, '--progress', 'none'], {env});
		expect(home.status).toBe(0);
		expect(home.stdout).toContain(path.join(sandbox.dir, 'data', 'cage', 'backups', 'configured.bin.'));
		const configured = path.join(sandbox.dir, 'configured');
		expect(cage(['config', 'set', 'backupDir', configured], {env}).status).toBe(0);
		expect(cage(['config', 'set', 'backupKeepLast', '1'], {env}).status).toBe(0);
		try {
			for (let day = 0; day < 2; day++) {
				writeRandomFile(file, 200_000 + day);
				const run = cage(['backup', 'create', file, '-r', recipient, '--progress', 'none'], {env});
				expect(run.status).toBe(0);
				expect(run.stdout).toContain(path.join(configured, 'configured.bin.'));
			}

			expect(list(configured).map(g => g.generation)).toEqual([2]);
		} finally {
			cage(['config', 'reset'], {env});
		}
	});

	it('says which file or generation is unknown', () => {
		const unknown = cage(['backup', 'restore', path.join(sandbox.dir, 'nope'), '-i', key, '--to', dir], {env});
		expect(unknown.status).toBe(1);
		expect(unknown.stderr).toContain('nope has no backups in');
		const generation = cage(['backup', 'chunks', source, '--generation', '9', '--to', dir], {env});
		expect(generation.status).toBe(1);
		expect(generation.stderr).toContain(`${source} has no generation 9 (it has 1, 2, 3)`);
		const help = cage(['backup', '--help'], {env});
		expect(help.stdout).toContain('create, resume, list, chunks, verify, restore, prune');
	});
});
