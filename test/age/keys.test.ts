import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {generateHybridIdentity, identityToRecipient} from 'age-encryption';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {IdentityError, RecipientError} from '../../source/age/errors.js';
import {describeError, redactSecretKeys} from '../../source/errors.js';
import {checkRecipient, formatIdentityFile, generateIdentity, identityProblem, parseRecipientArgs, readIdentityFiles, readRecipientsFiles} from '../../source/age/keys.js';

let dir: string;
let identity: string;
let recipient: string;
const ssh = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@example.com';

const write = (name: string, text: string): string => {
	const file = path.join(dir, name);
	fs.writeFileSync(file, text);
	return file;
};

/** `message` quotes neither an age secret key nor a piece of `secret` (the key data after its prefix). */
function expectNoSecret(message: string, secret: string): void {
	expect(message).not.toMatch(/AGE-SECRET-KEY-(PQ-)?1[\da-z]/i);
	const data = secret.replace(/^.*?AGE-SECRET-KEY-(PQ-)?1/i, '');
	for (let start = 0; start + 12 <= data.length; start += 6) expect(message.toLowerCase()).not.toContain(data.slice(start, start + 12).toLowerCase());
}

/** The message of the error `promise` rejects with, checking its class. */
async function messageOf(promise: Promise<unknown>, type: typeof RecipientError | typeof IdentityError): Promise<string> {
	try {
		await promise;
	} catch (error) {
		expect(error).toBeInstanceOf(type);
		return (error as Error).message;
	}

	throw new Error('expected a rejection');
}

beforeAll(async () => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-keys-'));
	({identity, recipient} = await generateIdentity());
});

afterAll(() => {
	fs.rmSync(dir, {recursive: true, force: true});
});

describe('generateIdentity / formatIdentityFile', () => {
	it('makes an X25519 identity and its recipient', () => {
		expect(identity).toMatch(/^AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}$/);
		expect(recipient).toMatch(/^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/);
	});

	it('writes the age-keygen layout', () => {
		const text = formatIdentityFile(identity, recipient, new Date('2026-11-25T09:10:11.123Z'));
		expect(text).toBe(`# created: 2026-11-25T09:10:11Z\n# public key: ${recipient}\n${identity}\n`);
	});

	it('is accepted by the real age-keygen -y, which derives the same recipient', () => {
		const file = write('keygen.txt', formatIdentityFile(identity, recipient));
		const derived = execFileSync('age-keygen', ['-y', file], {encoding: 'utf8'}).trim();
		expect(derived).toBe(recipient);
	});

	it('reads an identity file made by the real age-keygen', async () => {
		const file = path.join(dir, 'from-age-keygen.txt');
		execFileSync('age-keygen', ['-o', file], {stdio: 'ignore'});
		const identities = await readIdentityFiles([file]);
		expect(identities).toHaveLength(1);
		const publicKey = /# public key: (age1\S+)/.exec(fs.readFileSync(file, 'utf8'))![1];
		expect(await identityToRecipient(identities[0]!)).toBe(publicKey);
	});
});

describe('parseRecipientArgs', () => {
	it('accepts X25519 and post-quantum recipients, trimmed', async () => {
		const pq = await identityToRecipient(await generateHybridIdentity());
		expect(pq.startsWith('age1pq1')).toBe(true);
		expect(parseRecipientArgs([` ${recipient} `, pq])).toEqual([recipient, pq]);
	});

	it('names the bad argument', () => {
		const bad = recipient.slice(0, -1) + (recipient.endsWith('q') ? 'p' : 'q');
		expect(() => parseRecipientArgs([recipient, bad])).toThrow(RecipientError);
		expect(() => parseRecipientArgs([recipient, bad])).toThrow(`-r ${bad}: '${bad}' is not a valid age recipient`);
		expect(() => parseRecipientArgs(['hello'])).toThrow(/^-r hello: 'hello' is not a valid age recipient \(.*\); expected age1…, age1pq1…, ssh-ed25519 … or ssh-rsa …$/);
	});

	it('never repeats a secret key given as a recipient (any case, PQ, inside other text)', async () => {
		const pq = await generateHybridIdentity();
		for (const secret of [identity, identity.toLowerCase(), pq, ` ${identity} `, `x${identity}`]) {
			let message = '';
			try {
				parseRecipientArgs([secret]);
			} catch (error) {
				expect(error).toBeInstanceOf(RecipientError);
				message = (error as Error).message;
			}

			expect(message).toBe('-r: a secret key, not a recipient; give its public key instead (age-keygen -y KEYFILE prints it)');
			expectNoSecret(message, secret.trim());
		}
	});

	it('says that plugin recipients are not supported, and names a malformed SSH key', () => {
		const plugin = 'age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t';
		expect(() => parseRecipientArgs([plugin])).toThrow(`-r ${plugin}: age plugin recipients are not supported by cage`);
		const cut = ssh.slice(0, 40);
		expect(() => parseRecipientArgs([cut])).toThrow(`-r ${cut}: not a valid SSH public key (malformed SSH public key (truncated (a field is longer than what is left))); copy the whole line of the .pub file`);
	});

	it('checkRecipient uses the place it is given', () => {
		expect(() => checkRecipient('nope', 'recipients.txt, line 3')).toThrow(/^recipients\.txt, line 3: 'nope'/);
	});
});

