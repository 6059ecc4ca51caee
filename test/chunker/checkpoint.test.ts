import {execSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {
	changeTimeMoved,
	CheckpointError,
	CheckpointStore,
	checkpointVersion,
	fingerprint,
	fingerprintChanges,
	hasValidSeal,
	parseCheckpoint,
	processStart,
	sealOf,
	readWriterRecord,
	refuseIfRunning,
	runningWriter,
	type Checkpoint,
} from '../../source/chunker/checkpoint.js';
import {prng} from './fake-processor.js';

const root = path.resolve(import.meta.dirname, '../..');
const fixtures = path.join(root, 'test/fixtures');
let dir: string;

beforeAll(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-checkpoint-'));
});

afterAll(() => {
	fs.rmSync(dir, {recursive: true, force: true});
});

function sample(overrides: Partial<Checkpoint> = {}): Checkpoint {
	return {
		version: checkpointVersion,
		tool: 'cage',
		kind: 'hash',
		job: '20261125T090000-abcdef',
		createdAt: '2026-11-25T09:00:00.000Z',
		updatedAt: '2026-11-25T09:00:01.000Z',
		source: {path: '/tmp/source.bin', size: 5000, mtimeMs: 1_764_061_200_000.25, ino: 42, dev: 7},
		output: null,
		partial: null,
		size: 5000,
		chunkSize: 1024,
		totalChunks: 5,
		chunksDone: 2,
		bytesDone: 2048,
		skipped: [],
		macs: ['aa', 'bb'],
		params: {algorithm: 'sha256'},
		...overrides,
	};
}

const hex = (length: number, seed: number) => Array.from({length}, (_, index) => ((seed * 7 + index) % 16).toString(16)).join('');

/** A version 2 encrypt checkpoint as the engine writes it: 64 KiB blocks, MACs, digests, a seal. */
function ageSample(overrides: Partial<Checkpoint> = {}): Checkpoint {
	return {
		...sample(),
		kind: 'encrypt',
		output: '/tmp/source.bin.age',
		partial: '/tmp/source.bin.age.partial',
		source: {path: '/tmp/source.bin', size: 200_000, mtimeMs: 1_764_061_200_000.25, ino: 42, dev: 7},
		size: 200_000,
		chunkSize: 65_536,
		totalChunks: 4,
		chunksDone: 2,
		bytesDone: 131_072,
		macs: [hex(64, 1), hex(64, 2)],
		digests: [hex(32, 3), hex(32, 4)],
		seal: hex(64, 5),
		secrets: 'c2VjcmV0cw==',
		params: {recipients: 'digest', headerLength: 200},
		...overrides,
	};
}

/** The message of what `action` throws (it must throw a CheckpointError). */
function errorOf(action: () => unknown): string {
	try {
		action();
	} catch (error) {
		expect(error).toBeInstanceOf(CheckpointError);
		return (error as Error).message;
	}

	throw new Error('expected a CheckpointError, nothing was thrown');
}

