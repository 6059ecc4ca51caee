/**
 * What a resume may trust (#13), through the real binary on real files, with real `kill -9`: a
 * checkpoint is never taken for more than its job could have written, the partial output is
 * checked whole after an unclean stop, a file the job did not write is never replaced, a crash
 * after the final rename is finished, and one job has one writer. Every corruption ends redone
 * correctly or refused with the damage named; never exit 0 with wrong bytes.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {chunksToVerify} from '../../source/jobs/chunked-job.js';
import {cage, cliPath, makeSandbox, parseEvents, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';
import {prng} from '../helpers/prng.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

const key = path.join(dir, 'key.txt');
let recipient = '';
const quiet = ['--progress', 'none', '--no-audit'];
const json = ['--progress', 'json', '--no-audit'];
const mib = 1024 * 1024;

beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
});

const same = (a: string, b: string) => Buffer.compare(fs.readFileSync(a), fs.readFileSync(b)) === 0;
const ageDecrypts = (file: string, plain: string) => {
	const result = spawnSync('age', ['-d', '-i', key, file], {maxBuffer: 1024 ** 3});
	return result.status === 0 && Buffer.compare(result.stdout, fs.readFileSync(plain)) === 0;
};

type Checkpoint = {chunksDone: number; totalChunks: number; skipped: number[]; macs: string[]; digests: string[]; size: number; stopped?: boolean};
const readCheckpoint = (output: string) => JSON.parse(fs.readFileSync(`${output}.checkpoint.json`, 'utf8')) as Checkpoint;

/** Start a slowed job, wait until `chunks` are checkpointed, kill -9 it. */
async function killedJob(args: string[], chunks: number): Promise<void> {
	const run = startCage([...args, '--chunk-size', '1MiB', '--rate', '4MiB', ...json], {env});
	await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= chunks), {what: `${chunks} chunks checkpointed`, timeout: 60_000});
	run.child.kill('SIGKILL');
	await run.exited;
}

function flipByte(file: string, at: number): void {
	const fd = fs.openSync(file, 'r+');
	const byte = Buffer.alloc(1);
	fs.readSync(fd, byte, 0, 1, at);
	byte[0]! ^= 0x40;
	fs.writeSync(fd, byte, 0, 1, at);
	fs.closeSync(fd);
}

describe('a checkpoint is not trusted for what its job could not have written', () => {
	const plain = path.join(dir, 'forged');
	const encrypted = `${plain}.age`;
	const output = `${plain}.out`;
	let original = '';

	beforeAll(async () => {
		writeRandomFile(plain, 12 * mib);
		execFileSync('age', ['-r', recipient, '-o', encrypted, plain]);
		await killedJob(['decrypt', encrypted, '-i', key, '-o', output], 3);
		original = fs.readFileSync(`${output}.checkpoint.json`, 'utf8');
	}, 90_000);

	const forge = (edit: (checkpoint: Checkpoint) => void) => {
		const checkpoint = JSON.parse(original) as Checkpoint;
		edit(checkpoint);
		fs.writeFileSync(`${output}.checkpoint.json`, JSON.stringify(checkpoint));
	};

	it('the undone chunks listed as skipped, chunksDone at the end and the partial output cut to size: refused, nothing written', () => {
		forge(checkpoint => {
			for (let id = checkpoint.chunksDone; id < checkpoint.totalChunks; id++) {
				checkpoint.skipped.push(id);
				checkpoint.macs.push('');
				checkpoint.digests.push('0'.repeat(32));
			}

			checkpoint.chunksDone = checkpoint.totalChunks;
		});
		fs.truncateSync(`${output}.partial`, 12 * mib);
		const resumed = cage(['resume', output, ...quiet], {env});
		expect(resumed.status).toBe(1);
		expect(resumed.stderr).toContain(`checkpoint ${output}.checkpoint.json is corrupt (skipped is not empty, but an encrypt or decrypt job never skips a chunk`);
		expect(fs.existsSync(output)).toBe(false);
	});

	it.each<[string, (checkpoint: Checkpoint) => void, string]>([
		['a MAC forged', checkpoint => (checkpoint.macs[1] = 'ab'.repeat(32)), 'its seal does not match'],
		['a digest forged', checkpoint => (checkpoint.digests[0] = 'cd'.repeat(16)), 'its seal does not match'],
		['a clean stop claimed for a kill -9', checkpoint => (checkpoint.stopped = true), 'its seal does not match'],
		['an empty MAC', checkpoint => (checkpoint.macs[0] = ''), 'macs[0] is not the MAC of a done chunk'],
		['a MAC of the wrong length', checkpoint => (checkpoint.macs[0] = 'ab'), 'macs[0] is not the MAC of a done chunk'],
		['more chunks done than planned', checkpoint => (checkpoint.chunksDone = checkpoint.totalChunks + 1), `chunksDone is 13, more than the 12 chunks planned`],
		['a plan the source does not give', checkpoint => (checkpoint.size = 24 * mib), 'totalChunks is 12, but a size of 25165824 bytes'],
	])('%s: refused as a damaged checkpoint, never as a changed source', (_, edit, what) => {
		forge(edit);
		const resumed = cage(['resume', output, ...quiet], {env});
		expect(resumed.status).toBe(1);
		expect(resumed.stderr).toContain(what);
		expect(resumed.stderr).not.toContain('source changed');
		expect(fs.existsSync(output)).toBe(false);
	});

	it('the checkpoint as written resumes to the right plaintext', () => {
		fs.writeFileSync(`${output}.checkpoint.json`, original);
		const resumed = cage(['resume', output, ...quiet], {env});
		expect(resumed.stderr).toBe('');
		expect(resumed.status).toBe(0);
		expect(same(plain, output)).toBe(true);
	});
});

