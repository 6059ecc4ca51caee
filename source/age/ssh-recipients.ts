/**
 * SSH public keys as age recipients (C2SP age, "ssh-ed25519" and "ssh-rsa" recipient types),
 * built on `age-encryption`'s `Recipient` interface: the library calls `wrapFileKey` with the
 * file key and writes the stanzas these return.
 *
 * - ssh-rsa: RSA-OAEP with SHA-256 and the label "age-encryption.org/v1/ssh-rsa" (node's crypto).
 * - ssh-ed25519: the Ed25519 key's Montgomery form (@noble/curves) as an X25519 recipient, the
 *   shared secret tweaked with a key derived from the public key blob, then HKDF-SHA256 and
 *   ChaCha20-Poly1305 (node's crypto), as age's agessh package does.
 */
import {constants, createCipheriv, createPublicKey, hkdfSync, publicEncrypt, randomBytes, type KeyObject} from 'node:crypto';
import {ed25519, x25519} from '@noble/curves/ed25519.js';
import {Stanza, type Recipient} from 'age-encryption';
import {SshReader, base64NoPadding, jwkInteger, sshTag} from './ssh-wire.js';

/** The HKDF info and OAEP label of each type. */
export const ed25519Label = 'age-encryption.org/v1/ssh-ed25519';
export const rsaLabel = 'age-encryption.org/v1/ssh-rsa';

/** The SSH key types age encrypts to. */
export type SshKeyType = 'ssh-ed25519' | 'ssh-rsa';

/** A parsed SSH public key: its type, wire blob, and the key material the recipient needs. */
export type SshPublicKey = {type: SshKeyType; blob: Buffer; ed25519?: Buffer; rsa?: KeyObject};

/** Why an SSH public key line is not one cage can encrypt to. */
export class SshKeyError extends Error {
	override name = 'SshKeyError';
	/** Set when the key is valid but of a type age does not encrypt to (age skips those in -R files). */
	readonly unsupportedType: string | undefined;
	constructor(message: string, unsupportedType?: string) {
		super(message);
		this.unsupportedType = unsupportedType;
	}
}

/** Parse an SSH public key wire blob (ssh-ed25519 or ssh-rsa). */
export function parseSshPublicKeyBlob(blob: Buffer): SshPublicKey {
	let type: string;
	try {
		const reader = new SshReader(blob);
		type = reader.text();
		if (type === 'ssh-ed25519') {
			const key = reader.string();
			if (key.length !== 32 || !reader.done) throw new Error('an ssh-ed25519 key is 32 bytes');
			try {
				ed25519.Point.fromBytes(key);
			} catch {
				throw new Error('not a point on the Ed25519 curve');
			}

			return {type, blob, ed25519: Buffer.from(key)};
		}

		if (type === 'ssh-rsa') {
			const e = reader.mpint();
			const n = reader.mpint();
			if (!reader.done) throw new Error('extra bytes after the key');
			if (n.length * 8 < 1024) throw new Error(`an RSA key of ${n.length * 8} bits is too small`);
			return {type, blob, rsa: createPublicKey({key: {kty: 'RSA', n: jwkInteger(n), e: jwkInteger(e)}, format: 'jwk'})};
		}
	} catch (error) {
		throw new SshKeyError(`malformed SSH public key (${(error as Error).message})`);
	}

	throw new SshKeyError(`SSH keys of type ${type} are not supported by age (only ssh-ed25519 and ssh-rsa)`, type);
}

/**
 * Parse an SSH public key line as age does (`ssh-ed25519 AAAA… comment`, the way `.pub` files and
 * authorized_keys lines without options hold them): the key's type comes from its blob.
 */
export function parseSshPublicKey(line: string): SshPublicKey {
	const fields = line.trim().split(/[ \t]+/);
	if (fields.length < 2) throw new SshKeyError('an SSH public key is "TYPE BASE64 [COMMENT]"; this has no key after its type');
	const encoded = fields[1]!;
	const blob = Buffer.from(encoded, 'base64');
	if (!/^[A-Za-z\d+/]+={0,2}$/.test(encoded) || blob.length === 0) throw new SshKeyError('the key field is not base64');
	return parseSshPublicKeyBlob(blob);
}

/** The canonical text of a key: "TYPE BASE64", no comment (what cage stores and compares). */
export function sshPublicKeyText(key: {type: string; blob: Buffer}): string {
	return `${key.type} ${key.blob.toString('base64')}`;
}

/** An ssh-rsa recipient. */
export class SshRsaRecipient implements Recipient {
	readonly #key: SshPublicKey & {rsa: KeyObject};

	constructor(key: SshPublicKey) {
		if (key.type !== 'ssh-rsa' || !key.rsa) throw new TypeError('SshRsaRecipient: not an ssh-rsa key');
		this.#key = key as SshPublicKey & {rsa: KeyObject};
	}

	wrapFileKey(fileKey: Uint8Array): Stanza[] {
		const body = publicEncrypt({key: this.#key.rsa, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from(rsaLabel)}, fileKey);
		return [new Stanza(['ssh-rsa', sshTag(this.#key.blob)], new Uint8Array(body))];
	}
}

/** The ssh-ed25519 tweak: HKDF-SHA256 with no secret, the key blob as salt, the label as info. */
export function ed25519Tweak(blob: Uint8Array): Uint8Array {
	return new Uint8Array(hkdfSync('sha256', new Uint8Array(0), blob, ed25519Label, 32));
}

/** ChaCha20-Poly1305 with a zero nonce, as age wraps file keys. */
export function wrapKey(key: Uint8Array, fileKey: Uint8Array): Uint8Array {
	const cipher = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), {authTagLength: 16});
	return new Uint8Array(Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]));
}

/** An ssh-ed25519 recipient. */
export class SshEd25519Recipient implements Recipient {
	readonly #blob: Buffer;
	readonly #theirs: Uint8Array;

	constructor(key: SshPublicKey) {
		if (key.type !== 'ssh-ed25519' || !key.ed25519) throw new TypeError('SshEd25519Recipient: not an ssh-ed25519 key');
		this.#blob = key.blob;
		this.#theirs = ed25519.utils.toMontgomery(key.ed25519);
	}

	wrapFileKey(fileKey: Uint8Array): Stanza[] {
		const ephemeral = randomBytes(32);
		const ours = x25519.getPublicKey(ephemeral);
		const shared = x25519.scalarMult(ed25519Tweak(this.#blob), x25519.getSharedSecret(ephemeral, this.#theirs));
		const key = hkdfSync('sha256', shared, Buffer.concat([ours, this.#theirs]), ed25519Label, 32);
		return [new Stanza(['ssh-ed25519', sshTag(this.#blob), base64NoPadding(ours)], wrapKey(new Uint8Array(key), fileKey))];
	}
}

/** The age recipient of an SSH public key. */
export function sshRecipient(key: SshPublicKey): Recipient {
	return key.type === 'ssh-rsa' ? new SshRsaRecipient(key) : new SshEd25519Recipient(key);
}
