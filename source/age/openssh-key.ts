/**
 * OpenSSH private key files (`-----BEGIN OPENSSH PRIVATE KEY-----`, the "openssh-key-v1" format
 * of OpenSSH's PROTOCOL.key), as ssh-keygen writes them, unencrypted or with a passphrase
 * (bcrypt-pbkdf from the `bcrypt-pbkdf` package, then AES in CTR or CBC mode from node's crypto).
 * Also the older PEM files (PKCS#1 `RSA PRIVATE KEY`, PKCS#8 `PRIVATE KEY`), read by node's
 * crypto, encrypted ones too (`Proc-Type: 4,ENCRYPTED`, as `ssh-keygen -m PEM -N …` writes them,
 * and PKCS#8 `ENCRYPTED PRIVATE KEY`). The public key is in the clear in an openssh-key-v1 file,
 * so an encrypted key can say which stanzas are its own before its passphrase is asked; an
 * encrypted PEM file hides it, so its public key comes from FILE.pub beside it, as age does.
 */
import {createDecipheriv, createPrivateKey, type KeyObject} from 'node:crypto';
import {pbkdf} from 'bcrypt-pbkdf';
import {parseSshPublicKey} from './ssh-recipients.js';
import {SshReader, jwkInteger, sshString} from './ssh-wire.js';

/** A private key, decrypted: what the identities need. */
export type SshPrivateKey = {type: 'ssh-ed25519'; blob: Buffer; seed: Buffer} | {type: 'ssh-rsa'; blob: Buffer; rsa: KeyObject};

/** A key file read: its public key blob, and how to get the private key (a passphrase or not). */
export type SshKeyFile = {
	type: string;
	blob: Buffer;
	encrypted: boolean;
	/** The private key; `passphrase` is needed when `encrypted`. Throws WrongPassphraseError. */
	decrypt(passphrase?: string): SshPrivateKey;
};

/** The passphrase does not open the key. */
export class WrongPassphraseError extends Error {
	override name = 'WrongPassphraseError';
}

const opensshBegin = '-----BEGIN OPENSSH PRIVATE KEY-----';
const opensshEnd = '-----END OPENSSH PRIVATE KEY-----';
const magic = Buffer.from('openssh-key-v1\0', 'latin1');

/** node cipher name, key and IV lengths of the ciphers ssh-keygen may use with CTR or CBC. */
const ciphers: Record<string, {name: string; key: number; iv: number}> = {
	'aes256-ctr': {name: 'aes-256-ctr', key: 32, iv: 16},
	'aes192-ctr': {name: 'aes-192-ctr', key: 24, iv: 16},
	'aes128-ctr': {name: 'aes-128-ctr', key: 16, iv: 16},
	'aes256-cbc': {name: 'aes-256-cbc', key: 32, iv: 16},
	'aes192-cbc': {name: 'aes-192-cbc', key: 24, iv: 16},
	'aes128-cbc': {name: 'aes-128-cbc', key: 16, iv: 16},
};

/** True when `text` is a PEM file of some kind (an SSH private key, perhaps). */
export function isPem(text: string): boolean {
	return text.startsWith('-----BEGIN');
}

/** The `.pub` file beside a key file: its path (for messages) and its text, undefined when it cannot be read. */
export type PublicKeyFile = {path: string; text: string | undefined};

/** Whether `text` is a PEM private key encrypted in a way that hides its public key (needs FILE.pub). */
export function isEncryptedPem(text: string): boolean {
	const trimmed = text.trim();
	return trimmed.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----') || (/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed) && /^Proc-Type: 4,ENCRYPTED/m.test(trimmed));
}

/**
 * Read an SSH private key file's text; `publicKey` is the `.pub` file beside it, which an
 * encrypted PEM key needs. Throws a plain Error saying what is wrong (never quoting key material).
 */
export function readSshKeyFile(text: string, publicKey?: PublicKeyFile): SshKeyFile {
	const trimmed = text.trim();
	if (trimmed.startsWith(opensshBegin)) return readOpenssh(trimmed);
	if (isEncryptedPem(trimmed)) return readEncryptedPem(trimmed, publicKey);
	if (/^-----BEGIN (RSA |EC |DSA )?PRIVATE KEY-----/.test(trimmed)) return readPem(trimmed);
	throw new Error(`not an SSH private key (its first line is ${JSON.stringify(trimmed.split('\n')[0]!.slice(0, 40))})`);
}

