/**
 * Running the built `cage` binary in tests, with its config, state and resume identity in a temp
 * directory (never the real home).
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The built CLI (npm test builds before running vitest; globalSetup builds when it is missing). */
export const cliPath = path.resolve(import.meta.dirname, '../../dist/cli.js');

/** A temp directory with config/ and state/ subdirectories for one test file. */
export function makeSandbox(prefix = 'cage-test-'): {dir: string; env: NodeJS.ProcessEnv; cleanup(): void} {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
	const env: NodeJS.ProcessEnv = {
		...process.env,
		CAGE_CONFIG_DIR: path.join(dir, 'config'),
		XDG_STATE_HOME: path.join(dir, 'state'),
		XDG_DATA_HOME: path.join(dir, 'data'),
		HOME: path.join(dir, 'home'),
		NO_COLOR: '1',
		CI: '1',
	};
	fs.mkdirSync(path.join(dir, 'home'));
	return {dir, env, cleanup: () => fs.rmSync(dir, {recursive: true, force: true})};
}

export type CageRun = {status: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null};

/** Run cage to completion. */
export function cage(args: string[], options: {env: NodeJS.ProcessEnv; cwd?: string; input?: string | Buffer; timeout?: number}): CageRun {
	const result = spawnSync(process.execPath, [cliPath, ...args], {
		env: options.env,
		cwd: options.cwd,
		input: options.input ?? '',
		timeout: options.timeout ?? 120_000,
		maxBuffer: 256 * 1024 * 1024,
	});
	return {status: result.status, signal: result.signal, stdout: result.stdout.toString('utf8'), stderr: result.stderr.toString('utf8')};
}

/** Start cage in the background (stdin closed), collecting its output. */
export function startCage(args: string[], options: {env: NodeJS.ProcessEnv; cwd?: string}): {child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null>} {
	const child = spawn(process.execPath, [cliPath, ...args], {env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe']});
	let stdout = '';
	let stderr = '';
	child.stdout!.on('data', (data: Buffer) => (stdout += data.toString('utf8')));
	child.stderr!.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
	const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)));
	return {child, stdout: () => stdout, stderr: () => stderr, exited};
}

/** Poll until `check` returns a truthy value or the timeout passes. */
export async function waitFor<T>(check: () => T | undefined | false | null, {timeout = 30_000, interval = 50, what = 'condition'} = {}): Promise<T> {
	const deadline = Date.now() + timeout;
	for (;;) {
		const value = check();
		if (value) return value;
		if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
		await new Promise(resolve => setTimeout(resolve, interval));
	}
}

/** Write a file of pseudo-random bytes (fast: one random block repeated with a counter mixed in). */
export function writeRandomFile(file: string, size: number): void {
	const fd = fs.openSync(file, 'w');
	const block = randomBytes(1024 * 1024);
	let written = 0;
	let counter = 0;
	while (written < size) {
		const length = Math.min(block.length, size - written);
		block.writeUInt32LE(counter++, 0);
		fs.writeSync(fd, block, 0, length);
		written += length;
	}

	fs.closeSync(fd);
}

/** NDJSON events from a --progress json stderr. */
export function parseEvents(stderr: string): Array<Record<string, unknown> & {type: string}> {
	return stderr
		.split('\n')
		.filter(line => line.startsWith('{'))
		.map(line => JSON.parse(line) as Record<string, unknown> & {type: string});
}

/** An age key made by the real age-keygen in `dir` (key.txt) and its recipient. */
export function ageKeyPair(dir: string, name = 'key.txt'): {key: string; recipient: string} {
	const key = path.join(dir, name);
	const made = spawnSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	if (made.status !== 0) throw new Error(`age-keygen -o ${key} failed (exit ${made.status})`);
	const recipient = spawnSync('age-keygen', ['-y', key], {encoding: 'utf8'}).stdout.trim();
	return {key, recipient};
}
