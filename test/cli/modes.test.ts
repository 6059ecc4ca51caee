/**
 * The directories cage creates (config directory, audit log's state directory, a batch's output
 * directories) are 0700 and its files 0600 whatever the umask: mkdir's and open's modes are masked
 * by it, so the built binary runs in a child process under a umask of 0 and of 077.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cliPath, makeSandbox, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox();
afterAll(() => sandbox.cleanup());

let recipient = '';
beforeAll(() => {
	const key = path.join(sandbox.dir, 'key.txt');
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
});

/** Run the binary under `umask` (octal text) with `env`. */
function cageUnder(umask: string, args: string[], env: NodeJS.ProcessEnv) {
	const result = spawnSync('sh', ['-c', `umask ${umask} && exec "$0" "$@"`, process.execPath, cliPath, ...args], {env, input: '', timeout: 120_000});
	return {status: result.status, stderr: result.stderr.toString('utf8') + result.stdout.toString('utf8')};
}

const mode = (file: string) => (fs.statSync(file).mode & 0o777).toString(8).padStart(3, '0');

describe.each(['000', '077'])('modes under umask %s', umask => {
	it('config dir, state dir (and its missing parents), batch output dirs: 0700; config file, audit log, outputs: 0600', {timeout: 120_000}, () => {
		const root = path.join(sandbox.dir, `umask-${umask}`);
		fs.mkdirSync(root);
		const env = {...sandbox.env, CAGE_CONFIG_DIR: path.join(root, 'config', 'cage'), XDG_STATE_HOME: path.join(root, 'state', 'deeper')};
		const set = cageUnder(umask, ['config', 'set', 'jobs', '2'], env);
		expect(set.status, set.stderr).toBe(0);

		const tree = path.join(root, 'tree');
		fs.mkdirSync(path.join(tree, 'sub', 'deeper'), {recursive: true});
		writeRandomFile(path.join(tree, 'one'), 100_000);
		writeRandomFile(path.join(tree, 'sub', 'deeper', 'two'), 1000);
		const out = path.join(root, 'out', 'batch');
		const run = cageUnder(umask, ['encrypt', '--recursive', tree, '-r', recipient, '--output-dir', out, '--progress', 'none'], env);
		expect(run.status, run.stderr).toBe(0);

		const directories = [
			path.join(root, 'config'),
			env.CAGE_CONFIG_DIR,
			path.join(root, 'state'),
			env.XDG_STATE_HOME,
			path.join(env.XDG_STATE_HOME, 'cage'),
			path.join(root, 'out'),
			out,
			path.join(out, 'tree'),
			path.join(out, 'tree', 'sub'),
			path.join(out, 'tree', 'sub', 'deeper'),
		];
		expect(directories.map(directory => [path.relative(root, directory), mode(directory)])).toEqual(directories.map(directory => [path.relative(root, directory), '700']));
		const files = [
			path.join(env.CAGE_CONFIG_DIR, 'config.json'),
			path.join(env.XDG_STATE_HOME, 'cage', 'audit.jsonl'),
			path.join(out, 'tree', 'one.age'),
			path.join(out, 'tree', 'sub', 'deeper', 'two.age'),
		];
		expect(files.map(file => [path.relative(root, file), mode(file)])).toEqual(files.map(file => [path.relative(root, file), '600']));
	});
});
