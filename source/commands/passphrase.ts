/**
 * Passphrases: typed on the terminal (/dev/tty, no echo, so stdin can carry data), or from
 * CAGE_PASSPHRASE when there is no terminal (scripts, CI).
 */
import fs from 'node:fs';
import tty from 'node:tty';
import {CancelledError, UsageError} from './command.js';
import {setSecretPrompt} from '../age/keys.js';

async function ask(prompt: string): Promise<string> {
	let fd: number;
	try {
		fd = fs.openSync('/dev/tty', 'r+');
	} catch {
		throw new UsageError('a passphrase is needed but there is no terminal; set CAGE_PASSPHRASE');
	}

	const input = new tty.ReadStream(fd);
	const output = new tty.WriteStream(fs.openSync('/dev/tty', 'w'));
	output.write(prompt);
	input.setRawMode(true);
	try {
		return await new Promise<string>((resolve, reject) => {
			let value = '';
			input.on('data', (data: Buffer) => {
				for (const char of data.toString('utf8')) {
					if (char === '\r' || char === '\n') {
						output.write('\n');
						resolve(value);
						return;
					}

					// Ctrl-C: raw mode delivers it as a byte, not as SIGINT.
					if (char === '\u0003') {
						output.write('\n');
						reject(new CancelledError('cancelled at the passphrase prompt'));
						return;
					}

					if (char === '\u007F' || char === '\b') value = value.slice(0, -1);
					else value += char;
				}
			});
		});
	} finally {
		input.setRawMode(false);
		input.destroy();
		output.destroy();
	}
}

/** Read the passphrase; `confirm` asks twice (for encryption). */
export async function readPassphrase({confirm}: {confirm: boolean}): Promise<string> {
	const fromEnvironment = process.env.CAGE_PASSPHRASE;
	if (fromEnvironment !== undefined) {
		if (fromEnvironment === '') throw new UsageError('CAGE_PASSPHRASE is set but empty');
		return fromEnvironment;
	}

	const passphrase = await ask('Enter passphrase: ');
	if (passphrase === '') throw new UsageError('empty passphrase');
	if (confirm && (await ask('Confirm passphrase: ')) !== passphrase) throw new UsageError('the passphrases do not match');
	return passphrase;
}

/**
 * Ask for the passphrase of a key (an encrypted SSH key or identity file) on the terminal, as age
 * does; never from CAGE_PASSPHRASE, which is the passphrase of files.
 */
export async function askKeyPassphrase(prompt: string): Promise<string> {
	let passphrase: string;
	try {
		passphrase = await ask(prompt);
	} catch (error) {
		const subject = prompt.replace(/^Enter passphrase for /, '').replace(/:\s*$/, '');
		if (error instanceof UsageError) throw new UsageError(`${subject} is protected by a passphrase, typed on a terminal, and there is none (run it in one)`);
		throw error;
	}

	if (passphrase === '') throw new UsageError('empty passphrase');
	return passphrase;
}

// Every command that reads identity files imports this module, so for all of them an encrypted SSH
// key or identity file asks on the terminal (cage verify, lock, backup and sweep had no prompt:
// "there is no way to ask for it here", in a terminal).
setSecretPrompt(askKeyPassphrase);
