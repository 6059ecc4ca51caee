/**
 * Recipients, recipients files, identity files and new identities, validated once at the edge
 * with `age-encryption`'s own parsers, so a bad key is named before any work starts.
 */
import fs from 'node:fs/promises';
import {Decrypter, Encrypter, armor, generateHybridIdentity, generateX25519Identity, identityToRecipient, type Identity} from 'age-encryption';
import {holdsSecretKey, redactSecretKeys} from '../errors.js';
import {IdentityError, RecipientError} from './errors.js';
import {isEncryptedPem, isPem, readSshKeyFile, type PublicKeyFile} from './openssh-key.js';
import {SshIdentity, type AskSecret} from './ssh-identities.js';
import {SshKeyError, parseSshPublicKey, sshPublicKeyText} from './ssh-recipients.js';

/** An identity: an `AGE-SECRET-KEY-…` string, or an object (an SSH key) implementing the library's Identity. */
export type AgeIdentity = string | Identity;

let askSecret: AskSecret = async prompt => {
	throw new IdentityError(`${prompt.replace(/:\s*$/, '')}: a passphrase is needed, and there is no way to ask for it here`);
};

/** How passphrases of SSH keys and identity files are asked for (the CLI sets its terminal prompt). */
export function setSecretPrompt(ask: AskSecret): void {
	askSecret = ask;
}

/**
 * An SSH public key given as a recipient: the key after the options of an authorized_keys line
 * (`no-pty,command="…" ssh-ed25519 AAAA… comment`), or undefined when `value` holds none.
 */
function sshKeyPart(value: string): string | undefined {
	const keyType = /^(ssh-|ecdsa-|sk-)[\w@.-]+[ \t]/;
	if (keyType.test(value)) return value;
	// Skip the options: up to the first blank outside double quotes.
	let quoted = false;
	for (let at = 0; at < value.length; at++) {
		const char = value[at]!;
		if (char === '\\' && quoted) at++;
		else if (char === '"') quoted = !quoted;
		else if (!quoted && (char === ' ' || char === '\t')) {
			const rest = value.slice(at).trimStart();
			return keyType.test(rest) ? rest : undefined;
		}
	}

	return undefined;
}

/** Thrown for a valid SSH key of a type age does not encrypt to (a recipients file skips it, as age does). */
export class UnsupportedSshKeyError extends RecipientError {
	readonly keyType: string;
	constructor(message: string, keyType: string) {
		super(message);
		this.keyType = keyType;
	}
}