describe('after kill -9 the whole committed prefix of the partial output is checked', () => {
	it('decrypt: one byte flipped in a done chunk that no sample reads is found, redone, and the plaintext is right', async () => {
		const plain = path.join(dir, 'unsampled');
		writeRandomFile(plain, 16 * mib);
		execFileSync('age', ['-r', recipient, '-o', `${plain}.age`, plain]);
		const output = `${plain}.out`;
		await killedJob(['decrypt', `${plain}.age`, '-i', key, '-o', output], 7);
		const checkpoint = readCheckpoint(output);
		const sampled = new Set(chunksToVerify(checkpoint.chunksDone, checkpoint.skipped, 'sample'));
		const unsampled = Array.from({length: checkpoint.chunksDone}, (_, id) => id).find(id => !sampled.has(id))!;
		expect(unsampled).toBeDefined();
		flipByte(`${output}.partial`, unsampled * mib + 777);
		const resumed = cage(['resume', output, ...json], {env});
		expect(resumed.status).toBe(0);
		const repaired = parseEvents(resumed.stderr).find(event => event.type === 'anomaly' && event.code === 'output-changed');
		expect(repaired?.message).toContain(`chunk ${unsampled} of ${checkpoint.chunksDone} committed was not as written`);
		expect(same(plain, output)).toBe(true);
	});

	it('stopped while it checks (SIGTERM): interrupted with the checkpoint it started from, which a later resume continues', async () => {
		const plain = path.join(dir, 'check-stopped');
		writeRandomFile(plain, 16 * mib);
		execFileSync('age', ['-r', recipient, '-o', `${plain}.age`, plain]);
		const output = `${plain}.out`;
		await killedJob(['decrypt', `${plain}.age`, '-i', key, '-o', output], 8);
		const before = fs.readFileSync(`${output}.checkpoint.json`, 'utf8');
		// Slowed to 25 ms a MiB read (the slow-check fault point): long enough to be stopped in.
		const run = startCage(['resume', output, ...json], {env: {...env, CAGE_FAULT: 'slow-check'}});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:start'), {what: 'the resume to start'});
		run.child.kill('SIGTERM');
		const code = await run.exited;
		expect(code, run.stderr()).toBe(75);
		expect(run.stderr()).toContain(`resume with: cage resume ${output}`);
		expect(parseEvents(run.stderr()).find(event => event.type === 'job:done')).toMatchObject({outcome: 'interrupted', checkpoint: `${output}.checkpoint.json`});
		expect(fs.readFileSync(`${output}.checkpoint.json`, 'utf8')).toBe(before);
		const resumed = cage(['resume', output, ...quiet], {env});
		expect(resumed.status).toBe(0);
		expect(same(plain, output)).toBe(true);
	});

	it('encrypt: intact after kill -9, the check says so; the output is what age decrypts', async () => {
		const plain = path.join(dir, 'intact');
		writeRandomFile(plain, 12 * mib);
		const output = `${plain}.age`;
		await killedJob(['encrypt', plain, '-r', recipient, '-o', output], 4);
		const resumed = cage(['resume', output, ...json], {env});
		expect(resumed.status).toBe(0);
		const anomalies = parseEvents(resumed.stderr).filter(event => event.type === 'anomaly');
		expect(anomalies.map(event => event.code)).toEqual(['resume-checked']);
		expect(anomalies[0]!.message).toMatch(/all \d+ committed chunks of .*intact\.age\.partial checked against their digests in \d+ ms, intact/);
		expect(ageDecrypts(output, plain)).toBe(true);
	});
});

