/**
 * `cage backup verify` is resumable: killed (kill -9, SIGINT) in the middle, the same verify again
 * or `cage resume` continues from its checkpoint, and ends with the findings, registry marks and
 * manifest results of a run that was never interrupted. A checkpoint that was edited, or a
 * generation file that changed since, is not trusted. Real processes, real signals; 18 MiB of
 * backups in 1 MiB chunks, slowed with --rate so that the kills land in the middle.
 */
import {execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, makeSandbox, parseEvents, startCage, waitFor, writeRandomFile, type CageRun} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-verify-resume-');
const env = {...sandbox.env, XDG_DATA_HOME: path.join(sandbox.dir, 'data')};
afterAll(() => sandbox.cleanup());

const key = path.join(sandbox.dir, 'key.txt');
const master = path.join(sandbox.dir, 'master');
const sources = ['a.bin', 'b.bin'].map(name => path.join(sandbox.dir, name));
const slow = ['--rate', '6MiB', '--jobs', '2', '--no-audit'];
let totalChunks = 0;

type Registry = {sources: Record<string, {generations: Array<{generation: number; status: string; damagedChunks?: number[]}>}>};
type Manifests = {generations: Record<string, Record<string, {chunks: Array<{id: number; start: number; end: number; lastVerify?: string}>}>>};

const readJson = <T>(file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const verifyCheckpoints = (dir: string) => fs.readdirSync(dir).filter(name => name.startsWith('.cage_backups.verify-') && name.endsWith('.checkpoint.json'));

/** What a verify leaves behind: each generation's status and damaged chunks, each chunk's last result. */
function marks(dir: string) {
	const registry = readJson<Registry>(path.join(dir, '.cage_backups.json'));
	const manifests = readJson<Manifests>(path.join(dir, '.cage_backups.chunks.json'));
	return Object.entries(registry.sources).map(([source, entry]) => ({
		source,
		generations: entry.generations.map(g => ({generation: g.generation, status: g.status, damagedChunks: g.damagedChunks, chunks: manifests.generations[source]![String(g.generation)]!.chunks.map(chunk => chunk.lastVerify)})),
	}));
}

/** The findings a verify printed, the directory's path taken out. */
const said = (run: CageRun, dir: string) => ({
	status: run.status,
	stdout: run.stdout.replaceAll(dir, 'DIR'),
	// The job's error and the findings; not the progress lines.
	findings: run.stderr
		.split('\n')
		.filter(line => line.startsWith('cage backup verify:') || line.startsWith(sandbox.dir))
		.join('\n')
		.replaceAll(dir, 'DIR'),
});

/** A fresh copy of the damaged backups, never verified. */
function copy(name: string): string {
	const dir = path.join(sandbox.dir, name);
	fs.cpSync(master, dir, {recursive: true});
	return dir;
}

function flip(file: string, at: number): void {
	const fd = fs.openSync(file, 'r+');
	const byte = Buffer.alloc(1);
	fs.readSync(fd, byte, 0, 1, at);
	byte[0]! ^= 0x20;
	fs.writeSync(fd, byte, 0, 1, at);
	fs.closeSync(fd);
}

function chunkOf(dir: string, source: string, generation: number, id: number): {file: string; start: number; end: number} {
	const shown = JSON.parse(cage(['backup', 'chunks', source, '--generation', String(generation), '--to', dir, '--json'], {env}).stdout) as {file: string; chunks: Array<{start: number; end: number}>};
	return {file: shown.file, ...shown.chunks[id]!};
}

/** Start a verify in `dir` and kill -9 it once `chunks` chunks are in its checkpoint; the chunks its checkpoint holds then. */
async function killAt(dir: string, args: string[], chunks: number): Promise<number> {
	const run = startCage([...args, '--progress', 'json', ...slow], {env});
	await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= chunks), {what: `${chunks} chunks checkpointed`, timeout: 30_000});
	run.child.kill('SIGKILL');
	await run.exited;
	const [checkpoint] = verifyCheckpoints(dir);
	expect(checkpoint, 'the killed verify left its checkpoint').toBeDefined();
	return readJson<{targets: Array<{chunksDone: number}>}>(path.join(dir, checkpoint!)).targets.reduce((sum, target) => sum + target.chunksDone, 0);
}

beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	const create = (file: string) => {
		const made = cage(['backup', 'create', file, '-r', recipient, '--to', master, '--chunk-size', '1MiB', '--keep-last', '0', '--progress', 'none', '--no-audit'], {env});
		expect(made.status, made.stderr).toBe(0);
	};

	writeRandomFile(sources[0]!, 6 * 1024 * 1024);
	create(sources[0]!);
	writeRandomFile(sources[0]!, 6 * 1024 * 1024 + 500_000);
	create(sources[0]!);
	writeRandomFile(sources[1]!, 5 * 1024 * 1024);
	create(sources[1]!);
	// Damage to be found: generation 1 of a.bin, chunk 2, and b.bin's chunk 4 (its last).
	for (const [source, id] of [[sources[0]!, 2], [sources[1]!, 4]] as const) {
		const chunk = chunkOf(master, source, 1, id);
		flip(chunk.file, chunk.start + 777);
	}

	totalChunks = marks(master).flatMap(source => source.generations).reduce((sum, g) => sum + g.chunks.length, 0);
	expect(totalChunks).toBe(18);
});

describe('backup verify, interrupted and resumed', () => {
	const reference: Record<string, {said: ReturnType<typeof said>; marks: ReturnType<typeof marks>}> = {};
	beforeAll(() => {
		for (const [name, keyArgs] of [['keyless', []], ['keyed', ['-i', key]]] as const) {
			const dir = copy(`reference-${name}`);
			const run = cage(['backup', 'verify', '--all', '--to', dir, '--no-audit', ...keyArgs], {env});
			expect(run.status, run.stderr).toBe(1);
			reference[name] = {said: said(run, dir), marks: marks(dir)};
			expect(verifyCheckpoints(dir)).toEqual([]);
		}

		expect(reference.keyless!.said.findings).toContain('generation 1: DAMAGED: chunk 2');
		expect(reference.keyless!.said.findings).toContain('b.bin generation 1: DAMAGED: chunk 4');
	});

	it('kill -9 three times at growing points, then the same verify: the uninterrupted run\'s findings and marks, the checked chunks not read again', async () => {
		const dir = copy('killed');
		const args = ['backup', 'verify', '--all', '--to', dir];
		let reached = 0;
		for (const threshold of [3, 8, 13]) {
			reached = await killAt(dir, args, Math.max(threshold, reached + 1));
			const [checkpoint] = verifyCheckpoints(dir);
			expect(checkpoint).toBeDefined();
			const file = path.join(dir, checkpoint!);
			expect(fs.statSync(file).mode & 0o777).toBe(0o600);
			// No plaintext digest (of a source or of any of its chunks), no key.
			const text = fs.readFileSync(file, 'utf8');
			expect(text).not.toContain('AGE-SECRET-KEY');
			for (const source of sources) {
				const bytes = fs.readFileSync(source);
				expect(text).not.toContain(createHash('sha256').update(bytes).digest('hex'));
				for (let at = 0; at < bytes.length; at += 1024 * 1024) expect(text).not.toContain(createHash('sha256').update(bytes.subarray(at, at + 1024 * 1024)).digest('hex'));
			}

			// Nothing is marked before the verify ends.
			expect(marks(dir).flatMap(source => source.generations).every(g => g.status === 'complete' && g.chunks.every(result => result === undefined))).toBe(true);
		}

		const last = cage([...args, '--progress', 'json', '--no-audit'], {env});
		const events = parseEvents(last.stderr);
		expect(events[0]).toMatchObject({type: 'job:start', resumed: true});
		// Only what the killed runs had not checked is read.
		expect(events.filter(event => event.type === 'chunk:start').length).toBe(totalChunks - reached);
		expect(said(last, dir)).toEqual(reference.keyless!.said);
		expect(marks(dir)).toEqual(reference.keyless!.marks);
		expect(verifyCheckpoints(dir)).toEqual([]);
		expect(fs.readdirSync(dir).filter(name => name.includes('.lock') || name.includes('.tmp-'))).toEqual([]);
	});

	it('with -i: kill -9, then cage resume DIR (the identity files it recorded): the uninterrupted keyed run\'s findings and marks', async () => {
		const dir = copy('keyed');
		await killAt(dir, ['backup', 'verify', '--all', '-i', key, '--to', dir], 7);
		const resumed = cage(['resume', dir, '--no-audit'], {env, cwd: sandbox.dir});
		expect(said(resumed, dir)).toEqual(reference.keyed!.said);
		expect(marks(dir)).toEqual(reference.keyed!.marks);
		expect(verifyCheckpoints(dir)).toEqual([]);
	});

	it('Ctrl-C (SIGINT): exit 75 with the resume line; that line finishes it', async () => {
		const dir = copy('sigint');
		const run = startCage(['backup', 'verify', '--all', '--to', dir, '--progress', 'json', ...slow], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 5), {what: '5 chunks checkpointed'});
		run.child.kill('SIGINT');
		expect(await run.exited).toBe(75);
		const line = /^resume with: cage resume (\S+)(.*)$/m.exec(run.stderr());
		expect(line, run.stderr()).not.toBeNull();
		expect(run.stdout()).toMatch(/^interrupted: \d of 3 generation\(s\) finished/m);
		expect(parseEvents(run.stderr()).at(-1)).toMatchObject({type: 'job:done', outcome: 'interrupted', checkpoint: path.join(dir, verifyCheckpoints(dir)[0]!)});
		const resumed = cage(['resume', line![1]!, ...line![2]!.trim().split(' ').filter(Boolean)], {env});
		expect(said(resumed, dir)).toEqual(reference.keyless!.said);
		expect(marks(dir)).toEqual(reference.keyless!.marks);
	});

	it('an edited checkpoint (its damaged chunk taken out) is not trusted: every chunk is checked again, the damage still found', async () => {
		const dir = copy('tampered');
		const args = ['backup', 'verify', '--all', '--to', dir];
		// Past a.bin generation 1's damaged chunk 2.
		await killAt(dir, args, 5);
		const file = path.join(dir, verifyCheckpoints(dir)[0]!);
		const checkpoint = readJson<{targets: Array<{damaged: unknown[]}>}>(file);
		expect(checkpoint.targets[0]!.damaged).toHaveLength(1);
		checkpoint.targets[0]!.damaged = [];
		fs.writeFileSync(file, JSON.stringify(checkpoint));
		const again = cage([...args, '--progress', 'json', '--no-audit'], {env});
		const events = parseEvents(again.stderr);
		expect(events.find(event => event.type === 'anomaly' && event.code === 'resume-checked')?.message).toMatch(/does not match its seal.*every chunk is checked again/);
		expect(events.filter(event => event.type === 'chunk:start')).toHaveLength(totalChunks);
		expect(said(again, dir)).toEqual(reference.keyless!.said);
		expect(marks(dir)).toEqual(reference.keyless!.marks);
	});

	it('a generation file changed after its chunks were checked is checked again from its start (the new damage found)', async () => {
		const dir = copy('changed');
		const args = ['backup', 'verify', '--all', '--to', dir];
		await killAt(dir, args, 4);
		// Chunk 0 of a.bin generation 1 was found intact before the kill; now it is not.
		const chunk = chunkOf(dir, sources[0]!, 1, 0);
		flip(chunk.file, chunk.start + 5);
		const again = cage([...args, '--progress', 'json', '--no-audit'], {env});
		expect(again.status).toBe(1);
		expect(parseEvents(again.stderr).find(event => event.type === 'anomaly' && event.code === 'resume-checked')?.message).toContain(`${sources[0]!} generation 1: its file changed since, so it is checked again from its first chunk`);
		expect(again.stderr).toContain(`${sources[0]!} generation 1: DAMAGED: chunk 0 (bytes [${chunk.start}, ${chunk.end})`);
		expect(marks(dir)[0]!.generations[0]).toMatchObject({status: 'damaged', damagedChunks: [0, 2]});
	});

	it('a second verify of the same generations while one runs is refused, naming the running one', async () => {
		const dir = copy('twice');
		const args = ['backup', 'verify', '--all', '--to', dir];
		const first = startCage([...args, '--progress', 'json', ...slow], {env});
		await waitFor(() => parseEvents(first.stderr()).some(event => event.type === 'job:checkpoint'), {what: 'a checkpoint'});
		const second = cage([...args, '--no-audit'], {env});
		expect(second.status).toBe(1);
		expect(second.stderr).toMatch(new RegExp(`cage process ${first.child.pid!} is verifying these generations now`));
		first.child.kill('SIGKILL');
		await first.exited;
		expect(said(cage([...args, '--no-audit'], {env}), dir)).toEqual(reference.keyless!.said);
	});
});