function unsupportedRecipient(value: string): string | undefined {
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
	const ssh = sshKeyPart(recipient);
	if (ssh !== undefined) {
		try {
			return sshPublicKeyText(parseSshPublicKey(ssh));
		} catch (error) {
			const reason = (error as Error).message;
			if (error instanceof SshKeyError && error.unsupportedType !== undefined) throw new UnsupportedSshKeyError(`${where}: ${reason}`, error.unsupportedType);
			throw new RecipientError(`${where}: not a valid SSH public key (${reason}); copy the whole line of the .pub file`);
		}
	}

	if (recipient.startsWith('-----BEGIN')) throw new RecipientError(`${where}: a private key, not a recipient; ${ifSecret.replace('age-keygen -y', 'cage keygen -y')}`);
	const unsupported = unsupportedRecipient(recipient);
	if (unsupported) throw new RecipientError(`${where}: ${unsupported}`);
	try {
		new Encrypter().addRecipient(recipient);
	} catch (error) {
		throw new RecipientError(`${where}: '${recipient}' is not a valid age recipient (${keyProblem(error)}); expected age1…, age1pq1…, ssh-ed25519 … or ssh-rsa …`);
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

/**
 * Read recipients files (one recipient a line, `#` comments and blank lines ignored). As age does,
 * an SSH key of a type age does not encrypt to (ecdsa, sk-…) is skipped with a warning.
 */
export async function readRecipientsFiles(files: string[], warn: (message: string) => void = () => undefined): Promise<string[]> {
	const recipients: string[] = [];
	for (const file of files) {
		const {lines} = await keyFileLines(file, '-R', 'recipients file', RecipientError);
		const before = recipients.length;
		if (lines.length === 0) throw new RecipientError(`-R ${file}: the recipients file lists no recipients`);
		for (const {line, number} of lines) {
			try {
				recipients.push(checkRecipient(line, `-R ${file}, line ${number}`, `-R takes public keys (age1…, ssh-…): give its public key instead (cage keygen -y ${file}), and pass ${file} with -i to decrypt`));
			} catch (error) {
				if (!(error instanceof UnsupportedSshKeyError)) throw error;
				warn(`-R ${file}, line ${number}: skipping an SSH key of type ${error.keyType}, which age does not encrypt to`);
			}
		}

		if (recipients.length === before) throw new RecipientError(`-R ${file}: the recipients file lists no recipients age can encrypt to`);
	}

	return recipients;
}

/** The identities of an identity file's text (age-keygen format); `where` names it in errors. */
function parseIdentityLines(text: string, where: string): string[] {
	const identities: string[] = [];
	for (const [index, raw] of text.split(/\r?\n/).entries()) {
		const line = raw.trim();
		if (line === '' || line.startsWith('#')) continue;
		if (!line.startsWith('AGE-SECRET-KEY-')) {
			throw new IdentityError(`${where}, line ${index + 1}: not an age identity (an identity file holds the secret-key lines age-keygen or cage keygen writes, or is an SSH private key)`);
		}

		const problem = identityProblem(line);
		if (problem !== undefined) throw new IdentityError(`${where}, line ${index + 1}: not a valid age identity (${problem}); restore the file from a good copy`);
		identities.push(line);
	}

	if (identities.length === 0) throw new IdentityError(`${where}: the identity file holds no identities`);
	return identities;
}

/**
 * The identities of a passphrase-encrypted identity file (`age -p` of a key file, binary or
 * armored), asking for its passphrase. The decrypted keys stay in memory.
 */
async function openEncryptedIdentityFile(file: string, bytes: Buffer): Promise<string[]> {
	let sealed: Uint8Array = bytes;
	try {
		if (bytes.toString('latin1', 0, 14) === '-----BEGIN AGE') sealed = armor.decode(bytes.toString('latin1'));
	} catch (error) {
		throw new IdentityError(`-i ${file}: the armored identity file is malformed (${(error as Error).message})`);
	}

	const passphrase = await askSecret(`Enter passphrase for identity file "${file}": `);
	const decrypter = new Decrypter();
	decrypter.addPassphrase(passphrase);
	let text: string;
	try {
		text = await decrypter.decrypt(sealed, 'text');
	} catch (error) {
		const message = (error as Error).message;
		if (/no identity matched/.test(message)) throw new IdentityError(`-i ${file}: wrong passphrase for the identity file (or it is encrypted to recipients, not with a passphrase)`);
		throw new IdentityError(`-i ${file}: the encrypted identity file does not decrypt (${redactSecretKeys(message)}); restore it from a good copy`);
	}

	return parseIdentityLines(text, `-i ${file} (decrypted)`);
}

/** FILE.pub, which an encrypted PEM key needs for its public key (as age reads it); undefined for other keys. */
async function publicKeyBeside(file: string, text: string): Promise<PublicKeyFile | undefined> {
	if (!isEncryptedPem(text)) return undefined;
	const pub = `${file}.pub`;
	return {path: pub, text: await fs.readFile(pub, 'utf8').catch(() => undefined)};
}

/**
 * Read identity files, as age does by their first bytes: an age file (a passphrase-encrypted
 * identity file, which asks for its passphrase), another PEM file (an SSH private key: an
 * encrypted one asks for its passphrase only when a file is encrypted to it), else age-keygen's
 * format (`AGE-SECRET-KEY-1…` lines, `#` comments).
 */
export async function readIdentityFiles(files: string[]): Promise<AgeIdentity[]> {
	const identities: AgeIdentity[] = [];
	for (const file of files) {
		const {text} = await keyFileLines(file, '-i', 'identity file', IdentityError);
		if (text.startsWith('age-encryption') || text.startsWith('-----BEGIN AGE')) {
			identities.push(...(await openEncryptedIdentityFile(file, await fs.readFile(file))));
		} else if (isPem(text)) {
			try {
				identities.push(new SshIdentity(readSshKeyFile(text, await publicKeyBeside(file, text)), file, async prompt => askSecret(prompt)));
			} catch (error) {
				if (error instanceof IdentityError) throw error;
				throw new IdentityError(`-i ${file}: not an SSH private key cage can read (${(error as Error).message})`);
			}
		} else {
			identities.push(...parseIdentityLines(text, `-i ${file}`));
		}
	}

	return identities;
}

/**
 * The recipients of the identities in `text` (an identity file, an SSH private key, or an
 * encrypted identity file), as `age-keygen -y` prints them; `name` names it in errors.
 */
export async function recipientsOfIdentityText(bytes: Buffer, name: string): Promise<string[]> {
	const text = bytes.toString('utf8');
	if (text.startsWith('age-encryption') || text.startsWith('-----BEGIN AGE')) {
		const identities = await openEncryptedIdentityFile(name, bytes);
		return Promise.all(identities.map(async identity => identityToRecipient(identity)));
	}

	if (isPem(text)) {
		try {
			return [sshPublicKeyText(readSshKeyFile(text, name === 'stdin' ? undefined : await publicKeyBeside(name, text)))];
		} catch (error) {
			throw new IdentityError(`${name}: not an SSH private key cage can read (${(error as Error).message})`);
		}
	}

	return Promise.all(parseIdentityLines(text, name).map(async identity => identityToRecipient(identity)));
}

/** A new X25519 identity (or, with `postQuantum`, an ML-KEM-768 + X25519 hybrid one) and its recipient. */
export async function generateIdentity({postQuantum = false} = {}): Promise<{identity: string; recipient: string}> {
	const identity = postQuantum ? await generateHybridIdentity() : await generateX25519Identity();
	return {identity, recipient: await identityToRecipient(identity)};
}

/** An identity file in age-keygen's layout. */
export function formatIdentityFile(identity: string, recipient: string, created = new Date()): string {
	return `# created: ${created.toISOString().replace(/\.\d+Z$/, 'Z')}\n# public key: ${recipient}\n${identity}\n`;
}
