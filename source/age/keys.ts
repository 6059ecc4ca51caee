/**
 * Recipients, recipients files, identity files and new identities, validated once at the edge
 * with `age-encryption`'s own parsers, so a bad key is named before any work starts.
 */
import fs from 'node:fs/promises';
import {Decrypter, Encrypter, generateX25519Identity, identityToRecipient} from 'age-encryption';
import {holdsSecretKey, redactSecretKeys} from '../errors.js';
import {IdentityError, RecipientError} from './errors.js';

function unsupportedRecipient(value: string): string | undefined {
	if (value.startsWith('ssh-')) return 'SSH public keys are not supported by cage; use an age1… recipient';
	if (/^age1[a-z\d]+1/.test(value) && !/^age1(pq|tag|tagpq)1/.test(value)) return 'age plugin recipients are not supported by cage';
	return undefined;
}

/**
 * Why a key string was refused, in words that never quote it: the bech32 decoder's messages
 * carry the whole input ("Invalid checksum in AGE-SECRET-KEY-1…").
 */
export function keyProblem(error: unknown): string {
	const message = error instanceof Error ? error.message : String(error);
	if (/checksum/i.test(message)) return 'bad checksum: a character is wrong or missing';
	if (/mixed-case/i.test(message)) return 'mixes upper and lower case';
	if (/unknown letter|printable ascii|ascii expected/i.test(message)) return 'holds a character that is not allowed';
	if (/length/i.test(message)) return 'wrong length';
	if (/unrecognized/i.test(message)) return 'unknown key type';
	if (/^invalid (identity|recipient)$/i.test(message)) return 'wrong key type or length';
	return redactSecretKeys(message);
}

/**
 * Why `identity` (one `AGE-SECRET-KEY-…` string) is not a valid age identity, in words that never
 * quote it (see keyProblem); undefined when it is one.
 */
export function identityProblem(identity: string): string | undefined {
	try {
		new Decrypter().addIdentity(identity);
		return undefined;
	} catch (error) {
		return keyProblem(error);
	}
}

/**
 * Check one recipient string; returns it trimmed. `where` names it in the error; `ifSecret` says
 * what to do when it is a secret key (which is never repeated in the message).
 */
export function checkRecipient(value: string, where: string, ifSecret = 'give its public key instead (age-keygen -y KEYFILE prints it)'): string {
	const recipient = value.trim();
	if (holdsSecretKey(recipient)) throw new RecipientError(`${where}: a secret key, not a recipient; ${ifSecret}`);
	const unsupported = unsupportedRecipient(recipient);
	if (unsupported) throw new RecipientError(`${where}: ${unsupported}`);
	try {
		new Encrypter().addRecipient(recipient);
	} catch (error) {
		throw new RecipientError(`${where}: '${recipient}' is not a valid age recipient (${keyProblem(error)}); expected age1… or age1pq1…`);
	}

	return recipient;
}

/** Validate `-r` arguments. A secret key given by mistake is not echoed, not even as the flag's value. */
export function parseRecipientArgs(values: string[]): string[] {
	return values.map(value => checkRecipient(value, holdsSecretKey(value) ? '-r' : `-r ${value}`));
}

/**
 * The meaningful lines of a key file (`#` comments and blank lines dropped) with their line
 * numbers; `flag` and `what` name the file in the error when it cannot be read.
 */
async function keyFileLines(file: string, flag: string, what: string, Failure: new (message: string) => Error): Promise<{text: string; lines: Array<{line: string; number: number}>}> {
	let text: string;
	try {
		text = await fs.readFile(file, 'utf8');
	} catch (error) {
		throw new Failure(`${flag} ${file}: cannot read the ${what} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
	}

	const lines = text
		.split(/\r?\n/)
		.map((line, index) => ({line: line.trim(), number: index + 1}))
		.filter(({line}) => line !== '' && !line.startsWith('#'));
	return {text, lines};
}

/** Read recipients files (one recipient a line, `#` comments and blank lines ignored). */
export async function readRecipientsFiles(files: string[]): Promise<string[]> {
	const recipients: string[] = [];
	for (const file of files) {
		const {lines} = await keyFileLines(file, '-R', 'recipients file', RecipientError);
		if (lines.length === 0) throw new RecipientError(`-R ${file}: the recipients file lists no recipients`);
		for (const {line, number} of lines) {
			recipients.push(checkRecipient(line, `-R ${file}, line ${number}`, `-R takes public keys (age1…): give its public key instead (age-keygen -y ${file}), and pass ${file} with -i to decrypt`));
		}
	}

	return recipients;
}

/** Read identity files (age-keygen format: `AGE-SECRET-KEY-1…` lines, `#` comments). */
export async function readIdentityFiles(files: string[]): Promise<string[]> {
	const identities: string[] = [];
	for (const file of files) {
		const {text, lines} = await keyFileLines(file, '-i', 'identity file', IdentityError);
		if (text.startsWith('age-encryption.org/v1') || text.startsWith('-----BEGIN AGE ENCRYPTED FILE')) {
			throw new IdentityError(`-i ${file}: passphrase-protected identity files are not supported; decrypt it first with 'age -d'`);
		}

		if (text.includes('-----BEGIN OPENSSH PRIVATE KEY-----')) throw new IdentityError(`-i ${file}: SSH keys are not supported by cage; use an age identity (cage keygen)`);
		if (lines.length === 0) throw new IdentityError(`-i ${file}: the identity file holds no identities`);
		for (const {line, number} of lines) {
			if (!line.startsWith('AGE-SECRET-KEY-')) {
				throw new IdentityError(`-i ${file}, line ${number}: not an age identity (an identity file holds the secret-key lines age-keygen or cage keygen writes)`);
			}

			const problem = identityProblem(line);
			if (problem !== undefined) throw new IdentityError(`-i ${file}, line ${number}: not a valid age identity (${problem}); restore the file from a good copy`);

			identities.push(line);
		}
	}

	return identities;
}

/** A new X25519 identity and its recipient. */
export async function generateIdentity(): Promise<{identity: string; recipient: string}> {
	const identity = await generateX25519Identity();
	return {identity, recipient: await identityToRecipient(identity)};
}

/** An identity file in age-keygen's layout. */
export function formatIdentityFile(identity: string, recipient: string, created = new Date()): string {
	return `# created: ${created.toISOString().replace(/\.\d+Z$/, 'Z')}\n# public key: ${recipient}\n${identity}\n`;
}