describe('readRecipientsFiles', () => {
	it('reads recipients, skipping comments and blank lines (CRLF too), across files', async () => {
		const other = (await generateIdentity()).recipient;
		const first = write('recipients-a.txt', `# team\n\n${recipient}\r\n   \n  # indented comment\n${other}\n`);
		const second = write('recipients-b.txt', `${recipient}\n`);
		expect(await readRecipientsFiles([first, second])).toEqual([recipient, other, recipient]);
	});

	it('names the file and line of a bad recipient', async () => {
		const file = write('recipients-bad.txt', `# ok\n${recipient}\n\nage1notarecipient\n`);
		const message = await messageOf(readRecipientsFiles([file]), RecipientError);
		expect(message).toMatch(new RegExp(`^-R ${file.replaceAll('.', '\\.')}, line 4: 'age1notarecipient' is not a valid age recipient`));
	});

	it('names the file and line of a secret key (an identity file passed with -R), never the key', async () => {
		const file = write('recipients-identity.txt', formatIdentityFile(identity, recipient));
		const message = await messageOf(readRecipientsFiles([file]), RecipientError);
		expect(message).toBe(
			`-R ${file}, line 3: a secret key, not a recipient; -R takes public keys (age1…, ssh-…): give its public key instead (cage keygen -y ${file}), and pass ${file} with -i to decrypt`,
		);
		expectNoSecret(message, identity);
		const lower = write('recipients-identity-lower.txt', `${recipient}\n${identity.toLowerCase()}\n`);
		expectNoSecret(await messageOf(readRecipientsFiles([lower]), RecipientError), identity);
	});

	it('names the file and line of a malformed SSH key', async () => {
		const file = write('recipients-ssh.txt', `${recipient}\n${ssh.slice(0, 30)}\n`);
		expect(await messageOf(readRecipientsFiles([file]), RecipientError)).toMatch(new RegExp(`^-R ${file}, line 2: not a valid SSH public key`));
	});

	it('rejects an empty file or one with only comments', async () => {
		for (const [name, text] of [
			['recipients-empty.txt', ''],
			['recipients-comments.txt', '# nothing here\n\n'],
		]) {
			const file = write(name!, text!);
			expect(await messageOf(readRecipientsFiles([file]), RecipientError)).toBe(`-R ${file}: the recipients file lists no recipients`);
		}
	});

	it('rejects missing and unreadable files, naming them', async () => {
		const missing = path.join(dir, 'no-such-recipients.txt');
		expect(await messageOf(readRecipientsFiles([missing]), RecipientError)).toBe(`-R ${missing}: cannot read the recipients file (ENOENT)`);
		const directory = path.join(dir, 'a-directory');
		fs.mkdirSync(directory, {recursive: true});
		expect(await messageOf(readRecipientsFiles([directory]), RecipientError)).toBe(`-R ${directory}: cannot read the recipients file (EISDIR)`);
	});

	it.skipIf(process.getuid?.() === 0)('rejects a file without read permission', async () => {
		const file = write('recipients-0000.txt', `${recipient}\n`);
		fs.chmodSync(file, 0o000);
		expect(await messageOf(readRecipientsFiles([file]), RecipientError)).toBe(`-R ${file}: cannot read the recipients file (EACCES)`);
	});
});

describe('identityProblem (one key, as identity files and the resume identity check it)', () => {
	it('is undefined for a valid X25519 or post-quantum identity, and the reason, never the key, for a corrupt one', async () => {
		expect(identityProblem(identity)).toBeUndefined();
		expect(identityProblem(await generateHybridIdentity())).toBeUndefined();
		const corrupt = identity.slice(0, -1) + (identity.endsWith('Q') ? 'P' : 'Q');
		expect(identityProblem(corrupt)).toBe('bad checksum: a character is wrong or missing');
		expectNoSecret(identityProblem(`${corrupt}Q`)!, corrupt);
		expect(identityProblem(recipient)).toBeDefined();
	});
});

