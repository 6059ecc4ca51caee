/**
 * SSH keys as age recipients and identities, on keys ssh-keygen makes: the stanzas' layout, round
 * trips through the library's header code, encrypted keys (asked for only when a file is for
 * them), the older PEM files, authorized_keys lines, and what is refused.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {Encrypter, type Identity, type Stanza} from 'age-encryption';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {IdentityError, NoIdentityMatchError, RecipientError} from '../../source/age/errors.js';
import {createHeader, readHeader} from '../../source/age/header.js';
import {readHeaderStanzas} from '../../source/age/header-stanzas.js';
import {checkRecipient, readRecipientsFiles} from '../../source/age/keys.js';
import {isEncryptedPem, readSshKeyFile} from '../../source/age/openssh-key.js';
import {SshIdentity} from '../../source/age/ssh-identities.js';
import {parseSshPublicKey, sshRecipient} from '../../source/age/ssh-recipients.js';
import {memoryReader} from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-ssh-'));
afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));
const hasSshKeygen = fs.existsSync('/usr/bin/ssh-keygen');

function keygen(name: string, args: string[], passphrase = ''): {file: string; pub: string} {
	const file = path.join(dir, name);
	execFileSync('ssh-keygen', ['-q', ...args, '-N', passphrase, '-C', `${name}@test`, '-f', file]);
	return {file, pub: fs.readFileSync(`${file}.pub`, 'utf8').trim()};
}

type Key = {file: string; pub: string};
const keys: Record<string, Key> = {};
beforeAll(() => {
	if (!hasSshKeygen) return;
	keys.ed = keygen('ed', ['-t', 'ed25519']);
	keys.edEnc = keygen('ed-enc', ['-t', 'ed25519'], 'ed pass');
	keys.rsa = keygen('rsa', ['-t', 'rsa', '-b', '2048']);
	keys.rsaEnc = keygen('rsa-enc', ['-t', 'rsa', '-b', '2048'], 'rsa pass');
	keys.rsaPem = keygen('rsa-pem', ['-t', 'rsa', '-b', '2048', '-m', 'PEM']);
	keys.rsaPemEnc = keygen('rsa-pem-enc', ['-t', 'rsa', '-b', '2048', '-m', 'PEM'], 'pem pass');
	keys.ecdsa = keygen('ecdsa', ['-t', 'ecdsa']);
}, 60_000);

/** An identity of a key file whose prompt answers `answer` and counts the times it was asked. */
function identityOf(key: Key, answer = ''): {identity: SshIdentity; asked: () => number} {
	let asked = 0;
	const text = fs.readFileSync(key.file, 'utf8');
	const pub = `${key.file}.pub`;
	const identity = new SshIdentity(readSshKeyFile(text, isEncryptedPem(text) ? {path: pub, text: fs.readFileSync(pub, 'utf8')} : undefined), key.file, async () => {
		asked++;
		return answer;
	});
	return {identity, asked: () => asked};
}

async function roundTrip(recipients: string[], identities: Identity[]): Promise<boolean> {
	const {header, fileKey, nonce} = await createHeader({recipients});
	const sealed = Buffer.concat([header, nonce]);
	const opened = await readHeader(memoryReader(sealed), {identities}, 'f.age');
	return Buffer.compare(opened.fileKey, fileKey) === 0;
}

