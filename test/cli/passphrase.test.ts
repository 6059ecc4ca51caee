/**
 * Passphrases both ways with the real age CLI, typed at real prompts in a terminal (tmux):
 * age's own prompt, and cage's /dev/tty prompt.
 */
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {cage, cliPath, makeSandbox, waitFor, writeRandomFile} from '../helpers/cage.js';
import {startTmux, tmuxPath, type TmuxSession} from '../helpers/tmux.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
const sessions: TmuxSession[] = [];
afterAll(() => {
	for (const session of sessions) session.kill();
	sandbox.cleanup();
});

const passphrase = 'correct horse battery staple';
const quiet = ['--progress', 'none', '--no-audit'];
const shell = (value: string) => `'${value.replaceAll("'", String.raw`'\''`)}'`;
const envLine = `CAGE_CONFIG_DIR=${shell(env.CAGE_CONFIG_DIR!)} XDG_STATE_HOME=${shell(env.XDG_STATE_HOME!)} HOME=${shell(env.HOME!)}`;

/** Run a command line in tmux; resolves with its exit code, written by the shell to a file. */
function terminal(command: string): {session: TmuxSession; exited: Promise<number>} {
	const status = path.join(dir, `status-${sessions.length}`);
	const session = startTmux(`${command}; echo $? > ${shell(status)}; sleep 30`, {env});
	sessions.push(session);
	const exited = waitFor(() => fs.existsSync(status) && fs.readFileSync(status, 'utf8').trim(), {timeout: 90_000, what: 'the command to exit'}).then(Number);
	return {session, exited};
}

describe.runIf(fs.existsSync(tmuxPath))('Ctrl-C at cage\'s passphrase prompt', () => {
	it('ends the command with 130 and a one-line message, no usage hint, no output file', async () => {
		const plain = path.join(dir, 'cancelled');
		writeRandomFile(plain, 1000);
		const encrypt = terminal(`${envLine} ${shell(process.execPath)} ${shell(cliPath)} encrypt -p ${shell(plain)} -o ${shell(`${plain}.age`)} --progress none --no-audit`);
		await encrypt.session.waitForScreen(/Enter passphrase:/);
		encrypt.session.send('abc', {literal: true});
		encrypt.session.send('C-c');
		expect(await encrypt.exited).toBe(130);
		const screen = encrypt.session.screen();
		expect(screen).toContain('cage encrypt: cancelled at the passphrase prompt');
		expect(screen).not.toContain('--help');
		expect(fs.readdirSync(dir).filter(name => name.startsWith('cancelled.'))).toEqual([]);
	}, 120_000);
});

describe.runIf(fs.existsSync(tmuxPath))('an age file from the terminal', () => {
	it('cage decrypt with the terminal as stdin is refused at once (exit 2), instead of reading keys as ciphertext', async () => {
		const run = terminal(`${envLine} ${shell(process.execPath)} ${shell(cliPath)} decrypt -p -o ${shell(path.join(dir, 'typed.out'))}`);
		expect(await run.exited).toBe(2);
		expect(run.session.screen()).toContain('refusing to read an age file from the terminal');
		expect(fs.existsSync(path.join(dir, 'typed.out.partial'))).toBe(false);
	}, 120_000);
});

describe.runIf(fs.existsSync(tmuxPath) && fs.existsSync('/usr/bin/age'))('passphrases with the age CLI, typed at real prompts', () => {
	it('a file age encrypted with a passphrase (typed at its prompt) decrypts with cage', async () => {
		const plain = path.join(dir, 'age-made');
		writeRandomFile(plain, 200_000);
		const {session, exited} = terminal(`age -p -o ${shell(`${plain}.age`)} ${shell(plain)}`);
		await session.waitForScreen(/Enter passphrase/);
		session.send(passphrase, {literal: true});
		session.send('Enter');
		await session.waitForScreen(/Confirm passphrase/);
		session.send(passphrase, {literal: true});
		session.send('Enter');
		expect(await exited).toBe(0);
		const run = cage(['decrypt', `${plain}.age`, '-p', '-o', `${plain}.out`, ...quiet], {env: {...env, CAGE_PASSPHRASE: passphrase}});
		expect(run.stderr).toBe('');
		expect(run.status).toBe(0);
		expect(fs.readFileSync(`${plain}.out`)).toEqual(fs.readFileSync(plain));
		const wrong = cage(['decrypt', `${plain}.age`, '-p', '-o', `${plain}.wrong`, ...quiet], {env: {...env, CAGE_PASSPHRASE: 'not it'}});
		expect(wrong.status).toBe(1);
		expect(wrong.stderr).toContain('wrong passphrase');
		expect(fs.existsSync(`${plain}.wrong`)).toBe(false);
	}, 120_000);

	it('cage asks for the passphrase twice on the terminal; age decrypts with it at its prompt', async () => {
		const plain = path.join(dir, 'cage-made');
		writeRandomFile(plain, 300_000);
		const encrypt = terminal(`${envLine} ${shell(process.execPath)} ${shell(cliPath)} encrypt -p ${shell(plain)} -o ${shell(`${plain}.age`)} --progress none --no-audit`);
		await encrypt.session.waitForScreen(/Enter passphrase:/);
		encrypt.session.send(passphrase, {literal: true});
		encrypt.session.send('Enter');
		await encrypt.session.waitForScreen(/Confirm passphrase:/);
		// Not echoed.
		expect(encrypt.session.screen()).not.toContain('horse');
		encrypt.session.send(passphrase, {literal: true});
		encrypt.session.send('Enter');
		expect(await encrypt.exited).toBe(0);

		const decrypt = terminal(`age -d -o ${shell(`${plain}.out`)} ${shell(`${plain}.age`)}`);
		await decrypt.session.waitForScreen(/Enter passphrase/);
		decrypt.session.send(passphrase, {literal: true});
		decrypt.session.send('Enter');
		expect(await decrypt.exited).toBe(0);
		expect(fs.readFileSync(`${plain}.out`)).toEqual(fs.readFileSync(plain));
	}, 120_000);
});
