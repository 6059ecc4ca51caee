/**
 * Identities as age has them: `cage keygen -y` equal to `age-keygen -y`, `cage keygen --pq`, and
 * passphrase-encrypted identity files (`age -p` of a key file, binary or armored) both ways with
 * the real age CLI, passphrases typed at real prompts (tmux).
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, cliPath, makeSandbox, waitFor} from '../helpers/cage.js';
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
const hasAge = fs.existsSync('/usr/bin/age');

function terminal(command: string): {session: TmuxSession; exited: Promise<number>} {
	const status = path.join(dir, `status-${sessions.length}`);
	const session = startTmux(`${command}; echo $? > ${shell(status)}; sleep 30`, {env});
	sessions.push(session);
	const exited = waitFor(() => fs.existsSync(status) && fs.readFileSync(status, 'utf8').trim(), {timeout: 90_000, what: 'the command to exit'}).then(Number);
	return {session, exited};
}

/** Answer each prompt matching `prompt` with `answer`, `times` times; the exit code and screen. */
async function answering(command: string, answer: string, times = 1): Promise<{code: number; screen: string}> {
	const {session, exited} = terminal(command);
	for (let time = 0; time < times; time++) {
		await session.waitForScreen(time === 0 ? /Enter passphrase/ : /Confirm passphrase/);
		session.send(answer, {literal: true});
		session.send('Enter');
	}

	return {code: await exited, screen: session.screen()};
}

const key = path.join(dir, 'key.txt');
beforeAll(() => {
	if (!hasAge) return;
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	// A file of two identities: -y prints both, in order.
	execFileSync('age-keygen', ['-o', path.join(dir, 'second.txt')], {stdio: 'ignore'});
	fs.writeFileSync(path.join(dir, 'two.txt'), fs.readFileSync(key, 'utf8') + fs.readFileSync(path.join(dir, 'second.txt'), 'utf8'));
});

describe.runIf(hasAge)('cage keygen -y', () => {
	it('prints what age-keygen -y prints, from a file and from stdin', () => {
		for (const file of [key, path.join(dir, 'two.txt')]) {
			const expected = execFileSync('age-keygen', ['-y', file]).toString();
			const fromFile = cage(['keygen', '-y', file], {env});
			expect(fromFile.stderr).toBe('');
			expect(fromFile.stdout).toBe(expected);
			expect(cage(['keygen', '-y'], {env, input: fs.readFileSync(file)}).stdout).toBe(expected);
		}
	});

	it('prints an SSH private key\'s public key as ssh-keygen -y does, and names a bad file', () => {
		const ssh = path.join(dir, 'id_ed25519');
		execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', ssh]);
		expect(cage(['keygen', '-y', ssh], {env}).stdout).toBe(`${execFileSync('ssh-keygen', ['-y', '-f', ssh]).toString().trim().split(' ').slice(0, 2).join(' ')}\n`);
		const bad = path.join(dir, 'bad.txt');
		fs.writeFileSync(bad, '# a comment\nnot a key\n');
		const refused = cage(['keygen', '-y', bad], {env});
		expect(refused.status).toBe(1);
		expect(refused.stderr).toContain(`${bad}, line 2: not an age identity`);
	});
});

describe.runIf(hasAge)('cage keygen --pq', () => {
	it('writes a 0600 post-quantum hybrid identity that encrypts and decrypts, -y printing its recipient', () => {
		const pq = path.join(dir, 'pq.txt');
		const made = cage(['keygen', '--pq', '-o', pq], {env});
		expect(made.status).toBe(0);
		expect(fs.statSync(pq).mode & 0o777).toBe(0o600);
		const text = fs.readFileSync(pq, 'utf8');
		expect(text).toMatch(/^# created: .*\n# public key: age1pq1[a-z\d]+\nAGE-SECRET-KEY-PQ-1[A-Z\d]+\n$/);
		const recipient = /public key: (\S+)/.exec(text)![1]!;
		expect(made.stderr).toBe(`Public key: ${recipient}\n`);
		expect(cage(['keygen', '-y', pq], {env}).stdout).toBe(`${recipient}\n`);
		const plain = path.join(dir, 'pq-plain');
		fs.writeFileSync(plain, 'post-quantum\n');
		expect(cage(['encrypt', '-r', recipient, plain, '-o', `${plain}.age`, ...quiet], {env}).status).toBe(0);
		expect(fs.readFileSync(`${plain}.age`, 'latin1')).toContain('-> mlkem768x25519 ');
		expect(cage(['decrypt', '-i', pq, `${plain}.age`, ...quiet], {env}).stdout).toBe('post-quantum\n');
	});
});

describe.runIf(hasAge && fs.existsSync(tmuxPath))('passphrase-encrypted identity files with the age CLI', () => {
	const passphrase = 'identity file passphrase';
	const plain = path.join(dir, 'message');
	beforeAll(() => fs.writeFileSync(plain, 'for the encrypted identity\n'));

	it('age -p -a of a key file (typed at age\'s prompt) opens in cage decrypt -i and keygen -y, asking for it', async () => {
		const sealed = path.join(dir, 'key.txt.age');
		expect((await answering(`age -p -a -o ${shell(sealed)} ${shell(key)}`, passphrase, 2)).code).toBe(0);
		expect(fs.readFileSync(sealed, 'latin1')).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
		execFileSync('age', ['-R', '-', '-o', `${plain}.age`, plain], {input: execFileSync('age-keygen', ['-y', key])});
		const out = path.join(dir, 'message.out');
		const {code, screen} = await answering(cageLine(['decrypt', '-i', sealed, `${plain}.age`, '-o', out, ...quiet]), passphrase);
		expect(screen).toContain(`Enter passphrase for identity file "${sealed}":`);
		expect(code).toBe(0);
		expect(fs.readFileSync(out, 'utf8')).toBe('for the encrypted identity\n');
		const listed = path.join(dir, 'listed.txt');
		expect((await answering(`${cageLine(['keygen', '-y', sealed])} > ${shell(listed)}`, passphrase)).code).toBe(0);
		expect(fs.readFileSync(listed, 'utf8')).toBe(execFileSync('age-keygen', ['-y', key]).toString());
		const wrong = await answering(cageLine(['decrypt', '-i', sealed, `${plain}.age`, '-o', `${out}.wrong`, ...quiet]), 'not the passphrase');
		expect(wrong.code).toBe(1);
		expect(wrong.screen).toContain(`-i ${sealed}: wrong passphrase for the identity file`);
		expect(fs.existsSync(`${out}.wrong`)).toBe(false);
	}, 120_000);

	it('cage encrypt -p of a key file opens in age -d -i (typed at age\'s prompt)', async () => {
		const sealed = path.join(dir, 'key.cage.age');
		expect(cage(['encrypt', '-p', key, '-o', sealed, ...quiet], {env: {...env, CAGE_PASSPHRASE: passphrase}}).status).toBe(0);
		execFileSync('age', ['-R', '-', '-o', `${plain}.2.age`, plain], {input: execFileSync('age-keygen', ['-y', key])});
		const out = path.join(dir, 'message.2.out');
		expect((await answering(`age -d -i ${shell(sealed)} -o ${shell(out)} ${shell(`${plain}.2.age`)}`, passphrase)).code).toBe(0);
		expect(fs.readFileSync(out, 'utf8')).toBe('for the encrypted identity\n');
	}, 120_000);
});