describe('CheckpointStore', () => {
	it('round-trips a checkpoint, with mode 0600 and no temporary file left', async () => {
		const file = path.join(dir, 'round-trip.checkpoint.json');
		const store = new CheckpointStore(file);
		expect(await store.exists()).toBe(false);
		const checkpoint = sample({info: ['x', 'y']});
		await store.write(checkpoint);
		expect(await store.exists()).toBe(true);
		expect(await store.read()).toEqual(checkpoint);
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		expect(fs.readdirSync(dir).filter(name => name.includes('round-trip') && name.includes('.tmp'))).toEqual([]);
		// Overwriting keeps it private and replaces the content.
		const next = sample({chunksDone: 3, bytesDone: 3072, macs: ['aa', 'bb', 'cc']});
		await store.write(next);
		expect(await store.read()).toEqual(next);
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		await store.remove();
		expect(await store.exists()).toBe(false);
	});

	it('says there is nothing to resume when the file is missing', async () => {
		const file = path.join(dir, 'missing.checkpoint.json');
		await expect(new CheckpointStore(file).read()).rejects.toThrow(`no checkpoint at ${file}: nothing to resume`);
	});

	it('names the file when it cannot be read', async () => {
		const file = path.join(dir, 'a-directory.checkpoint.json');
		fs.mkdirSync(file);
		await expect(new CheckpointStore(file).read()).rejects.toThrow(`cannot read checkpoint ${file}`);
	});

	it('leaves a whole checkpoint when writes overlap', async () => {
		const file = path.join(dir, 'overlap.checkpoint.json');
		const store = new CheckpointStore(file);
		const big = (done: number) => sample({totalChunks: 5000, chunksDone: done, bytesDone: done * 1024, size: 5000 * 1024, macs: Array.from({length: done}, (_, id) => id.toString(16).padEnd(64, '0'))});
		const results = await Promise.allSettled([store.write(big(4000)), store.write(big(10)), store.write(big(2500)), new CheckpointStore(file).write(big(1))]);
		// Whatever happened to each write, the file on disk is one of them, whole.
		expect(results.some(result => result.status === 'fulfilled')).toBe(true);
		const read = await store.read();
		expect([4000, 10, 2500, 1]).toContain(read.chunksDone);
	});
});

