/**
 * `cage status` singles out a --low-space lock or unlock stopped part way (kill -9 after its
 * first cuts, with the built binary): the cut source is listed as cut, not as a plain file, and
 * the job says where each part of the data is, the exact line that finishes it and the one that
 * rebuilds the file, in text and --json; a running one says it runs. The line printed is the one
 * that works: running it finishes the job.
 */
import {execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {ageKeyPair, cage, makeSandbox, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';
import type {StatusReport} from '../../source/inplace/status.js';

const sandbox = makeSandbox('cage-status-low-space-');
const {dir, env} = sandbox;
afterAll(() => sandbox.cleanup());

const {key, recipient} = ageKeyPair(dir);
const quiet = ['--progress', 'none', '--no-audit'];

const sha = (file: string | Buffer) => createHash('sha256').update(typeof file === 'string' ? fs.readFileSync(file) : file).digest('hex');
const size = 3_000_000;
const status = (directory: string) => cage(['status', directory], {env});
const statusJson = (directory: string) => JSON.parse(cage(['status', directory, '--json'], {env}).stdout) as StatusReport;

function fresh(name: string): string {
	const directory = path.join(dir, name);
	fs.mkdirSync(directory, {recursive: true});
	return directory;
}

/** Start `args` slowed down; resolves once `file` is shorter than `below` (a few chunks cut). */
async function startAndCut(args: string[], file: string, below: number): Promise<ReturnType<typeof startCage>> {
	const job = startCage([...args, '--chunk-size', '256K', '--rate', '1MiB', ...quiet], {env});
	try {
		await waitFor(() => fs.existsSync(file) && fs.statSync(file).size < below, {what: `${file} cut below ${below} bytes`, timeout: 60_000, interval: 20});
	} catch (error) {
		job.child.kill('SIGKILL');
		throw error;
	}

	return job;
}

/** Run a line status printed (`cage resume ...`) as it is. */
function runLine(line: string, cwd: string) {
	const [command, ...args] = line.split(' ');
	expect(command).toBe('cage');
	return cage([...args, ...quiet], {env, cwd});
}

describe('cage status and --low-space jobs', () => {
	it('a lock: running, then killed: listed as cut, where the data is, the resume and --recover lines (text and --json); the resume line finishes it', async () => {
		const work = fresh('lock');
		const file = path.join(work, 'backup.tar');
		writeRandomFile(file, size);
		const want = sha(file);
		const job = await startAndCut(['lock', file, '-r', recipient, '--low-space'], file, size - 500_000);
		const running = statusJson(work);
		job.child.kill('SIGKILL');
		await job.exited;
		expect(running.lowSpace).toEqual([expect.objectContaining({op: 'lock', state: 'running', pid: job.child.pid, file})]);

		const length = fs.statSync(file).size;
		const report = statusJson(work);
		expect(report.lowSpace).toEqual([
			{
				op: 'lock',
				state: 'interrupted',
				file,
				source: file,
				partial: `${file}.age.partial`,
				stateFile: `${file}.age.low-space.json`,
				size,
				done: size - length,
				holds: expect.stringContaining(`${file} is cut to its first ${length} of ${size} bytes`) as unknown,
				resume: `cage resume ${path.join(work, '.cage-batch.checkpoint.json')}`,
				recover: `cage unlock --recover ${file}.age -i YOUR_IDENTITY`,
			},
		]);
		const text = status(work).stdout;
		expect(text).toMatch(/^cut +\d\.\d\d MiB {2}.*backup\.tar {2}\(a --low-space lock is interrupted: see below\)$/m);
		expect(text).not.toMatch(/^unlocked .*backup\.tar$/m);
		expect(text).toContain(`--low-space lock interrupted: ${file}\n`);
		expect(text).toContain(`neither file alone holds it — keep both and backup.tar.age.low-space.json together`);
		expect(text).toContain(`  finish it:  cage resume ${path.join(work, '.cage-batch.checkpoint.json')}\n`);
		expect(text).toContain(`  or rebuild the file without finishing the job:  cage unlock --recover ${file}.age -i YOUR_IDENTITY\n`);

		const resumed = runLine(report.lowSpace[0]!.resume!, work);
		expect(resumed.status, resumed.stderr).toBe(0);
		expect(sha(execFileSync('/usr/bin/age', ['-d', '-i', key, `${file}.age`], {maxBuffer: 64 * 1024 * 1024}))).toBe(want);
		expect(statusJson(work)).toMatchObject({lowSpace: [], jobs: [], locked: 1, unlocked: 0});
	});

	it('an unlock killed part way: the .age listed as cut, the recover line with the batch\'s identity, and the resume line finishes it', async () => {
		const work = fresh('unlock');
		const file = path.join(work, 'photos.zip');
		writeRandomFile(file, size);
		const want = sha(file);
		execFileSync('/usr/bin/age', ['-r', recipient, '-o', `${file}.age`, file]);
		fs.rmSync(file);
		const locked = `${file}.age`;
		const lockedSize = fs.statSync(locked).size;
		const job = await startAndCut(['unlock', locked, '-i', key, '--low-space'], locked, lockedSize - 500_000);
		job.child.kill('SIGKILL');
		await job.exited;

		const report = statusJson(work);
		expect(report.lowSpace).toEqual([
			expect.objectContaining({
				op: 'unlock',
				state: 'interrupted',
				file,
				source: locked,
				partial: `${file}.partial`,
				stateFile: `${file}.low-space.json`,
				size,
				resume: `cage resume ${path.join(work, '.cage-batch.checkpoint.json')}`,
				recover: `cage unlock --recover ${locked} -i ${key}`,
			}),
		]);
		expect(report.lowSpace[0]!.done).toBeGreaterThan(0);
		expect(report.lowSpace[0]!.holds).toMatch(/photos\.zip\.age is cut to its header and the first \d+ of 3000000 bytes, encrypted \(\d+ % unlocked\); the rest is plaintext in .*photos\.zip\.partial/);
		const text = status(work).stdout;
		expect(text).toMatch(/^cut +.*photos\.zip\.age {2}\(a --low-space unlock is interrupted: see below\)$/m);
		expect(text).toContain(`--low-space unlock interrupted: ${file}\n`);

		// The recover line works as printed (it only reads), then the resume line finishes the job.
		const recovered = cage([...report.lowSpace[0]!.recover!.split(' ').slice(1), '-o', path.join(dir, 'photos.out')], {env});
		expect(recovered.status, recovered.stderr).toBe(0);
		expect(sha(path.join(dir, 'photos.out'))).toBe(want);
		const resumed = runLine(report.lowSpace[0]!.resume!, work);
		expect(resumed.status, resumed.stderr).toBe(0);
		expect(sha(file)).toBe(want);
		expect(statusJson(work)).toMatchObject({lowSpace: [], jobs: []});
	});

	it('a lock whose state file was lost: singled out as such, no resume line, the --recover line and why', async () => {
		const work = fresh('lost');
		const file = path.join(work, 'vm.qcow2');
		writeRandomFile(file, size);
		const job = await startAndCut(['lock', file, '-r', recipient, '--low-space'], file, size - 500_000);
		job.child.kill('SIGKILL');
		await job.exited;
		fs.rmSync(`${file}.age.low-space.json`);
		const report = statusJson(work);
		expect(report.lowSpace).toEqual([
			expect.objectContaining({op: 'lock', state: 'interrupted', file, stateFile: null, size, resume: null, recover: `cage unlock --recover ${file}.age -i YOUR_IDENTITY`, note: expect.stringContaining("is lost, so 'cage resume' cannot finish it") as unknown}),
		]);
		const text = status(work).stdout;
		expect(text).toContain(`--low-space lock interrupted, its state file lost: ${file}\n`);
		expect(text).not.toContain('finish it:');
	});
});
