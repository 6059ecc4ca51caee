import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {commands as registry} from '../../source/commands/index.js';
import {cage, makeSandbox, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

const commands = ['encrypt', 'decrypt', 'resume', 'keygen', 'chunk plan', 'chunk hash', 'chunk inspect', 'config'];

describe('cage shell', () => {
	it('prints help and lists every command', () => {
		const run = cage(['--help'], {env});
		expect(run.status).toBe(0);
		for (const command of commands) expect(run.stdout).toContain(command);
	});

	it('every command of the registry loads, under its own name, and the list shows its line', async () => {
		const list = cage(['--help'], {env}).stdout;
		for (const entry of registry) {
			expect((await entry.load()).name).toBe(entry.name);
			expect(list).toContain(`${entry.name.padEnd(15)} ${entry.summary}`);
		}
	});

	it('a command whose help loads apart (encrypt, decrypt: no engine for --help) has the help and flags it runs with', async () => {
		const apart = registry.filter(entry => entry.loadHelp);
		expect(apart.map(entry => entry.name)).toEqual(['encrypt', 'decrypt']);
		for (const entry of apart) {
			const [spec, command] = [await entry.loadHelp!(), await entry.load()];
			expect(spec.name).toBe(command.name);
			expect(spec.help).toBe(command.help);
			expect(spec.flags).toEqual(command.flags);
		}

	});

	it('prints the version from package.json', () => {
		const run = cage(['--version'], {env});
		const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as {version: string};
		expect(run.status).toBe(0);
		expect(run.stdout.trim()).toBe(pkg.version);
	});

	it.each(commands)('`cage %s --help` shows its usage', command => {
		const run = cage([...command.split(' '), '--help'], {env});
		expect(run.status).toBe(0);
		expect(run.stdout).toContain(`$ cage ${command}`);
	});

	it('rejects an unknown command with exit 2', () => {
		const run = cage(['frobnicate'], {env});
		expect(run.status).toBe(2);
		expect(run.stderr).toContain("unknown command 'frobnicate'");
	});

	it('a command group without its subcommand names the subcommands; cage help COMMAND is COMMAND --help', () => {
		const bare = cage(['chunk'], {env});
		expect(bare.status).toBe(2);
		expect(bare.stderr).toContain("cage: 'cage chunk' takes one of: plan, hash, inspect");
		const wrong = cage(['chunk', 'bogus'], {env});
		expect(wrong.status).toBe(2);
		expect(wrong.stderr).toContain("unknown command 'chunk bogus'");
		for (const words of [['encrypt'], ['chunk', 'hash']]) {
			const help = cage(['help', ...words], {env});
			expect(help.status).toBe(0);
			expect(help.stdout).toBe(cage([...words, '--help'], {env}).stdout);
		}

		expect(cage(['help'], {env}).stdout).toBe(cage(['--help'], {env}).stdout);
		for (const args of [['chunk', '--help'], ['help', 'chunk']]) {
			const group = cage(args, {env});
			expect(group.status).toBe(0);
			expect(group.stdout).toContain("Run 'cage chunk hash --help' for its options.");
		}
	});

	it('rejects an unknown flag with exit 2', () => {
		const file = path.join(dir, 'small');
		fs.writeFileSync(file, 'x');
		const run = cage(['chunk', 'plan', file, '--bogus'], {env});
		expect(run.status).toBe(2);
		expect(run.stderr).toMatch(/Unknown flag/i);
		expect(run.stderr).toContain('--bogus');
	});

	it('rejects a misspelt flag that starts with a real one, and writes nothing', () => {
		const file = path.join(dir, 'plain');
		fs.writeFileSync(file, 'secret');
		const recipient = /age1[0-9a-z]+/.exec(cage(['keygen', '-o', path.join(dir, 'k.txt')], {env}).stderr)![0];
		// meow's parser reads --output-file as --output plus a suffix and let it through.
		const run = cage(['encrypt', file, '-r', recipient, '--output-file', path.join(dir, 'plain.age')], {env});
		expect(run.status).toBe(2);
		expect(run.stderr).toContain('cage encrypt: unknown flag --output-file (did you mean --output?)');
		expect(run.stdout).toBe('');
		expect(fs.existsSync(path.join(dir, 'plain.age'))).toBe(false);
		const recipientsFile = cage(['encrypt', file, '-r', recipient, '--recipient-file', file, '-o', path.join(dir, 'plain.age')], {env});
		expect(recipientsFile.status).toBe(2);
		expect(recipientsFile.stderr).toContain('unknown flag --recipient-file (did you mean --recipients-file?)');
		expect(fs.existsSync(path.join(dir, 'plain.age'))).toBe(false);
	});

	it('with no command prints usage on stderr and exits 2', () => {
		const run = cage([], {env});
		expect(run.status).toBe(2);
		expect(run.stderr).toContain('Usage');
	});
});

describe('cage chunk plan', () => {
	const file = path.join(dir, 'ten-mib');
	writeRandomFile(file, 10 * 1024 * 1024 + 5);

	it.each([
		['1048576', 1_048_576],
		['64KiB', 65_536],
		['16MiB', 16 * 1024 * 1024],
		['1GiB', 1024 ** 3],
		['16M', 16 * 1024 * 1024],
		['1G', 1024 ** 3],
	])('accepts --chunk-size %s', (flag, bytes) => {
		const run = cage(['chunk', 'plan', file, '--chunk-size', flag, '--json'], {env});
		expect(run.status).toBe(0);
		const plan = JSON.parse(run.stdout) as {chunkSize: number; size: number; chunks: Array<{id: number; start: number; end: number; size: number}>};
		expect(plan.chunkSize).toBe(bytes);
		expect(plan.chunks.length).toBe(Math.ceil(plan.size / bytes));
		expect(plan.chunks.at(-1)!.end).toBe(plan.size);
	});

	it('prints JSON with contiguous half-open ranges', () => {
		const run = cage(['chunk', 'plan', file, '--chunk-size', '4MiB', '--json'], {env});
		const plan = JSON.parse(run.stdout) as {file: string; size: number; chunks: Array<{id: number; start: number; end: number; size: number}>};
		expect(plan.file).toBe(file);
		expect(plan.size).toBe(10 * 1024 * 1024 + 5);
		expect(plan.chunks.map(chunk => chunk.size)).toEqual([4 * 1024 * 1024, 4 * 1024 * 1024, 2 * 1024 * 1024 + 5]);
		for (let index = 1; index < plan.chunks.length; index++) expect(plan.chunks[index]!.start).toBe(plan.chunks[index - 1]!.end);
	});

	it.each([[['--chunk-size', '100000']], [['--chunk-size', '1000']], [[]]])('shows the split encrypt really uses (%j)', flags => {
		const plan = JSON.parse(cage(['chunk', 'plan', file, ...flags, '--json'], {env}).stdout) as {age: {chunkSize: number; chunks: number; checkpoint: boolean}};
		const recipient = /age1[0-9a-z]+/.exec(cage(['keygen', '-o', path.join(dir, `plan-key-${flags.join('')}`)], {env}).stderr)![0];
		const run = cage(['encrypt', file, '-r', recipient, '-o', path.join(dir, 'plan.age'), '--force', ...flags, '--progress', 'json', '--no-audit'], {env});
		expect(run.status).toBe(0);
		const start = run.stderr.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line) as {type: string; chunkSize: number; chunks: number}).find(event => event.type === 'job:start')!;
		expect({chunkSize: plan.age.chunkSize, chunks: plan.age.chunks}).toEqual({chunkSize: start.chunkSize, chunks: start.chunks});
		expect(plan.age.checkpoint).toBe(flags.length > 0);
		const text = cage(['chunk', 'plan', file, ...flags], {env}).stdout;
		expect(text).toMatch(new RegExp(`age jobs\\s+${start.chunks} chunk\\(s\\)`));
	});

	it('prints a readable summary', () => {
		const run = cage(['chunk', 'plan', file, '--chunk-size', '4MiB'], {env});
		expect(run.status).toBe(0);
		expect(run.stdout).toMatch(/chunks\s+3/);
		expect(run.stdout).toContain('[8388608, 10485765)');
	});

	it.each(['0', 'abc', '-5', '1.5.3'])('rejects --chunk-size %s as a usage error', value => {
		const run = cage(['chunk', 'plan', file, '--chunk-size', value], {env});
		expect(run.status).toBe(2);
		expect(run.stderr).toContain('--chunk-size');
	});

	it('names a missing file, exit 1', () => {
		const run = cage(['chunk', 'plan', path.join(dir, 'nope')], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain(`${path.join(dir, 'nope')}: no such file`);
		expect(run.stderr.trim().split('\n')).toHaveLength(1);
	});

	it('refuses a directory, exit 1', () => {
		const run = cage(['chunk', 'plan', dir], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain('is a directory');
	});

	it.skipIf(process.getuid?.() === 0)('names an unreadable file, exit 1', () => {
		const locked = path.join(dir, 'locked');
		fs.writeFileSync(locked, 'secret');
		fs.chmodSync(locked, 0o000);
		const run = cage(['chunk', 'plan', locked], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain('permission denied');
	});
});

describe('cage config', () => {
	it('sets, gets, lists and resets, in CAGE_CONFIG_DIR with mode 0600', () => {
		expect(cage(['config', 'set', 'jobs', '3'], {env}).status).toBe(0);
		expect(cage(['config', 'get', 'jobs'], {env}).stdout.trim()).toBe('3');
		expect(cage(['config', 'set', 'chunkSize', '32MiB'], {env}).status).toBe(0);
		expect(cage(['config', 'get', 'chunkSize'], {env}).stdout.trim()).toBe(String(32 * 1024 * 1024));
		const file = cage(['config', 'path'], {env}).stdout.trim();
		expect(file).toBe(path.join(env.CAGE_CONFIG_DIR!, 'config.json'));
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		const list = JSON.parse(cage(['config', 'list', '--json'], {env}).stdout) as Record<string, unknown>;
		expect(list.jobs).toBe(3);
		// The plain list says what each value means: a 0 chunk size is automatic.
		expect(cage(['config', 'list'], {env}).stdout).toMatch(/^chunkSize +33554432 +# chunk size \(0 = grows with the file/m);
		expect(cage(['config', 'reset', 'jobs'], {env}).status).toBe(0);
		expect(cage(['config', 'get', 'jobs'], {env}).stdout.trim()).not.toBe('3');
	});

	it('a relative auditLog is stored absolute, so jobs and cage watch started elsewhere use the same log', () => {
		const here = path.join(dir, 'set-here');
		const elsewhere = path.join(dir, 'run-elsewhere');
		fs.mkdirSync(here);
		fs.mkdirSync(elsewhere);
		const log = path.join(here, 'logs', 'audit.jsonl');
		const set = cage(['config', 'set', 'auditLog', 'logs/audit.jsonl'], {env, cwd: here});
		expect(set.status).toBe(0);
		expect(set.stderr).toBe(`auditLog = ${JSON.stringify(log)} (logs/audit.jsonl resolved against the current directory; every cage process uses this path)\n`);
		expect(cage(['config', 'get', 'auditLog'], {env, cwd: elsewhere}).stdout).toBe(`${log}\n`);
		const input = path.join(elsewhere, 'data.bin');
		writeRandomFile(input, 4096);
		expect(cage(['chunk', 'hash', input, '--progress', 'none'], {env, cwd: elsewhere}).status).toBe(0);
		expect(fs.existsSync(path.join(elsewhere, 'logs'))).toBe(false);
		const watch = cage(['watch', '--no-follow', '--progress', 'json'], {env, cwd: dir});
		expect(watch.stderr).toBe('');
		expect(watch.stdout).toContain('"type":"job:done"');
		// An absolute path is stored as given, without the note; empty still means the default.
		expect(cage(['config', 'set', 'auditLog', log], {env}).stderr).toBe(`auditLog = ${JSON.stringify(log)}\n`);
		expect(cage(['config', 'set', 'auditLog', ''], {env}).stderr).toBe('auditLog = ""\n');
	});

	it.each([
		['jobs', '0', 'below the minimum'],
		['jobs', 'many', 'not a number'],
		['chunkSize', 'huge', 'chunkSize'],
		['resumeVerify', 'sometimes', 'not one of'],
	])('rejects %s=%s with the reason', (key, value, reason) => {
		const run = cage(['config', 'set', key, value], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain(reason);
	});

	it('reset repairs an invalid config file, as every message about one says to do', () => {
		const file = path.join(env.CAGE_CONFIG_DIR!, 'config.json');
		for (const text of ['{bad', JSON.stringify({jobs: 0})]) {
			fs.mkdirSync(env.CAGE_CONFIG_DIR!, {recursive: true});
			fs.writeFileSync(file, text);
			const broken = cage(['config', 'list'], {env});
			expect(broken.status).toBe(1);
			expect(broken.stderr).toContain("run 'cage config reset'");
			const reset = cage(['config', 'reset'], {env});
			expect(reset.stderr).toBe('all settings reset to defaults\n');
			expect(reset.status).toBe(0);
			expect(fs.statSync(file).mode & 0o777).toBe(0o600);
			expect(cage(['config', 'list'], {env}).status).toBe(0);
		}

		fs.writeFileSync(file, JSON.stringify({jobs: 0, retries: 5}));
		expect(cage(['config', 'reset', 'jobs'], {env}).status).toBe(0);
		expect(cage(['config', 'get', 'retries'], {env}).stdout.trim()).toBe('5');
		fs.writeFileSync(file, '{bad');
		const keyOnly = cage(['config', 'reset', 'jobs'], {env});
		expect(keyOnly.status).toBe(1);
		expect(keyOnly.stderr).toBe(`cage config: the config file ${file} is not JSON, so jobs alone cannot be reset; run 'cage config reset' (without a key) to restore all settings to their defaults\n`);
		expect(cage(['config', 'reset'], {env}).status).toBe(0);
	});

	it('set theme checks the theme as --theme does: a built-in name, or a valid theme file stored as an absolute path', () => {
		const themes = 'default, high-contrast, light, mono';
		const unknown = cage(['config', 'set', 'theme', 'nope'], {env});
		expect(unknown.status).toBe(2);
		expect(unknown.stderr).toContain(`cage config: unknown theme 'nope': use one of ${themes}, or the path of a theme JSON file\n`);
		expect(cage(['config', 'get', 'theme'], {env}).stdout.trim()).toBe('default');

		expect(cage(['config', 'set', 'theme', 'light'], {env}).status).toBe(0);
		expect(cage(['config', 'get', 'theme'], {env}).stdout.trim()).toBe('light');

		const themeDir = fs.mkdtempSync(path.join(dir, 'themes-'));
		fs.copyFileSync(path.resolve(import.meta.dirname, '../../themes/mono.json'), path.join(themeDir, 'mine.json'));
		expect(cage(['config', 'set', 'theme', './mine.json'], {env, cwd: themeDir}).status).toBe(0);
		expect(cage(['config', 'get', 'theme'], {env}).stdout.trim()).toBe(path.join(themeDir, 'mine.json'));

		fs.writeFileSync(path.join(themeDir, 'broken.json'), '{"chunk": {}}');
		for (const bad of ['broken.json', 'missing.json']) {
			const run = cage(['config', 'set', 'theme', bad], {env, cwd: themeDir});
			expect(run.status).toBe(2);
			expect(run.stderr).toContain(path.join(themeDir, bad));
			expect(run.stderr).toContain(`; use one of ${themes}, or the path of a valid theme JSON file\n`);
		}

		expect(cage(['config', 'get', 'theme'], {env}).stdout.trim()).toBe(path.join(themeDir, 'mine.json'));
		expect(cage(['config', 'reset', 'theme'], {env}).status).toBe(0);
	});

	it('rejects an unknown key', () => {
		const run = cage(['config', 'get', 'colour'], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain("unknown setting 'colour'");
	});

	it('flags override config', () => {
		const file = path.join(dir, 'override');
		writeRandomFile(file, 3 * 1024 * 1024);
		expect(cage(['config', 'set', 'chunkSize', '1MiB'], {env}).status).toBe(0);
		const fromConfig = JSON.parse(cage(['chunk', 'plan', file, '--json'], {env}).stdout) as {chunkSize: number};
		expect(fromConfig.chunkSize).toBe(1024 * 1024);
		const fromFlag = JSON.parse(cage(['chunk', 'plan', file, '--json', '--chunk-size', '512KiB'], {env}).stdout) as {chunkSize: number};
		expect(fromFlag.chunkSize).toBe(512 * 1024);
		cage(['config', 'reset'], {env});
	});
});