describe('parseCheckpoint', () => {
	const file = '/somewhere/job.checkpoint.json';
	const text = (value: unknown) => JSON.stringify(value);

	it('accepts what the writer writes', () => {
		expect(parseCheckpoint(text(sample()), file)).toEqual(sample());
	});

	it('rejects corrupt JSON, naming the file and what to do', () => {
		const message = errorOf(() => parseCheckpoint('{"version": 1, "tool": "cage", "macs": [', file));
		expect(message).toContain(file);
		expect(message).toContain('not valid JSON');
		expect(message).toContain('start the job again with --force');
		expect(errorOf(() => parseCheckpoint('', file))).toContain(file);
	});

	it.each([
		['an object of another tool', {tool: 'rsync', version: 1}],
		['an array', []],
		['null', null],
		['a string', 'cage'],
		['a number', 1],
	])('rejects foreign JSON (%s)', (_, value) => {
		const message = errorOf(() => parseCheckpoint(text(value), file));
		expect(message).toBe(`${file} is not a cage checkpoint; pass the .checkpoint.json file cage printed, or the output path`);
	});

	it('asks for an upgrade when the version is newer', () => {
		const message = errorOf(() => parseCheckpoint(text(sample({version: 3 as 2})), file));
		expect(message).toContain(file);
		expect(message).toContain('newer cage (format version 3, this cage reads 2)');
		expect(message).toContain('upgrade cage');
	});

	it.each<[string, Record<string, unknown>, string]>([
		['no version', {version: undefined}, 'no version'],
		['version as text', {version: '1'}, 'no version'],
		['an old unknown version', {version: 0}, 'unsupported version 0'],
		['an unknown kind', {kind: 'compress'}, 'unknown kind compress'],
		['a negative size', {size: -1}, 'size is not a non-negative integer'],
		['a fractional bytesDone', {bytesDone: 1.5}, 'bytesDone is not a non-negative integer'],
		['a chunk size of 0', {chunkSize: 0}, 'chunkSize is 0'],
		['more done than planned', {chunksDone: 6, bytesDone: 5000, macs: ['1', '2', '3', '4', '5', '6']}, 'chunksDone is 6, more than the 5 chunks planned'],
		['a plan that does not add up', {totalChunks: 9}, 'totalChunks is 9, but a size of 5000 bytes in chunks of 1024 makes 5'],
		['too few macs', {macs: ['aa']}, 'macs holds 1 MACs for 2 chunks done'],
		['too many macs', {macs: ['aa', 'bb', 'cc']}, 'macs holds 3 MACs for 2 chunks done'],
		['a non-string mac', {macs: ['aa', 7]}, 'macs[1] is not the MAC of a done chunk'],
		['an empty mac of a done chunk', {macs: ['aa', '']}, 'macs[1] is not the MAC of a done chunk'],
		['no macs', {macs: undefined}, 'macs holds no MACs for 2 chunks done'],
		['bytesDone beyond the chunks done', {bytesDone: 4096}, 'bytesDone is 4096, but the 2 chunks done hold 2048 bytes'],
		['no source', {source: undefined}, 'no source fingerprint'],
		['a source without a path', {source: {size: 1, mtimeMs: 1, ino: 1, dev: 1}}, 'source path missing'],
		['a source without an inode', {source: {path: '/x', size: 1, mtimeMs: 1, dev: 1}}, 'source ino missing'],
		['an invalid skipped list', {skipped: ['1']}, 'skipped lists chunks that are not done'],
		['a skipped chunk not done', {skipped: [3]}, 'skipped lists chunks that are not done'],
		['an info list of the wrong length', {info: ['x']}, 'info list does not match the chunks done'],
		['a numeric output', {output: 5}, 'output is invalid'],
		['a numeric partial', {partial: 5}, 'partial is invalid'],
		['non-string secrets', {secrets: {key: 'plain'}}, 'secrets are invalid'],
		['no params', {params: undefined}, 'params missing'],
		['no job id', {job: 12}, 'job id missing'],
	])('rejects %s, naming the file', (_, overrides, what) => {
		const value = {...sample(), ...overrides};
		const message = errorOf(() => parseCheckpoint(text(value), file));
		expect(message).toBe(`checkpoint ${file} is corrupt (${what}): start the job again with --force`);
	});

	it('accepts an encrypt checkpoint as the engine writes it', () => {
		expect(parseCheckpoint(text(ageSample()), file)).toEqual(ageSample());
	});

	// What a job could not have written (#13): each is refused naming the field, never resumed.
	it.each<[string, Record<string, unknown>, string]>([
		['skipped chunks (the undone ones, with chunksDone at the end)', {chunksDone: 4, bytesDone: 131_072, skipped: [2, 3], macs: [hex(64, 1), hex(64, 2), '', ''], digests: [hex(32, 3), hex(32, 4), hex(32, 5), hex(32, 6)]}, 'skipped is not empty, but an encrypt or decrypt job never skips a chunk (every chunk is needed for a valid output)'],
		['an empty MAC', {macs: [hex(64, 1), '']}, 'macs[1] is not the MAC of a done chunk'],
		['a MAC of the wrong length', {macs: [hex(64, 1), hex(40, 2)]}, 'macs[1] is not the MAC of a done chunk'],
		['chunksDone beyond the plan', {chunksDone: 5, bytesDone: 200_000, macs: Array.from({length: 5}, (_, id) => hex(64, id)), digests: Array.from({length: 5}, (_, id) => hex(32, id))}, 'chunksDone is 5, more than the 4 chunks planned'],
		['bytesDone inconsistent with chunksDone', {bytesDone: 200_000}, 'bytesDone is 200000, but the 2 chunks done hold 131072 bytes'],
		['a chunk size that is not whole age blocks', {chunkSize: 50_000, totalChunks: 4, bytesDone: 100_000}, 'chunkSize 50000 is not a multiple of the 64 KiB age block'],
		['no digests', {digests: undefined}, 'digests missing'],
		['a digest too few', {digests: [hex(32, 3)]}, 'digests holds 1 digests for 2 chunks done'],
		['an empty digest', {digests: [hex(32, 3), '']}, 'digests[1] is not the digest of a written chunk'],
		['no seal', {seal: undefined}, 'seal missing'],
		['a seal that is not a MAC', {seal: 'x'}, 'seal is invalid'],
	])('refuses an encrypt checkpoint with %s, naming the field', (_, overrides, what) => {
		const message = errorOf(() => parseCheckpoint(text({...ageSample(), ...overrides}), file));
		expect(message).toBe(`checkpoint ${file} is corrupt (${what}): start the job again with --force`);
	});

	it('seals what it writes with the key given: any edit of any field breaks the seal, another key does not open it', async () => {
		const key = Buffer.alloc(32, 7);
		const sealed = path.join(dir, 'sealed.checkpoint.json');
		const {seal: _none, ...unsealed} = ageSample();
		await new CheckpointStore(sealed, {sealKey: key}).write(unsealed as Checkpoint);
		const read = await new CheckpointStore(sealed).read();
		expect(read.seal).toMatch(/^[\da-f]{64}$/);
		expect(hasValidSeal(read, key)).toBe(true);
		expect(hasValidSeal(read, Buffer.alloc(32, 8))).toBe(false);
		expect(hasValidSeal({...read, macs: [hex(64, 9), read.macs[1]!]}, key)).toBe(false);
		expect(hasValidSeal({...read, digests: [read.digests![0]!, hex(32, 9)]}, key)).toBe(false);
		expect(hasValidSeal({...read, stopped: true}, key)).toBe(false);
		expect(hasValidSeal({...read, params: {...read.params, headerLength: 201}}, key)).toBe(false);
		// Key order in the file does not matter (the seal is over canonical JSON).
		const reordered = Object.fromEntries(Object.entries(read).reverse()) as Checkpoint;
		expect(hasValidSeal(reordered, key)).toBe(true);
		expect(sealOf(unsealed, key)).toBe(read.seal);
	});
});

