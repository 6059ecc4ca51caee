/**
 * A --low-space lock or unlock killed (kill -9) after its first cuts, whose state file
 * (FILE.age.low-space.json, FILE.low-space.json) or batch checkpoint is then lost: `cage resume`
 * refuses, naming the files and what holds the data, and changes nothing (it used to start the
 * lock afresh over the partial output, wiping the finished tail); `cage unlock --recover` rebuilds
 * a lock's file from what is on disk (the partial's header, opened with the user's identity, gives
 * the size; the source's length how far it got; the tail authenticated), and for an unlock, whose
 * tail's proof was in the state, says so and writes nothing.
 */
import {execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {ageKeyPair, cage, makeSandbox, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-lost-state-');
const {dir, env} = sandbox;
afterAll(() => sandbox.cleanup());

const {key, recipient} = ageKeyPair(dir);
const quiet = ['--progress', 'none', '--no-audit'];

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const size = 3_000_000;

function fresh(name: string): string {
	const directory = path.join(dir, name);
	fs.mkdirSync(directory, {recursive: true});
	return directory;
}

/** Every file of `directory` with its digest (what a refusal must leave as it was). */
function snapshot(directory: string): Record<string, string> {
	return Object.fromEntries(
		fs
			.readdirSync(directory)
			.filter(name => !name.startsWith('.cage-batch'))
			.sort()
			.map(name => [name, sha(path.join(directory, name))]),
	);
}

/** Start `args` slowed down, kill -9 it once `file` is shorter than `below` (a few chunks cut). */
async function killAfterCuts(args: string[], file: string, below: number): Promise<void> {
	const job = startCage([...args, '--chunk-size', '256K', '--rate', '1MiB', ...quiet], {env});
	try {
		await waitFor(() => fs.existsSync(file) && fs.statSync(file).size < below, {what: `${file} cut below ${below} bytes`, timeout: 60_000, interval: 20});
	} finally {
		job.child.kill('SIGKILL');
		await job.exited;
	}
}

describe('a --low-space job killed after its source and state were removed, before its batch marked it done', () => {
	it.each(['lock', 'unlock'] as const)('%s: cage resume knows the output for its own and finishes the batch', op => {
		const work = fresh(`finished-${op}`);
		const file = path.join(work, 'mail.mbox');
		writeRandomFile(file, 700_000);
		const want = sha(file);
		if (op === 'unlock') {
			execFileSync('/usr/bin/age', ['-r', recipient, '-o', `${file}.age`, file]);
			fs.rmSync(file);
		}

		const args = op === 'lock' ? ['lock', file, '-r', recipient] : ['unlock', `${file}.age`, '-i', key];
		const killed = cage([...args, '--low-space', '--chunk-size', '128K', ...quiet], {env: {...env, CAGE_FAULT: 'low-space-state-removed'}});
		expect(killed.signal).toBe('SIGKILL');
		const output = op === 'lock' ? `${file}.age` : file;
		expect(fs.readdirSync(work).filter(name => !name.startsWith('.cage-batch'))).toEqual([path.basename(output)]);
		expect(fs.existsSync(path.join(work, '.cage-batch.checkpoint.json'))).toBe(true);

		const resumed = cage(['resume', work, ...quiet], {env});
		expect(resumed.status, resumed.stderr).toBe(0);
		expect(fs.readdirSync(work)).toEqual([path.basename(output)]);
		expect(op === 'lock' ? createHash('sha256').update(execFileSync('/usr/bin/age', ['-d', '-i', key, output])).digest('hex') : sha(output)).toBe(want);
	});
});

describe('a --low-space job whose state was lost', () => {
	it('lock: resume refuses and changes nothing; --recover rebuilds the file from the prefix and the authenticated tail', async () => {
		const work = fresh('lock');
		const file = path.join(work, 'archive.tar');
		writeRandomFile(file, size);
		const want = sha(file);
		await killAfterCuts(['lock', file, '-r', recipient, '--low-space'], file, size - 600_000);
		const state = `${file}.age.low-space.json`;
		expect(fs.existsSync(state)).toBe(true);
		fs.rmSync(state);
		const before = snapshot(work);
		const cut = fs.statSync(file).size;
		expect(cut).toBeLessThan(size);

		const resumed = cage(['resume', work, ...quiet], {env});
		expect(resumed.status).toBe(1);
		expect(resumed.stderr).toContain(`${file} is ${cut} bytes, ${size} when this lock started, and ${file}.age.partial is beside it without its state file ${state}`);
		expect(resumed.stderr).toContain('Nothing was changed');
		expect(resumed.stderr).toContain(`'cage unlock --recover ${file}.age -i YOUR_IDENTITY' rebuilds it whole`);
		expect(snapshot(work)).toEqual(before);

		const recovered = cage(['unlock', '--recover', `${file}.age`, '-i', key], {env});
		expect(recovered.status, recovered.stderr).toBe(0);
		expect(recovered.stderr).toContain(`its state file ${state} is missing, so the plan was read from the files themselves`);
		expect(recovered.stderr).toMatch(/bytes \d+-3000000 from .*archive\.tar\.age\.partial: every block authenticated/);
		expect(recovered.stderr).toContain("'cage resume' cannot finish this lock without its state");
		expect(recovered.stderr).not.toContain('to finish the job in place');
		expect(sha(`${file}.recovered`)).toBe(want);
		fs.rmSync(`${file}.recovered`);
		expect(snapshot(work)).toEqual(before);
		// Asked again, resume still refuses: the refusal is not a one-off that the next run gets past.
		expect(cage(['resume', work, ...quiet], {env}).status).toBe(1);
		expect(snapshot(work)).toEqual(before);
	});

	it('lock: with the batch checkpoint lost instead, resume names the state file and the --recover line', async () => {
		const work = fresh('lock-batch');
		const file = path.join(work, 'disk.img');
		writeRandomFile(file, size);
		const want = sha(file);
		await killAfterCuts(['lock', file, '-r', recipient, '--low-space'], file, size - 600_000);
		for (const name of fs.readdirSync(work).filter(name => name.startsWith('.cage-batch'))) fs.rmSync(path.join(work, name));
		const before = snapshot(work);
		for (const target of [work, `${file}.age`, file]) {
			const resumed = cage(['resume', target, ...quiet], {env});
			expect(resumed.status, target).toBe(1);
			expect(resumed.stderr).toContain(`${file}.age.low-space.json is there: a --low-space lock of ${file} had begun`);
			expect(resumed.stderr).toContain(`'cage unlock --recover ${file}.age -i YOUR_IDENTITY' rebuilds it whole`);
		}

		expect(snapshot(work)).toEqual(before);
		const out = path.join(dir, 'disk.img.out');
		const recovered = cage(['unlock', '--recover', `${file}.age`, '-i', key, '-o', out], {env});
		expect(recovered.status, recovered.stderr).toBe(0);
		expect(sha(out)).toBe(want);
	});

	it('unlock: resume refuses and changes nothing; --recover says the tail cannot be proved and writes nothing', async () => {
		const work = fresh('unlock');
		const file = path.join(work, 'photos.zip');
		writeRandomFile(file, size);
		execFileSync('/usr/bin/age', ['-r', recipient, '-o', `${file}.age`, file]);
		fs.rmSync(file);
		const locked = `${file}.age`;
		const lockedSize = fs.statSync(locked).size;
		await killAfterCuts(['unlock', locked, '-i', key, '--low-space'], locked, lockedSize - 600_000);
		const state = `${file}.low-space.json`;
		expect(fs.existsSync(state)).toBe(true);
		fs.rmSync(state);
		const before = snapshot(work);

		const resumed = cage(['resume', work, ...quiet], {env});
		expect(resumed.status).toBe(1);
		expect(resumed.stderr).toContain(`${locked} is ${fs.statSync(locked).size} bytes, ${lockedSize} when this unlock started, and ${file}.partial is beside it without its state file ${state}`);
		expect(resumed.stderr).toContain('cage cannot rebuild it proved; keep both files as they are');
		expect(snapshot(work)).toEqual(before);

		const recovered = cage(['unlock', '--recover', locked, '-i', key], {env});
		expect(recovered.status).toBe(1);
		expect(recovered.stderr).toMatch(/photos\.zip\.age is cut short \(its last block is not the final one\) and .*photos\.zip\.partial is beside it, but .*photos\.zip\.low-space\.json is missing/);
		expect(recovered.stderr).toMatch(/Bytes 0-\d+ of your file are in .*, bytes \d+-3000000 are the plaintext in .*photos\.zip\.partial/);
		expect(recovered.stderr).toContain('nothing was changed');
		expect(fs.existsSync(`${file}.recovered`)).toBe(false);
		expect(snapshot(work)).toEqual(before);
	});
});