describe.runIf(hasSshKeygen)('SSH recipients', () => {
	it('write the stanzas age writes: ssh-ed25519 TAG SHARE with a 32-byte body, ssh-rsa TAG with a modulus-sized body', async () => {
		const {header} = await createHeader({recipients: [checkRecipient(keys.ed!.pub, 'x'), checkRecipient(keys.rsa!.pub, 'x')]});
		const {stanzas} = readHeaderStanzas(header, 'f.age')!;
		expect(stanzas.map(({args}) => args[0])).toEqual(['ssh-ed25519', 'ssh-rsa']);
		expect(stanzas[0]!.args[1]).toMatch(/^[A-Za-z\d+/]{6}$/);
		expect(stanzas[0]!.args[2]).toMatch(/^[A-Za-z\d+/]{43}$/);
		const captured: Stanza[][] = [];
		const encrypter = new Encrypter();
		for (const pub of [keys.ed!.pub, keys.rsa!.pub]) {
			const recipient = sshRecipient(parseSshPublicKey(pub));
			encrypter.addRecipient({wrapFileKey: fileKey => {
				const stanzas = recipient.wrapFileKey(fileKey) as Stanza[];
				captured.push(stanzas);
				return stanzas;
			}});
		}

		await encrypter.encrypt(new Uint8Array(1));
		expect(captured[0]![0]!.body.length).toBe(32);
		expect(captured[1]![0]!.body.length).toBe(256);
	});

	it('open with the matching private key, unencrypted and encrypted, and only then ask', async () => {
		for (const [name, answer] of [['ed', ''], ['rsa', ''], ['edEnc', 'ed pass'], ['rsaEnc', 'rsa pass'], ['rsaPem', ''], ['rsaPemEnc', 'pem pass']] as const) {
			const key = keys[name]!;
			const mine = identityOf(key, answer);
			// Another key of the same type, listed first: an encrypted one must not be asked.
			const other = identityOf(keys[{ed: 'edEnc', edEnc: 'ed', rsa: 'rsaEnc', rsaEnc: 'rsa', rsaPem: 'rsaEnc', rsaPemEnc: 'rsaPem'}[name]]!, 'never');
			const recipient = checkRecipient(key.pub, 'x');
			expect(await roundTrip([recipient], [other.identity, mine.identity]), name).toBe(true);
			expect(mine.asked(), name).toBe(answer === '' ? 0 : 1);
			expect(other.asked(), `${name}: another key is not asked`).toBe(0);
		}
	});

	it('refuse a file for another key (no match), and a wrong passphrase (named)', async () => {
		await expect(roundTrip([checkRecipient(keys.ed!.pub, 'x')], [identityOf(keys.rsa!).identity])).rejects.toBeInstanceOf(NoIdentityMatchError);
		const wrong = roundTrip([checkRecipient(keys.edEnc!.pub, 'x')], [identityOf(keys.edEnc!, 'not it').identity]);
		await expect(wrong).rejects.toThrow(`-i ${keys.edEnc!.file}: wrong passphrase for the SSH key`);
	});

	it('take .pub lines with comments, tabs, and authorized_keys options; store the key without them', async () => {
		const [type, blob] = keys.ed!.pub.split(' ');
		const canonical = `${type} ${blob}`;
		expect(checkRecipient(keys.ed!.pub, 'x')).toBe(canonical);
		expect(checkRecipient(`${type}\t${blob}\tsome comment`, 'x')).toBe(canonical);
		expect(checkRecipient(`no-pty,command="echo a b" ${keys.ed!.pub}`, 'x')).toBe(canonical);
		const file = path.join(dir, 'authorized_keys');
		fs.writeFileSync(file, `# team\n${keys.rsa!.pub}\nrestrict,from="10.0.0.1" ${keys.ed!.pub}\n${keys.ecdsa!.pub}\n`);
		const warnings: string[] = [];
		expect(await readRecipientsFiles([file], warning => warnings.push(warning))).toEqual([checkRecipient(keys.rsa!.pub, 'x'), canonical]);
		expect(warnings).toEqual([`-R ${file}, line 4: skipping an SSH key of type ecdsa-sha2-nistp256, which age does not encrypt to`]);
	});

	it('refuse an ECDSA key given with -r, and a cut key, saying why', () => {
		expect(() => checkRecipient(keys.ecdsa!.pub, '-r KEY')).toThrow(/^-r KEY: SSH keys of type ecdsa-sha2-nistp256 are not supported by age \(only ssh-ed25519 and ssh-rsa\)$/);
		expect(() => checkRecipient(keys.rsa!.pub.slice(0, 60), '-r KEY')).toThrow(RecipientError);
	});
});

describe.runIf(hasSshKeygen)('an encrypted PEM key (ssh-keygen -m PEM -N …)', () => {
	const text = () => fs.readFileSync(keys.rsaPemEnc!.file, 'utf8');
	it('takes its public key from FILE.pub, as age does, and checks it once the key is open', async () => {
		expect(isEncryptedPem(text())).toBe(true);
		expect(isEncryptedPem(fs.readFileSync(keys.rsaPem!.file, 'utf8'))).toBe(false);
		const pub = `${keys.rsaPemEnc!.file}.pub`;
		expect(() => readSshKeyFile(text())).toThrow(/encrypted PEM key, whose public key is hidden until its passphrase is given; or convert the key to the OpenSSH format/);
		expect(() => readSshKeyFile(text(), {path: pub, text: undefined})).toThrow(`and ${pub} (where it would be read from, as age does) cannot be read`);
		expect(() => readSshKeyFile(text(), {path: pub, text: 'not a key'})).toThrow(`${pub} does not hold its public key`);
		// Another key's .pub: found out when the passphrase has opened the key.
		const mismatched = readSshKeyFile(text(), {path: pub, text: keys.rsa!.pub});
		expect(() => mismatched.decrypt('pem pass')).toThrow(`${pub} is not the public key of this private key`);
		const key = readSshKeyFile(text(), {path: pub, text: keys.rsaPemEnc!.pub});
		expect(key.encrypted).toBe(true);
		expect(() => key.decrypt('wrong')).toThrow('wrong passphrase');
		expect(key.decrypt('pem pass').type).toBe('ssh-rsa');
	});

	it('a wrong passphrase is named', async () => {
		const wrong = roundTrip([checkRecipient(keys.rsaPemEnc!.pub, 'x')], [identityOf(keys.rsaPemEnc!, 'not it').identity]);
		await expect(wrong).rejects.toThrow(`-i ${keys.rsaPemEnc!.file}: wrong passphrase for the SSH key`);
	});
});

describe.runIf(hasSshKeygen)('an ECDSA private key as identity', () => {
	it('is refused when read', () => {
		expect(() => new SshIdentity(readSshKeyFile(fs.readFileSync(keys.ecdsa!.file, 'utf8')), keys.ecdsa!.file, async () => '')).toThrow(IdentityError);
	});
});