describe('a resume never replaces a file it did not write', () => {
	it('a file that appeared at OUTPUT is kept and the resume refused; --force replaces it', async () => {
		const plain = path.join(dir, 'appeared');
		writeRandomFile(plain, 8 * mib);
		const output = `${plain}.age`;
		await killedJob(['encrypt', plain, '-r', recipient, '-o', output], 2);
		fs.writeFileSync(output, 'precious, made by somebody else');
		const refused = cage(['resume', output, ...quiet], {env});
		expect(refused.status).toBe(1);
		expect(refused.stderr).toContain(`${output} appeared after this job started, and this job did not write it: it is kept`);
		expect(refused.stderr).toContain('resume with --force to replace it');
		expect(fs.readFileSync(output, 'utf8')).toBe('precious, made by somebody else');
		expect(fs.existsSync(`${output}.partial`)).toBe(true);
		expect(fs.existsSync(`${output}.checkpoint.json`)).toBe(true);
		const forced = cage(['resume', output, '--force', ...quiet], {env});
		expect(forced.status).toBe(0);
		expect(ageDecrypts(output, plain)).toBe(true);
	});

	it('an output the job was started with --force to replace is still replaced by its resume', async () => {
		const plain = path.join(dir, 'replacing');
		writeRandomFile(plain, 8 * mib);
		const output = `${plain}.age`;
		fs.writeFileSync(output, 'an old encryption');
		await killedJob(['encrypt', plain, '-r', recipient, '-o', output, '--force'], 2);
		expect(fs.readFileSync(output, 'utf8')).toBe('an old encryption');
		const resumed = cage(['resume', output, ...quiet], {env});
		expect(resumed.status).toBe(0);
		expect(ageDecrypts(output, plain)).toBe(true);
	});
});