function readOpenssh(text: string): SshKeyFile {
	const end = text.indexOf(opensshEnd);
	if (end === -1) throw new Error(`no "${opensshEnd}" line: the file is cut`);
	const body = Buffer.from(text.slice(opensshBegin.length, end).replaceAll(/\s+/g, ''), 'base64');
	if (!body.subarray(0, magic.length).equals(magic)) throw new Error('not an openssh-key-v1 key');
	const reader = new SshReader(body.subarray(magic.length));
	const cipher = reader.text();
	const kdf = reader.text();
	const kdfOptions = reader.string();
	const count = reader.uint32();
	if (count !== 1) throw new Error(`it holds ${count} keys; age reads files of one key`);
	const blob = Buffer.from(reader.string());
	const sealed = reader.string();
	const type = new SshReader(blob).text();
	if (cipher !== 'none' && !ciphers[cipher]) {
		throw new Error(`its passphrase protection (${cipher}) is not one cage reads; re-encrypt it with 'ssh-keygen -p -Z aes256-ctr -f FILE'`);
	}

	if (cipher !== 'none' && kdf !== 'bcrypt') throw new Error(`unknown key derivation ${kdf}`);
	return {
		type,
		blob,
		encrypted: cipher !== 'none',
		decrypt(passphrase?: string): SshPrivateKey {
			let plain = sealed;
			if (cipher !== 'none') {
				if (passphrase === undefined || passphrase === '') throw new WrongPassphraseError('the key is protected by a passphrase');
				const spec = ciphers[cipher]!;
				const options = new SshReader(kdfOptions);
				const salt = options.string();
				const rounds = options.uint32();
				const pass = Buffer.from(passphrase, 'utf8');
				const derived = new Uint8Array(spec.key + spec.iv);
				if (pbkdf(pass, pass.length, salt, salt.length, derived, derived.length, rounds) !== 0) throw new Error('bad key derivation parameters');
				const decipher = createDecipheriv(spec.name, derived.subarray(0, spec.key), derived.subarray(spec.key));
				decipher.setAutoPadding(false);
				plain = Buffer.concat([decipher.update(sealed), decipher.final()]);
			}

			const keys = new SshReader(plain);
			// Two equal random numbers: different after a wrong passphrase.
			if (keys.uint32() !== keys.uint32()) throw new WrongPassphraseError('wrong passphrase');
			const keyType = keys.text();
			if (keyType !== type) throw new Error('its private key does not match its public key');
			if (keyType === 'ssh-ed25519') {
				const publicKey = keys.string();
				const secret = keys.string();
				if (secret.length !== 64 || !secret.subarray(32).equals(publicKey) || !blob.equals(Buffer.concat([sshString('ssh-ed25519'), sshString(publicKey)]))) {
					throw new Error('malformed ssh-ed25519 private key');
				}

				return {type: 'ssh-ed25519', blob, seed: Buffer.from(secret.subarray(0, 32))};
			}

			if (keyType === 'ssh-rsa') {
				const [n, e, d, iqmp, p, q] = [keys.mpint(), keys.mpint(), keys.mpint(), keys.mpint(), keys.mpint(), keys.mpint()];
				return {type: 'ssh-rsa', blob, rsa: rsaPrivateKey({n, e, d, p, q, iqmp})};
			}

			throw new Error(`SSH keys of type ${keyType} are not supported by age (only ssh-ed25519 and ssh-rsa)`);
		},
	};
}

const big = (bytes: Buffer) => BigInt(`0x${bytes.toString('hex') || '0'}`);
const bytesOf = (value: bigint) => {
	const hex = value.toString(16);
	return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
};