describe('checkpoints written by older builds', () => {
	it('reads the v1 encrypt fixture', async () => {
		const checkpoint = await new CheckpointStore(path.join(fixtures, 'checkpoint-v1.encrypt.json')).read();
		expect(checkpoint.version).toBe(1);
		expect(checkpoint.kind).toBe('encrypt');
		expect(checkpoint.source).toEqual({path: '/data/dump.sql', size: 50_331_648, mtimeMs: 1_764_060_000_123.5, ino: 1_234_567, dev: 2049});
		expect(checkpoint.chunksDone).toBe(2);
		expect(checkpoint.bytesDone).toBe(2 * 16 * 2 ** 20);
		expect(checkpoint.macs).toHaveLength(2);
		expect(checkpoint.secrets).toMatch(/^[A-Za-z\d+/=]+$/);
		expect(checkpoint.params).toEqual({recipients: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', headerLength: 219});
	});

	it('reads the v1 hash fixture (info list, no output, no secrets)', async () => {
		const checkpoint = await new CheckpointStore(path.join(fixtures, 'checkpoint-v1.hash.json')).read();
		expect(checkpoint.kind).toBe('hash');
		expect(checkpoint.output).toBeNull();
		expect(checkpoint.partial).toBeNull();
		expect(checkpoint.secrets).toBeUndefined();
		expect(checkpoint.info).toEqual(['sha256:5d41402abc4b2a76b9719d911017c592']);
		expect(checkpoint.macs).toHaveLength(checkpoint.chunksDone);
	});
});

describe('fingerprint', () => {
	it('matches an unchanged file and detects size, mtime and inode changes', async () => {
		const file = path.join(dir, 'source.bin');
		fs.writeFileSync(file, 'hello world');
		fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
		const before = await fingerprint(file);
		expect(before).toMatchObject({path: file, size: 11});
		expect(fingerprintChanges(before, await fingerprint(file))).toEqual([]);

		// Same size, new content and mtime.
		fs.writeFileSync(file, 'HELLO WORLD');
		fs.utimesSync(file, 1_700_000_100, 1_700_000_100);
		const touched = fingerprintChanges(before, await fingerprint(file));
		expect(touched).toHaveLength(1);
		expect(touched[0]).toMatch(/^modified 2023-11-14T22:13:20\.000Z -> 2023-11-14T22:15:00\.000Z$/);

		// Size change (mtime put back, to see it alone).
		fs.appendFileSync(file, '!');
		fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
		expect(fingerprintChanges(before, await fingerprint(file))).toEqual(['size 11 -> 12 bytes']);

		// Replaced by another file with the same size and mtime: only the inode tells.
		const other = path.join(dir, 'other.bin');
		fs.writeFileSync(other, 'hello world');
		fs.utimesSync(other, 1_700_000_000, 1_700_000_000);
		fs.renameSync(other, file);
		const replaced = await fingerprint(file);
		expect(replaced.ino).not.toBe(before.ino);
		expect(fingerprintChanges(before, replaced)).toEqual(['replaced by another file (inode changed)']);
	});

	it('tells an in-place edit whose mtime was put back by the change time, which older checkpoints lack', async () => {
		const file = path.join(dir, 'edited.bin');
		fs.writeFileSync(file, 'hello world');
		fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
		const before = await fingerprint(file);
		expect(changeTimeMoved(before, await fingerprint(file))).toBe(false);
		// ctime has the clock's resolution: make sure it can move.
		await new Promise(resolve => setTimeout(resolve, 20));
		fs.writeFileSync(file, 'HELLO WORLD');
		fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
		const after = await fingerprint(file);
		expect(fingerprintChanges(before, after)).toEqual([]);
		expect(changeTimeMoved(before, after)).toBe(true);
		const {ctimeMs: _dropped, ...older} = before;
		expect(changeTimeMoved(older, after)).toBe(false);
	});

	it('sees sub-millisecond mtime changes', async () => {
		const before = {path: '/x', size: 1, mtimeMs: 1000.25, ino: 1, dev: 1};
		expect(fingerprintChanges(before, {...before, mtimeMs: 1000.5})).toHaveLength(1);
		expect(fingerprintChanges(before, {...before, dev: 2})).toEqual(['replaced by another file (inode changed)']);
	});
});

describe('atomic writes under SIGKILL', () => {
	const distCheckpoint = path.join(root, 'dist/chunker/checkpoint.js');

	beforeAll(() => {
		if (!fs.existsSync(distCheckpoint)) execSync('npm run build', {cwd: root, stdio: 'inherit'});
	});

	it('leaves a whole checkpoint (old or new, never torn) however often the writer is killed', async () => {
		const work = fs.mkdtempSync(path.join(dir, 'kill-'));
		const file = path.join(work, 'job.checkpoint.json');
		const writer = path.join(work, 'writer.mjs');
		// Checkpoints from 0 to ~300 KB, so a torn write would show as bad JSON or a MAC list that
		// does not match chunksDone.
		fs.writeFileSync(
			writer,
			`import {CheckpointStore} from ${JSON.stringify(pathToFileURL(distCheckpoint).href)};
const base = JSON.parse(process.argv[3]);
const store = new CheckpointStore(process.argv[2]);
let round = Number(process.argv[4]);
for (;;) {
	const done = (round * 997) % (base.totalChunks + 1);
	await store.write({...base, chunksDone: done, bytesDone: done * base.chunkSize, macs: Array.from({length: done}, (_, id) => round.toString(16) + 'f' + id.toString(16)), updatedAt: String(round)});
	if (round === Number(process.argv[4])) process.stdout.write('ready\\n');
	round++;
}
`,
		);
		const base = sample({totalChunks: 4000, size: 4000 * 1024, chunksDone: 0, bytesDone: 0, macs: []});
		const random = prng(2026);
		const kills = 30;
		const seen = new Set<string>();
		for (let kill = 0; kill < kills; kill++) {
			const child = spawn(process.execPath, [writer, file, JSON.stringify(base), String(kill * 1000)], {stdio: ['ignore', 'pipe', 'inherit']});
			const exited = new Promise<NodeJS.Signals | null>(resolve => child.on('exit', (_code, signal) => resolve(signal)));
			await new Promise<void>((resolve, reject) => {
				child.stdout.once('data', () => resolve());
				child.once('exit', () => reject(new Error('writer exited before its first checkpoint')));
			});
			await new Promise(resolve => setTimeout(resolve, Math.floor(random() * 40)));
			child.kill('SIGKILL');
			expect(await exited).toBe('SIGKILL');
			const text = fs.readFileSync(file, 'utf8');
			const checkpoint = parseCheckpoint(text, file);
			expect(checkpoint.macs).toHaveLength(checkpoint.chunksDone);
			expect(checkpoint.macs.every(mac => mac.startsWith(`${Number(checkpoint.updatedAt).toString(16)}f`))).toBe(true);
			expect(fs.statSync(file).mode & 0o777).toBe(0o600);
			seen.add(checkpoint.updatedAt);
		}

		// The kills landed at different moments: the writer got through different rounds.
		expect(seen.size).toBeGreaterThan(kills / 2);
		// A kill between creating a temp file and renaming it leaves it behind: the next run removes
		// those of processes that are gone (and nothing else).
		const temporaries = () => fs.readdirSync(work).filter(name => name.includes('.tmp-'));
		const live = path.join(work, `.job.checkpoint.json.tmp-${process.pid}-abcdef`);
		const dead = path.join(work, '.job.checkpoint.json.tmp-999999999-abcdef');
		fs.writeFileSync(live, '{');
		fs.writeFileSync(dead, '{');
		expect(temporaries().length).toBeGreaterThanOrEqual(2);
		await new CheckpointStore(file).removeStaleTemporaries();
		expect(temporaries()).toEqual([path.basename(live)]);
		expect(fs.existsSync(file)).toBe(true);
	});
});

describe('runningWriter (a job another process runs now)', () => {
	it('is the pid whose start time the checkpoint recorded, never a reused pid, a dead one or this process', async () => {
		const child = spawn('sleep', ['30'], {stdio: 'ignore'});
		try {
			const pid = child.pid!;
			const started = processStart(pid);
			expect(started).toMatch(/^\d+$/);
			const old = new Date(Date.now() - 60_000).toISOString();
			expect(runningWriter({pid, pidStart: started, updatedAt: old})).toBe(pid);
			// The same pid, started at another time: a process that took the pid after a crash.
			expect(runningWriter({pid, pidStart: `${started}0`, updatedAt: new Date().toISOString()})).toBeUndefined();
			// No start time (an older checkpoint): alive and fresh counts; alive, old and not cage does not.
			expect(runningWriter({pid, updatedAt: new Date().toISOString()})).toBe(pid);
			expect(runningWriter({pid, updatedAt: old})).toBeUndefined();
			expect(runningWriter({pid: process.pid, pidStart: processStart(process.pid)})).toBeUndefined();
		} finally {
			child.kill();
			await new Promise(resolve => child.once('exit', resolve));
		}

		expect(runningWriter({pid: child.pid!, updatedAt: new Date().toISOString()})).toBeUndefined();
	});

	it('refuseIfRunning throws the caller\'s refusal for a running writer read from a file, and nothing for a missing or torn one', async () => {
		const child = spawn('sleep', ['30'], {stdio: 'ignore'});
		try {
			const pid = child.pid!;
			const refusal = (writer: number) => new CheckpointError(`process ${writer} runs it`);
			const lock = path.join(dir, 'running.lock');
			fs.writeFileSync(lock, JSON.stringify({pid, pidStart: processStart(pid)}));
			expect(() => refuseIfRunning(readWriterRecord(lock), refusal)).toThrow(`process ${pid} runs it`);
			fs.writeFileSync(lock, '{"pid": ');
			expect(readWriterRecord(lock)).toEqual({});
			expect(() => refuseIfRunning(readWriterRecord(lock), refusal)).not.toThrow();
			expect(readWriterRecord(path.join(dir, 'missing.lock'))).toEqual({});
			for (const json of ['null', '42', '[1]']) {
				fs.writeFileSync(lock, json);
				expect(() => refuseIfRunning(readWriterRecord(lock), refusal)).not.toThrow();
			}

			expect(() => refuseIfRunning({pid: process.pid}, refusal)).not.toThrow();
		} finally {
			child.kill();
			await new Promise(resolve => child.once('exit', resolve));
		}
	});
});