describe('a batch never takes a file it did not write for its own', () => {
	const tree = () => {
		const root = path.join(dir, `tree-${Math.random().toString(36).slice(2)}`);
		fs.mkdirSync(path.join(root, 'in'), {recursive: true});
		for (const name of ['a', 'b', 'c']) writeRandomFile(path.join(root, 'in', name), 200_000);
		return root;
	};

	it('a --force batch killed right after marking a file running: the old output there is redone, not taken as done', () => {
		const root = tree();
		const out = path.join(root, 'out');
		fs.mkdirSync(path.join(out, 'in'), {recursive: true});
		for (const name of ['a', 'b', 'c']) fs.writeFileSync(path.join(out, 'in', `${name}.age`), 'OLD');
		const args = ['encrypt', '--recursive', path.join(root, 'in'), '-r', recipient, '--output-dir', out, '--force', ...quiet];
		const crashed = spawnSync(process.execPath, [cliPath, ...args], {env: {...env, CAGE_FAULT: 'batch-item-running'}, cwd: root});
		expect(crashed.signal).toBe('SIGKILL');
		const resumed = cage(['resume', out, ...quiet], {env});
		expect(resumed.stderr).toBe('');
		expect(resumed.status).toBe(0);
		for (const name of ['a', 'b', 'c']) expect(ageDecrypts(path.join(out, 'in', `${name}.age`), path.join(root, 'in', name))).toBe(true);
	});

	it('a file that appears at a --force batch\'s output after it started is kept; the batch resumed with --force replaces it', () => {
		const root = tree();
		const out = path.join(root, 'out');
		const args = ['encrypt', '--recursive', path.join(root, 'in'), '-r', recipient, '--output-dir', out, '--force', ...quiet];
		const crashed = spawnSync(process.execPath, [cliPath, ...args], {env: {...env, CAGE_FAULT: 'batch-item-running'}, cwd: root});
		expect(crashed.signal).toBe('SIGKILL');
		const appeared = path.join(out, 'in', 'c.age');
		fs.mkdirSync(path.dirname(appeared), {recursive: true});
		fs.writeFileSync(appeared, 'SOMEONE ELSE');
		const refused = cage(['resume', out, ...quiet], {env});
		expect(refused.status).toBe(1);
		expect(refused.stderr).toContain('resume it with --force to replace it');
		expect(fs.readFileSync(appeared, 'utf8')).toBe('SOMEONE ELSE');
		expect(ageDecrypts(path.join(out, 'in', 'a.age'), path.join(root, 'in', 'a'))).toBe(true);
		const forced = cage(['resume', out, '--force', ...quiet], {env});
		expect(forced.status).toBe(0);
		expect(ageDecrypts(appeared, path.join(root, 'in', 'c'))).toBe(true);
	});
});

describe('a crash between the final rename and the checkpoint removal', () => {
	it('is finished by the next resume once the output checks out; a damaged output is refused and kept', () => {
		const plain = path.join(dir, 'renamed');
		writeRandomFile(plain, 6 * mib);
		const output = `${plain}.age`;
		const crashed = spawnSync(process.execPath, [cliPath, 'encrypt', plain, '-r', recipient, '-o', output, '--chunk-size', '1MiB', ...quiet], {env: {...env, CAGE_FAULT: 'after-final-rename'}});
		expect(crashed.signal).toBe('SIGKILL');
		expect(fs.existsSync(output)).toBe(true);
		expect(fs.existsSync(`${output}.partial`)).toBe(false);
		expect(fs.existsSync(`${output}.checkpoint.json`)).toBe(true);
		// A new start is pointed at the resume; the resume recognises the finished output.
		expect(cage(['encrypt', plain, '-r', recipient, '-o', output, ...quiet], {env}).stderr).toContain('continue it with \'cage resume');
		const finished = cage(['resume', output, ...json], {env});
		expect(finished.status).toBe(0);
		expect(parseEvents(finished.stderr).find(event => event.code === 'resume-checked')?.message).toContain('was complete already');
		expect(fs.existsSync(`${output}.checkpoint.json`)).toBe(false);
		expect(ageDecrypts(output, plain)).toBe(true);

		// The same crash, then damage to the renamed output: refused, naming the chunk; nothing removed.
		fs.rmSync(output);
		spawnSync(process.execPath, [cliPath, 'encrypt', plain, '-r', recipient, '-o', output, '--chunk-size', '1MiB', ...quiet], {env: {...env, CAGE_FAULT: 'after-final-rename'}});
		flipByte(output, 2 * 1024 * 1024 + 500);
		const refused = cage(['resume', output, ...quiet], {env});
		expect(refused.status).toBe(1);
		expect(refused.stderr).toMatch(/is the output this job renamed into place before it stopped, but chunk 1 \(plaintext bytes .*\) is not as written/);
		expect(fs.existsSync(output)).toBe(true);
		expect(fs.existsSync(`${output}.checkpoint.json`)).toBe(true);
	});
});