/** An RSA private KeyObject from OpenSSH's fields (the CRT exponents computed from d, p and q). */
function rsaPrivateKey(fields: {n: Buffer; e: Buffer; d: Buffer; p: Buffer; q: Buffer; iqmp: Buffer}): KeyObject {
	const d = big(fields.d);
	const dp = d % (big(fields.p) - 1n);
	const dq = d % (big(fields.q) - 1n);
	const jwk = {
		kty: 'RSA',
		n: jwkInteger(fields.n),
		e: jwkInteger(fields.e),
		d: jwkInteger(fields.d),
		p: jwkInteger(fields.p),
		q: jwkInteger(fields.q),
		dp: jwkInteger(bytesOf(dp)),
		dq: jwkInteger(bytesOf(dq)),
		qi: jwkInteger(fields.iqmp),
	};
	try {
		return createPrivateKey({key: jwk, format: 'jwk'});
	} catch {
		throw new Error('malformed ssh-rsa private key');
	}
}

/** The SSH public key blob of a node key (RSA or Ed25519). */
function blobOf(key: KeyObject): {type: 'ssh-ed25519' | 'ssh-rsa'; blob: Buffer} {
	const jwk = key.export({format: 'jwk'});
	if (key.asymmetricKeyType === 'rsa') {
		const mpint = (value: string) => {
			const bytes = Buffer.from(value, 'base64url');
			return sshString(bytes[0]! & 0x80 ? Buffer.concat([Buffer.alloc(1), bytes]) : bytes);
		};

		return {type: 'ssh-rsa', blob: Buffer.concat([sshString('ssh-rsa'), mpint(jwk.e!), mpint(jwk.n!)])};
	}

	if (key.asymmetricKeyType === 'ed25519') return {type: 'ssh-ed25519', blob: Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.from(jwk.x!, 'base64url'))])};
	throw new Error(`keys of type ${key.asymmetricKeyType ?? 'unknown'} are not supported by age (only Ed25519 and RSA)`);
}

/**
 * An encrypted PEM key: its public key from FILE.pub (the file hides it until its passphrase is
 * given), checked against the private key once that is decrypted.
 */
function readEncryptedPem(text: string, publicKey: PublicKeyFile | undefined): SshKeyFile {
	const convert = "or convert the key to the OpenSSH format, which keeps its public key in the clear: 'ssh-keygen -p -f FILE'";
	if (!publicKey) throw new Error(`it is an encrypted PEM key, whose public key is hidden until its passphrase is given; ${convert}`);
	if (publicKey.text === undefined) {
		throw new Error(`it is an encrypted PEM key, whose public key is hidden until its passphrase is given, and ${publicKey.path} (where it would be read from, as age does) cannot be read; put the public key there, ${convert}`);
	}

	let declared: {type: string; blob: Buffer};
	try {
		declared = parseSshPublicKey(publicKey.text.trim().split('\n')[0] ?? '');
	} catch (error) {
		throw new Error(`it is an encrypted PEM key, and ${publicKey.path} does not hold its public key (${(error as Error).message})`);
	}

	const {type, blob} = declared;
	return {
		type,
		blob,
		encrypted: true,
		decrypt(passphrase?: string): SshPrivateKey {
			if (passphrase === undefined || passphrase === '') throw new WrongPassphraseError('the key is protected by a passphrase');
			let key: KeyObject;
			try {
				key = createPrivateKey({key: text, format: 'pem', passphrase});
			} catch {
				// A wrong passphrase fails the padding check, or (1 time in 256) leaves bytes that do not parse.
				throw new WrongPassphraseError('wrong passphrase');
			}

			const actual = blobOf(key);
			if (!actual.blob.equals(blob)) throw new Error(`${publicKey.path} is not the public key of this private key`);
			if (actual.type === 'ssh-rsa') return {type: actual.type, blob, rsa: key};
			return {type: actual.type, blob, seed: Buffer.from(key.export({format: 'jwk'}).d!, 'base64url')};
		},
	};
}

function readPem(text: string): SshKeyFile {
	let key: KeyObject;
	try {
		key = createPrivateKey({key: text, format: 'pem'});
	} catch {
		throw new Error('malformed PEM private key');
	}

	const {type, blob} = blobOf(key);
	return {
		type,
		blob,
		encrypted: false,
		decrypt(): SshPrivateKey {
			if (type === 'ssh-rsa') return {type, blob, rsa: key};
			const seed = Buffer.from(key.export({format: 'jwk'}).d!, 'base64url');
			return {type, blob, seed};
		},
	};
}
