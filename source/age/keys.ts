/**
 * Recipients, recipients files, identity files and new identities, validated once at the edge
 * with `age-encryption`'s own parsers, so a bad key is named before any work starts.
 */
import fs from 'node:fs/promises';
import {Decrypter, Encrypter, generateX25519Identity, identityToRecipient} from 'age-encryption';
import {IdentityError, RecipientError} from './errors.js';

function unsupportedRecipient(value: string): string | undefined {
	if (value.startsWith('ssh-')) return 'SSH public keys are not supported by cage; use an age1… recipient';
	if (/^age1[a-z\d]+1/.test(value) && !/^age1(pq|tag|tagpq)1/.test(value)) return 'age plugin recipients are not supported by cage';
	return undefined;
}

/** Check one recipient string; returns it trimmed. `where` names it in the error. */
export function checkRecipient(value: string, where: string): string {
	const recipient = value.trim();
	const unsupported = unsupportedRecipient(recipient);
	if (unsupported) throw new RecipientError(`${where}: ${unsupported}`);
	try {
		new Encrypter().addRecipient(recipient);
	} catch (error) {
		throw new RecipientError(`${where}: '${recipient}' is not a valid age recipient (${(error as Error).message}); expected age1… or age1pq1…`);
	}

	return recipient;
}

/** Validate `-r` arguments. */
export function parseRecipientArgs(values: string[]): string[] {
	return values.map(value => checkRecipient(value, `-r ${value}`));
}

/** Read recipients files (one recipient a line, `#` comments and blank lines ignored). */
export async function readRecipientsFiles(files: string[]): Promise<string[]> {
	const recipients: string[] = [];
	for (const file of files) {
		let text: string;
		try {
			text = await fs.readFile(file, 'utf8');
		} catch (error) {
			throw new RecipientError(`-R ${file}: cannot read the recipients file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
		}

		const before = recipients.length;
		for (const [index, line] of text.split(/\r?\n/).entries()) {
			const trimmed = line.trim();
			if (trimmed === '' || trimmed.startsWith('#')) continue;
			recipients.push(checkRecipient(trimmed, `-R ${file}, line ${index + 1}`));
		}

		if (recipients.length === before) throw new RecipientError(`-R ${file}: the recipients file lists no recipients`);
	}

	return recipients;
}

/** Read identity files (age-keygen format: `AGE-SECRET-KEY-1…` lines, `#` comments). */
export async function readIdentityFiles(files: string[]): Promise<string[]> {
	const identities: string[] = [];
	for (const file of files) {
		let text: string;
		try {
			text = await fs.readFile(file, 'utf8');
		} catch (error) {
			throw new IdentityError(`-i ${file}: cannot read the identity file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
		}

		if (text.startsWith('age-encryption.org/v1') || text.startsWith('-----BEGIN AGE ENCRYPTED FILE')) {
			throw new IdentityError(`-i ${file}: passphrase-protected identity files are not supported; decrypt it first with 'age -d'`);
		}

		if (text.includes('-----BEGIN OPENSSH PRIVATE KEY-----')) throw new IdentityError(`-i ${file}: SSH keys are not supported by cage; use an age identity (cage keygen)`);
		const before = identities.length;
		for (const [index, line] of text.split(/\r?\n/).entries()) {
			const trimmed = line.trim();
			if (trimmed === '' || trimmed.startsWith('#')) continue;
			if (!trimmed.startsWith('AGE-SECRET-KEY-')) {
				throw new IdentityError(`-i ${file}, line ${index + 1}: not an age identity (expected AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1…)`);
			}

			try {
				new Decrypter().addIdentity(trimmed);
			} catch (error) {
				throw new IdentityError(`-i ${file}, line ${index + 1}: invalid age identity (${(error as Error).message})`);
			}

			identities.push(trimmed);
		}

		if (identities.length === before) throw new IdentityError(`-i ${file}: the identity file holds no identities`);
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