describe('one writer per job', () => {
	it('two resumes started together: one runs, the other is refused before doing any work', async () => {
		const plain = path.join(dir, 'twice');
		writeRandomFile(plain, 16 * mib);
		const output = `${plain}.age`;
		await killedJob(['encrypt', plain, '-r', recipient, '-o', output], 3);
		// Slowed, so the one that runs is still running when the other starts, however loaded the machine.
		const runs = [startCage(['resume', output, '--rate', '4MiB', ...json], {env}), startCage(['resume', output, '--rate', '4MiB', ...json], {env})];
		const codes = await Promise.all(runs.map(async run => run.exited));
		expect([...codes].sort(), runs.map(run => run.stderr().split('\n').filter(line => !line.startsWith('{')).join(' ')).join(' | ')).toEqual([0, 1]);
		const refused = runs[codes.indexOf(1)]!;
		expect(refused.stderr()).toMatch(/cannot resume .*twice\.age\.checkpoint\.json: (cage process \d+ is running this job now|another cage process is starting this job)/);
		// Refused before any work: it never started the job.
		expect(parseEvents(refused.stderr()).some(event => event.type === 'job:start')).toBe(false);
		expect(ageDecrypts(output, plain)).toBe(true);
		expect(fs.existsSync(`${output}.checkpoint.json.lock`)).toBe(false);
	});

	it.skipIf(spawnSync('python3', ['--version']).status !== 0)('a killed writer that its parent has not reaped (a zombie) does not block the resume', async () => {
		const plain = path.join(dir, 'zombie');
		writeRandomFile(plain, 12 * mib);
		const output = `${plain}.age`;
		// A parent that never waits for its child: the child, killed, stays a zombie while it lives.
		const parent = spawn(
			'python3',
			['-c', 'import subprocess, sys, time\np = subprocess.Popen(sys.argv[1:])\nprint(p.pid, flush=True)\ntime.sleep(120)', process.execPath, cliPath, 'encrypt', plain, '-r', recipient, '-o', output, '--chunk-size', '1MiB', '--rate', '4MiB', ...quiet],
			{env, stdio: ['ignore', 'pipe', 'ignore']},
		);
		try {
			const pid = Number(await new Promise<string>(resolve => parent.stdout.once('data', (data: Buffer) => resolve(data.toString()))));
			await waitFor(() => fs.existsSync(`${output}.checkpoint.json`) && readCheckpoint(output).chunksDone >= 2, {what: 'two chunks checkpointed'});
			process.kill(pid, 'SIGKILL');
			await waitFor(() => fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]?.startsWith('Z'), {what: 'the killed child to be a zombie'});
			const resumed = cage(['resume', output, ...quiet], {env});
			expect(resumed.stderr).not.toContain(`kill ${pid}`);
			expect(resumed.status).toBe(0);
			expect(ageDecrypts(output, plain)).toBe(true);
		} finally {
			parent.kill('SIGKILL');
		}
	});
});

describe('progress is not lost', () => {
	it('a storm of kill -9 every 0.25-1.2 s still makes progress, never goes back, and ends in the right output', {timeout: 120_000}, async () => {
		const plain = path.join(dir, 'storm');
		writeRandomFile(plain, 24 * mib);
		const output = `${plain}.age`;
		const random = prng(13);
		const done: number[] = [];
		for (let round = 0; round < 12; round++) {
			const args = round === 0 || !fs.existsSync(`${output}.checkpoint.json`) ? ['encrypt', plain, '-r', recipient, '-o', output, '--chunk-size', '1MiB', '--force'] : ['resume', output];
			const run = startCage([...args, '--rate', '6MiB', ...json], {env});
			// Killed 0.25-1.2 s into the job's life (counted from its start line, so that a loaded
			// machine's slow process start-up does not eat the interval).
			await waitFor(() => run.stderr().includes('"type":"job:start"'), {what: 'the job to start'});
			await new Promise(resolve => setTimeout(resolve, 250 + Math.floor(random() * 950)));
			run.child.kill('SIGKILL');
			await run.exited;
			if (fs.existsSync(`${output}.checkpoint.json`)) done.push(readCheckpoint(output).chunksDone);
		}

		// Never backwards, and forwards in all: each run keeps what it committed.
		expect(done.length).toBeGreaterThan(0);
		for (let index = 1; index < done.length; index++) expect(done[index]).toBeGreaterThanOrEqual(done[index - 1]!);
		expect(done.at(-1)).toBeGreaterThan(done[0] ?? 0);
		const last = cage(['resume', output, ...quiet], {env});
		expect(last.status).toBe(0);
		expect(ageDecrypts(output, plain)).toBe(true);
	});
});
