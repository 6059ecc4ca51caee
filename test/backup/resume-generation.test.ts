/**
 * An interrupted `backup create` finished by `cage resume OUTPUT` (the line the session prints)
 * is a whole generation (manifest recorded, retention applied) as with `backup resume`; and both
 * apply the retention the interrupted create was given, not the config's.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, expect, it} from 'vitest';
import {cage, makeSandbox, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';
import {checkBackupDir, generationsOf} from '../helpers/backup-dir.js';

const sandbox = makeSandbox('cage-backup-resume-');
const env = {...sandbox.env, XDG_DATA_HOME: path.join(sandbox.dir, 'data')};
afterAll(() => sandbox.cleanup());

const key = path.join(sandbox.dir, 'key.txt');
let recipient = '';
const quiet = ['--progress', 'none', '--no-audit'];
beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	// The config says keep 1: the creates below say otherwise, and their resumes must follow them.
	expect(cage(['config', 'set', 'backupKeepLast', '1'], {env}).status).toBe(0);
});

/** Start a create of `file` into `dir` and kill -9 it after its first checkpoint; its age file's path. */
async function interruptedCreate(dir: string, file: string, keepLast: number): Promise<string> {
	const run = startCage(['backup', 'create', file, '-r', recipient, '--to', dir, '--chunk-size', '256K', '--keep-last', String(keepLast), '--rate', '2MiB', ...quiet], {env});
	const checkpoint = await waitFor(() => fs.readdirSync(dir).find(name => name.endsWith('.age.checkpoint.json')), {what: 'a checkpoint'});
	run.child.kill('SIGKILL');
	await run.exited;
	return path.join(dir, checkpoint.slice(0, -'.checkpoint.json'.length));
}

it('cage resume of a killed create\'s age file records the generation and applies the create\'s keep-last', async () => {
	const dir = path.join(sandbox.dir, 'plain-resume');
	const file = path.join(sandbox.dir, 'a.bin');
	for (let day = 0; day < 2; day++) {
		writeRandomFile(file, 3 * 1024 * 1024 + day);
		expect(cage(['backup', 'create', file, '-r', recipient, '--to', dir, '--keep-last', '0', ...quiet], {env}).status).toBe(0);
	}

	writeRandomFile(file, 3 * 1024 * 1024 + 2);
	const output = await interruptedCreate(dir, file, 2);
	expect(generationsOf(checkBackupDir(dir, 'killed'))).toEqual([[1, 'complete'], [2, 'complete'], [3, 'partial']]);
	const resumed = cage(['resume', output, ...quiet], {env});
	expect(resumed.status, resumed.stderr).toBe(0);
	expect(resumed.stdout).toContain(`${file}: generation 3 written to ${output}`);
	expect(resumed.stdout).toContain(`removed ${file} generation 1`);
	// Keep-last 2, as the create said (the config's 1 would have left generation 3 alone).
	expect(generationsOf(checkBackupDir(dir, 'resumed', {temporaries: false}))).toEqual([[2, 'complete'], [3, 'complete']]);
	expect(Buffer.compare(spawnSync('age', ['-d', '-i', key, output], {maxBuffer: 1 << 26}).stdout, fs.readFileSync(file))).toBe(0);
	expect(cage(['backup', 'verify', file, '--to', dir, ...quiet], {env}).status).toBe(0);
});

it('backup resume without --keep-last applies the interrupted create\'s (keep all), not the config\'s', async () => {
	const dir = path.join(sandbox.dir, 'backup-resume');
	const file = path.join(sandbox.dir, 'b.bin');
	for (let day = 0; day < 2; day++) {
		writeRandomFile(file, 3 * 1024 * 1024 + day);
		expect(cage(['backup', 'create', file, '-r', recipient, '--to', dir, '--keep-last', '0', ...quiet], {env}).status).toBe(0);
	}

	writeRandomFile(file, 3 * 1024 * 1024 + 2);
	await interruptedCreate(dir, file, 0);
	const resumed = cage(['backup', 'resume', file, '--to', dir, ...quiet], {env});
	expect(resumed.status, resumed.stderr).toBe(0);
	expect(resumed.stdout).not.toContain('removed');
	expect(generationsOf(checkBackupDir(dir, 'resumed', {temporaries: false}))).toEqual([[1, 'complete'], [2, 'complete'], [3, 'complete']]);
	// Given now, it is the one applied.
	expect(cage(['backup', 'prune', '--keep-last', '2', '--to', dir, '--no-audit'], {env}).status).toBe(0);
	expect(generationsOf(checkBackupDir(dir, 'pruned', {temporaries: false}))).toEqual([[2, 'complete'], [3, 'complete']]);
});
