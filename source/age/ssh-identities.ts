/**
 * SSH private keys as age identities (`-i ~/.ssh/id_ed25519`), built on `age-encryption`'s
 * `Identity` interface: the library hands `unwrapFileKey` every stanza of the header.
 *
 * As in age, a stanza is an SSH key's own when its type and tag (a hash of the public key)
 * match; only then is an encrypted key's passphrase asked for, once, and the key decrypted.
 */
import {constants, createDecipheriv, hkdfSync, privateDecrypt} from 'node:crypto';
import {ed25519, x25519} from '@noble/curves/ed25519.js';
import type {Identity, Stanza} from 'age-encryption';
import {IdentityError} from './errors.js';
import {WrongPassphraseError, type SshKeyFile, type SshPrivateKey} from './openssh-key.js';
import {ed25519Label, ed25519Tweak, rsaLabel} from './ssh-recipients.js';
import {decodeBase64NoPadding, sshTag} from './ssh-wire.js';

/** Asks for a secret on the terminal; `prompt` says for what. */
export type AskSecret = (prompt: string) => Promise<string>;

function unwrapEd25519(key: SshPrivateKey & {type: 'ssh-ed25519'}, stanza: Stanza, where: string): Uint8Array {
	const ephemeral = decodeBase64NoPadding(stanza.args[2]!);
	if (ephemeral?.length !== 32) throw new IdentityError(`${where}: the file's ssh-ed25519 stanza is malformed (its share is not 32 bytes)`);
	if (stanza.body.length !== 32) throw new IdentityError(`${where}: the file's ssh-ed25519 stanza is malformed (its body is not a wrapped file key)`);
	const secret = ed25519.utils.toMontgomerySecret(key.seed);
	const ours = x25519.getPublicKey(secret);
	let shared: Uint8Array;
	try {
		shared = x25519.scalarMult(ed25519Tweak(key.blob), x25519.getSharedSecret(secret, ephemeral));
	} catch {
		throw new IdentityError(`${where}: the file's ssh-ed25519 stanza is malformed (a low-order share)`);
	}

	const wrapping = hkdfSync('sha256', shared, Buffer.concat([ephemeral, ours]), ed25519Label, 32);
	const decipher = createDecipheriv('chacha20-poly1305', Buffer.from(wrapping), Buffer.alloc(12), {authTagLength: 16});
	decipher.setAuthTag(stanza.body.subarray(16));
	try {
		return new Uint8Array(Buffer.concat([decipher.update(stanza.body.subarray(0, 16)), decipher.final()]));
	} catch {
		throw new IdentityError(`${where}: the file key in the file's ssh-ed25519 stanza for this key does not decrypt (the header is damaged)`);
	}
}

function unwrapRsa(key: SshPrivateKey & {type: 'ssh-rsa'}, stanza: Stanza, where: string): Uint8Array {
	try {
		return new Uint8Array(privateDecrypt({key: key.rsa, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from(rsaLabel)}, stanza.body));
	} catch {
		throw new IdentityError(`${where}: the file key in the file's ssh-rsa stanza for this key does not decrypt (the header is damaged)`);
	}
}

/**
 * The identity of an SSH private key file; `file` names it in errors and in the passphrase
 * prompt, `ask` asks for the passphrase of an encrypted key.
 */
export class SshIdentity implements Identity {
	readonly #keyFile: SshKeyFile;
	readonly #file: string;
	readonly #ask: AskSecret;
	readonly #tag: string;
	#key: SshPrivateKey | undefined;

	constructor(keyFile: SshKeyFile, file: string, ask: AskSecret) {
		this.#keyFile = keyFile;
		this.#file = file;
		this.#ask = ask;
		this.#tag = sshTag(keyFile.blob);
		if (!keyFile.encrypted) this.#key = this.#decrypt();
	}

	/** The key type, `ssh-ed25519` or `ssh-rsa`. */
	get type(): string {
		return this.#keyFile.type;
	}

	/** The public key blob. */
	get blob(): Buffer {
		return this.#keyFile.blob;
	}

	#decrypt(passphrase?: string): SshPrivateKey {
		try {
			return this.#keyFile.decrypt(passphrase);
		} catch (error) {
			if (error instanceof WrongPassphraseError) throw new IdentityError(`-i ${this.#file}: wrong passphrase for the SSH key`);
			throw new IdentityError(`-i ${this.#file}: ${(error as Error).message}`);
		}
	}

	/** True when one of `stanzas` is for this key (its type and tag). */
	isFor(stanzas: Array<{args: string[]}>): boolean {
		return stanzas.some(({args}) => args[0] === this.#keyFile.type && args[1] === this.#tag);
	}

	/** True when the key still needs its passphrase. */
	get locked(): boolean {
		return this.#key === undefined;
	}

	/** Ask for the passphrase and decrypt the key now (before a job's dashboard takes the terminal). */
	async unlock(): Promise<void> {
		this.#key ??= this.#decrypt(await this.#ask(`Enter passphrase for "${this.#file}": `));
	}

	async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
		const where = `-i ${this.#file}`;
		for (const stanza of stanzas) {
			const [type, tag] = stanza.args;
			if (type !== this.#keyFile.type) continue;
			if (type === 'ssh-ed25519' && stanza.args.length !== 3) throw new IdentityError(`${where}: the file has a malformed ssh-ed25519 stanza (${stanza.args.length - 1} arguments, not 2)`);
			if (type === 'ssh-rsa' && stanza.args.length !== 2) throw new IdentityError(`${where}: the file has a malformed ssh-rsa stanza (${stanza.args.length - 1} arguments, not 1)`);
			if (tag !== this.#tag) continue;
			await this.unlock();
			const key = this.#key!;
			return key.type === 'ssh-ed25519' ? unwrapEd25519(key, stanza, where) : unwrapRsa(key, stanza, where);
		}

		return null;
	}
}

/**
 * Ask for the passphrases of the encrypted SSH keys among `identities` that a file is for, given
 * its header's stanzas; all of them when the header could not be read ahead (`null`).
 */
export async function unlockSshIdentities(identities: readonly unknown[], stanzas: Array<{args: string[]}> | null): Promise<void> {
	for (const identity of identities) {
		if (identity instanceof SshIdentity && identity.locked && (stanzas === null || identity.isFor(stanzas))) await identity.unlock();
	}
}

/** True when one of `identities` is an SSH key still waiting for its passphrase. */
export function hasLockedSshIdentity(identities: readonly unknown[]): boolean {
	return identities.some(identity => identity instanceof SshIdentity && identity.locked);
}
