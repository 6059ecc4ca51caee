/**
 * The SSH wire encoding (RFC 4251: uint32, string, mpint) that SSH public key blobs and
 * OpenSSH private keys are made of, and age's SSH key tag (the first 4 bytes of the SHA-256 of
 * the public key blob, unpadded base64).
 */
import {createHash} from 'node:crypto';

/** Reads fields from an SSH wire buffer; each read throws a plain Error when the buffer is short. */
export class SshReader {
	readonly #bytes: Buffer;
	#at = 0;

	constructor(bytes: Uint8Array) {
		this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
	}

	get done(): boolean {
		return this.#at >= this.#bytes.length;
	}

	/** The bytes not read yet. */
	rest(): Buffer {
		return this.#bytes.subarray(this.#at);
	}

	uint32(): number {
		if (this.#at + 4 > this.#bytes.length) throw new Error('truncated (a length field is cut)');
		const value = this.#bytes.readUInt32BE(this.#at);
		this.#at += 4;
		return value;
	}

	string(): Buffer {
		const length = this.uint32();
		if (this.#at + length > this.#bytes.length) throw new Error('truncated (a field is longer than what is left)');
		const value = this.#bytes.subarray(this.#at, this.#at + length);
		this.#at += length;
		return value;
	}

	text(): string {
		return this.string().toString('latin1');
	}

	/** An mpint's magnitude, without the sign byte (the values here are positive). */
	mpint(): Buffer {
		const value = this.string();
		let at = 0;
		while (at < value.length - 1 && value[at] === 0) at++;
		return value.subarray(at);
	}
}

/** An SSH wire string. */
export function sshString(value: Uint8Array | string): Buffer {
	const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
	const length = Buffer.alloc(4);
	length.writeUInt32BE(bytes.length);
	return Buffer.concat([length, bytes]);
}

/** The tag age puts in SSH stanzas to say which key a stanza is for. */
export function sshTag(publicKeyBlob: Uint8Array): string {
	return createHash('sha256').update(publicKeyBlob).digest().subarray(0, 4).toString('base64').replace(/=+$/, '');
}

/** Unpadded standard base64, as age writes stanza arguments. */
export function base64NoPadding(bytes: Uint8Array): string {
	return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64').replace(/=+$/, '');
}

/** Decodes unpadded canonical base64 (stanza arguments); undefined when it is not that. */
export function decodeBase64NoPadding(text: string): Buffer | undefined {
	if (!/^[A-Za-z\d+/]*$/.test(text)) return undefined;
	const bytes = Buffer.from(text, 'base64');
	return base64NoPadding(bytes) === text ? bytes : undefined;
}

/** Big-endian magnitude bytes as the unpadded base64url a JWK takes. */
export function jwkInteger(bytes: Uint8Array): string {
	return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
}
