/**
 * SSH keys made by the real ssh-keygen, both ways with the real age CLI: `cage encrypt -R key.pub`
 * → `age -d -i key`, and `age -R key.pub` → `cage decrypt -i key`, for Ed25519 and RSA 2048 and
 * 4096, with and without a passphrase on the private key (typed at age's and cage's prompts in a
 * terminal, tmux).
 */
import {execFileSync, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, cliPath, makeSandbox, waitFor, writeRandomFile} from '../helpers/cage.js';
import {startTmux, tmuxPath, type TmuxSession} from '../helpers/tmux.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
const sessions: TmuxSession[] = [];
afterAll(() => {
	for (const session of sessions) session.kill();
	sandbox.cleanup();
});

const quiet = ['--progress', 'none', '--no-audit'];
const shell = (value: string) => `'${value.replaceAll("'", String.raw`'\''`)}'`;
const envLine = `CAGE_CONFIG_DIR=${shell(env.CAGE_CONFIG_DIR!)} XDG_STATE_HOME=${shell(env.XDG_STATE_HOME!)} HOME=${shell(env.HOME!)}`;
const cageLine = (args: string[]) => `${envLine} ${shell(process.execPath)} ${shell(cliPath)} ${args.map(arg => shell(arg)).join(' ')}`;
const passphrase = 'key passphrase';
const available = fs.existsSync('/usr/bin/age') && fs.existsSync('/usr/bin/ssh-keygen') && fs.existsSync(tmuxPath);

/** Run a command line in tmux; resolves with its exit code. */
function terminal(command: string): {session: TmuxSession; exited: Promise<number>} {
	const status = path.join(dir, `status-${sessions.length}`);
	const session = startTmux(`${command}; echo $? > ${shell(status)}; sleep 30`, {env});
	sessions.push(session);
	const exited = waitFor(() => fs.existsSync(status) && fs.readFileSync(status, 'utf8').trim(), {timeout: 90_000, what: 'the command to exit'}).then(Number);
	return {session, exited};
}

/** Type the key's passphrase at the prompt of a command run in tmux; its exit code. */
async function answering(command: string, answer = passphrase): Promise<{code: number; screen: string}> {
	const {session, exited} = terminal(command);
	await session.waitForScreen(/Enter passphrase/);
	session.send(answer, {literal: true});
	session.send('Enter');
	const code = await exited;
	return {code, screen: session.screen()};
}

const kinds: Array<[string, string[]]> = [
	['ed25519', ['-t', 'ed25519']],
	['rsa-2048', ['-t', 'rsa', '-b', '2048']],
	['rsa-4096', ['-t', 'rsa', '-b', '4096']],
	// The older PEM format (PKCS#1; with a passphrase, `Proc-Type: 4,ENCRYPTED`, whose public key
	// both tools read from the .pub beside it).
	['rsa-2048-pem', ['-t', 'rsa', '-b', '2048', '-m', 'PEM']],
];

describe.runIf(available)('SSH keys with the age CLI', () => {
	const plain = path.join(dir, 'plain');
	beforeAll(() => writeRandomFile(plain, 300_000));
	const same = (file: string) => Buffer.compare(fs.readFileSync(file), fs.readFileSync(plain)) === 0;

	for (const [kind, args] of kinds) {
		for (const encrypted of [false, true]) {
			const name = `${kind}${encrypted ? '-passphrase' : ''}`;
			it(`${name}: cage encrypt -R key.pub → age -d -i key, and age -R key.pub → cage decrypt -i key`, async () => {
				const key = path.join(dir, `id_${name}`);
				execFileSync('ssh-keygen', ['-q', ...args, '-N', encrypted ? passphrase : '', '-C', `${name}@test`, '-f', key]);

				const ours = path.join(dir, `${name}.cage.age`);
				const encrypt = cage(['encrypt', '-R', `${key}.pub`, plain, '-o', ours, ...quiet], {env});
				expect(encrypt.stderr).toBe('');
				expect(encrypt.status).toBe(0);
				if (encrypted) {
					const {code} = await answering(`age -d -i ${shell(key)} -o ${shell(`${ours}.out`)} ${shell(ours)}`);
					expect(code).toBe(0);
				} else {
					execFileSync('age', ['-d', '-i', key, '-o', `${ours}.out`, ours]);
				}

				expect(same(`${ours}.out`)).toBe(true);

				const theirs = path.join(dir, `${name}.age.age`);
				execFileSync('age', ['-R', `${key}.pub`, '-o', theirs, plain]);
				if (encrypted) {
					const {code, screen} = await answering(cageLine(['decrypt', '-i', key, theirs, '-o', `${theirs}.out`, ...quiet]));
					expect(screen).toContain(`Enter passphrase for "${key}":`);
					expect(code).toBe(0);
				} else {
					const decrypt = cage(['decrypt', '-i', key, theirs, '-o', `${theirs}.out`, ...quiet], {env});
					expect(decrypt.stderr).toBe('');
					expect(decrypt.status).toBe(0);
				}

				expect(same(`${theirs}.out`)).toBe(true);
			}, 120_000);
		}
	}

	it('-r takes the .pub line; an encrypted key of another file is never asked; a wrong passphrase is named', async () => {
		const ed = path.join(dir, 'id_ed25519');
		const locked = path.join(dir, 'id_ed25519-passphrase');
		const file = path.join(dir, 'for-ed.age');
		const encrypt = cage(['encrypt', '-r', fs.readFileSync(`${ed}.pub`, 'utf8').trim(), plain, '-o', file, ...quiet], {env});
		expect(encrypt.status).toBe(0);
		// Not for the locked key: no prompt, no terminal needed.
		const decrypt = cage(['decrypt', '-i', locked, '-i', ed, file, '-o', `${file}.out`, ...quiet], {env});
		expect(decrypt.stderr).toBe('');
		expect(decrypt.status).toBe(0);
		expect(same(`${file}.out`)).toBe(true);

		const lockedFile = path.join(dir, 'for-locked.age');
		expect(cage(['encrypt', '-R', `${locked}.pub`, plain, '-o', lockedFile, ...quiet], {env}).status).toBe(0);
		const {code, screen} = await answering(cageLine(['decrypt', '-i', locked, lockedFile, '-o', `${lockedFile}.out`, ...quiet]), 'wrong one');
		expect(code).toBe(1);
		expect(screen).toContain(`-i ${locked}: wrong passphrase for the SSH key`);
		expect(fs.existsSync(`${lockedFile}.out`)).toBe(false);
		// Without a terminal, the prompt cannot be shown: said so.
		// (setsid: no controlling terminal, even when the tests run in one.)
		const noTty = spawnSync('setsid', ['-w', process.execPath, cliPath, 'decrypt', '-i', locked, lockedFile, '-o', `${lockedFile}.out`, ...quiet], {env, stdio: ['pipe', 'pipe', 'pipe']});
		expect(noTty.status).not.toBe(0);
		expect(noTty.stderr.toString()).toContain(`"${locked}" is protected by a passphrase, typed on a terminal, and there is none`);
		// cage verify asks as decrypt does (it had no prompt: "no way to ask for it here", in a terminal).
		const verified = await answering(cageLine(['verify', '-i', locked, lockedFile, ...quiet]));
		expect(verified.screen).toContain(`Enter passphrase for "${locked}":`);
		expect(verified.code).toBe(0);
	}, 120_000);
});