describe('readIdentityFiles', () => {
	it('reads identities, skipping comments, across files', async () => {
		const second = await generateIdentity();
		const a = write('identity-a.txt', formatIdentityFile(identity, recipient));
		const b = write('identity-b.txt', `\r\n# another\r\n${second.identity}\r\n`);
		expect(await readIdentityFiles([a, b])).toEqual([identity, second.identity]);
	});

	it('names the file and line of a line that is not an identity', async () => {
		const file = write('identity-recipient.txt', `# created: now\n${recipient}\n`);
		const message = await messageOf(readIdentityFiles([file]), IdentityError);
		expect(message).toBe(`-i ${file}, line 2: not an age identity (an identity file holds the secret-key lines age-keygen or cage keygen writes, or is an SSH private key)`);
		// Printed as is: nothing in it looks like a key to the redaction (it read '<secret key>…' before).
		expect(redactSecretKeys(message)).toBe(message);
	});

	it('names the file and line of a corrupt identity, and the reason, never the key', async () => {
		const corrupt = identity.slice(0, -1) + (identity.endsWith('Q') ? 'P' : 'Q');
		const file = write('identity-corrupt.txt', `${identity}\n\n${corrupt}\n`);
		const message = await messageOf(readIdentityFiles([file]), IdentityError);
		expect(message).toBe(`-i ${file}, line 3: not a valid age identity (bad checksum: a character is wrong or missing); restore the file from a good copy`);
		expectNoSecret(message, corrupt);
		// A typo in a post-quantum identity, and characters bech32 does not allow.
		const pq = await generateHybridIdentity();
		const pqCorrupt = pq.slice(0, 40) + (pq[40] === 'Q' ? 'P' : 'Q') + pq.slice(41);
		const pqFile = write('identity-pq-corrupt.txt', `${pqCorrupt}\n`);
		const pqMessage = await messageOf(readIdentityFiles([pqFile]), IdentityError);
		expect(pqMessage).toContain('bad checksum');
		expectNoSecret(pqMessage, pqCorrupt);
		const badLetter = identity.slice(0, 30) + 'B' + identity.slice(31);
		const badFile = write('identity-bad-letter.txt', `${badLetter}\n`);
		const badMessage = await messageOf(readIdentityFiles([badFile]), IdentityError);
		expect(badMessage).toMatch(/^-i .*, line 1: not a valid age identity \(/);
		expectNoSecret(badMessage, badLetter);
	});

	it('names an SSH private key it cannot read', async () => {
		const file = write('id_ed25519', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n');
		expect(await messageOf(readIdentityFiles([file]), IdentityError)).toMatch(new RegExp(`^-i ${file}: not an SSH private key cage can read \\(truncated`));
	});

	it('names a passphrase-protected identity file it cannot open, without a terminal', async () => {
		const file = write('identity.age', 'age-encryption.org/v1\n-> scrypt abc 18\nxyz\n--- mac\n');
		expect(await messageOf(readIdentityFiles([file]), IdentityError)).toMatch(/a passphrase is needed, and there is no way to ask for it here/);
	});

	it('rejects empty files and files with only comments', async () => {
		for (const [name, text] of [
			['identity-empty.txt', ''],
			['identity-comments.txt', '# created: now\n# public key: age1…\n'],
		]) {
			const file = write(name!, text!);
			expect(await messageOf(readIdentityFiles([file]), IdentityError)).toBe(`-i ${file}: the identity file holds no identities`);
		}
	});

	it('rejects missing and unreadable files, naming them', async () => {
		const missing = path.join(dir, 'no-such-identity.txt');
		expect(await messageOf(readIdentityFiles([missing]), IdentityError)).toBe(`-i ${missing}: cannot read the identity file (ENOENT)`);
		const directory = path.join(dir, 'identity-directory');
		fs.mkdirSync(directory);
		expect(await messageOf(readIdentityFiles([directory]), IdentityError)).toBe(`-i ${directory}: cannot read the identity file (EISDIR)`);
	});
});

describe('describeError', () => {
	it('never passes on a secret key quoted by a library error', () => {
		const library = new Error(`Invalid checksum in ${identity}`);
		expect(describeError(library)).toBe('Invalid checksum in <secret key>');
		expect(describeError(new IdentityError(`x ${identity.toLowerCase()} y`))).toBe('x <secret key> y');
	});
});
