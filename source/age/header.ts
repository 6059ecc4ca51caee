/**
 * The age header through `age-encryption` (typage): recipients wrap the file key, identities and
 * passphrases unwrap it, and the library computes and verifies the header MAC. cage only needs
 * the file key and the payload nonce back, to run the payload STREAM natively.
 *
 * - Encryption: a recording `Recipient` (the library's public interface) sees the file key that
 *   the library generates and adds no stanza of its own; the library encrypts an empty payload,
 *   so its output is `header || nonce || one empty final block`.
 * - Passphrases: the library's scrypt recipient replaces all others, so the file key is recovered
 *   with `Decrypter.decryptHeader` on the header it just wrote.
 * - Recipients that are all cage's own (X25519 with node's crypto, SSH keys) wrap the file key
 *   synchronously, and then the header is put together here (`encodeHeader`: the library's
 *   encoding, line for line) with its MAC from node's HKDF and HMAC. The library's `encrypt` builds
 *   web streams and computes HMAC-SHA-256 in JavaScript for the empty payload it is given: about
 *   0.3 ms a file, a fifth of what a batch of small files spent on each. Its `Decrypter` opens
 *   these headers like its own (tested, as is `age -d`).
 * - Decryption: cage finds where the header ends (the `--- MAC` line) and hands exactly those
 *   bytes to `Decrypter.decryptHeader`, which parses them, unwraps and checks the MAC.
 */
import {createHmac, hkdfSync, randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import {Decrypter, Encrypter, type Identity, type Recipient, type Stanza} from 'age-encryption';
import {parseSshPublicKey, sshRecipient} from './ssh-recipients.js';
import {NodeX25519Recipient, x25519PublicKey} from './x25519-recipient.js';
import {base64NoPadding} from './ssh-wire.js';
import {AgeFormatError, IdentityError, NoIdentityMatchError} from './errors.js';
import {collect, streamOf} from './library-io.js';
import {nonceSize, plaintextSizeOf, tagSize} from './stream.js';

/** Who can open a file: recipients (`age1…`, `age1pq1…`, `ssh-ed25519 …`, `ssh-rsa …`) or a passphrase. */
export type HeaderTarget = {recipients: string[]; passphrase?: undefined} | {passphrase: string; recipients?: undefined};

/** What opens a file: identities (`AGE-SECRET-KEY-1…`, `AGE-SECRET-KEY-PQ-1…`, or Identity objects such as SSH keys) or a passphrase. */
export type HeaderKey = {identities: Array<string | Identity>; passphrase?: undefined} | {passphrase: string; identities?: undefined};

/** The first line of every age file. */
export const ageMagic = 'age-encryption.org/v1\n';

/** The largest header cage reads (thousands of recipients fit; anything larger is not an age file). */
export const maxHeaderSize = 16 * 1024 * 1024;

/** scrypt work factor for new passphrase files (age's default). */
const scryptLogN = 18;

/** What `createHeader` adds for a recipient string: one of cage's own Recipients, or the string for the library. */
function recipientOf(recipient: string): Recipient | string {
	if (recipient.startsWith('ssh-')) return sshRecipient(parseSshPublicKey(recipient));
	const x25519 = x25519PublicKey(recipient);
	return x25519 ? new NodeX25519Recipient(x25519) : recipient;
}

/** Recipients made so far, by their strings: a batch encrypts every file to the same ones. */
const madeRecipients = new Map<string, Recipient | string>();

function recipientFor(recipient: string): Recipient | string {
	let made = madeRecipients.get(recipient);
	if (made === undefined) {
		made = recipientOf(recipient);
		madeRecipients.set(recipient, made);
	}

	return made;
}

/**
 * An age header's bytes for `stanzas`, its MAC keyed by `fileKey`: the library's encoding
 * (format.js, encodeHeader), each stanza's body in base64 lines of 48 bytes, a body of a multiple
 * of 48 bytes ended by an empty line; the MAC is HMAC-SHA-256 under HKDF-SHA-256(fileKey, salt
 * empty, "header") over everything up to and including `---` (age's spec, "Header").
 */
export function encodeHeader(stanzas: Stanza[], fileKey: Uint8Array): Buffer {
	let text = 'age-encryption.org/v1\n';
	for (const stanza of stanzas) {
		text += `-> ${stanza.args.join(' ')}\n`;
		for (let at = 0; at < stanza.body.length; at += 48) text += `${base64NoPadding(stanza.body.subarray(at, at + 48))}\n`;
		if (stanza.body.length % 48 === 0) text += '\n';
	}

	text += '---';
	const macKey = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
	const mac = createHmac('sha256', macKey).update(text).digest();
	return Buffer.from(`${text} ${base64NoPadding(mac)}\n`);
}

/** A new header: its bytes, the file key it wraps and a fresh payload nonce. */
export async function createHeader(target: HeaderTarget): Promise<{header: Uint8Array; fileKey: Uint8Array; nonce: Uint8Array}> {
	if (target.passphrase === undefined && target.recipients.length > 0) {
		const own = [...new Set(target.recipients)].map(recipient => recipientFor(recipient));
		if (own.every(recipient => typeof recipient !== 'string')) {
			// All cage's own: they wrap synchronously (their wrapFileKey returns the stanzas).
			const fileKey = randomBytes(16);
			const stanzas = own.flatMap(recipient => (recipient as Recipient).wrapFileKey(fileKey) as Stanza[]);
			return {header: encodeHeader(stanzas, fileKey), fileKey, nonce: randomBytes(nonceSize)};
		}
	}

	const encrypter = new Encrypter();
	let captured: Uint8Array | undefined;
	if (target.passphrase === undefined) {
		if (target.recipients.length === 0) throw new Error('createHeader: no recipients');
		const recorder: Recipient = {
			wrapFileKey(fileKey: Uint8Array): Stanza[] {
				captured = Uint8Array.from(fileKey);
				return [];
			},
		};
		encrypter.addRecipient(recorder);
		// SSH public keys are recipients of cage's own (age-encryption has none), and so are X25519 ones
		// (x25519-recipient.ts: node's synchronous X25519, not WebCrypto's thread-pool round trips);
		// the rest (post-quantum hybrids) the library's.
		for (const recipient of new Set(target.recipients)) encrypter.addRecipient(recipientFor(recipient));
	} else {
		encrypter.setPassphrase(target.passphrase);
		encrypter.setScryptWorkFactor(scryptLogN);
	}

	const sealed = await collect(await encrypter.encrypt(streamOf(new Uint8Array(0))));
	// header || nonce (16) || empty final block (16-byte tag)
	const headerEnd = sealed.length - tagSize - nonceSize;
	const header = sealed.slice(0, headerEnd);
	const nonce = sealed.slice(headerEnd, headerEnd + nonceSize);
	if (captured === undefined) {
		const decrypter = new Decrypter();
		decrypter.addPassphrase(target.passphrase!);
		captured = await decrypter.decryptHeader(header);
	}

	return {header, fileKey: captured, nonce};
}

/** The first `bytes` bytes of `file` (fewer when it is shorter; none when it cannot be read). */
export async function readStart(file: string, bytes: number): Promise<Buffer> {
	return (await readHead(file, bytes))?.head ?? Buffer.alloc(0);
}

/** The first `bytes` bytes of `file` and its size, or null when it cannot be read. */
async function readHead(file: string, bytes: number): Promise<{head: Buffer; size: number} | null> {
	try {
		const handle = await fs.open(file, 'r');
		try {
			const {size} = await handle.stat();
			const {buffer, bytesRead} = await handle.read(Buffer.alloc(bytes), 0, bytes, 0);
			return {head: buffer.subarray(0, bytesRead), size};
		} finally {
			await handle.close();
		}
	} catch {
		return null;
	}
}

/**
 * The plaintext size of the age file `file` (its header read from the start of the file), or null
 * when it cannot be told here; the decryption then reports what is wrong with the file.
 */
export async function plaintextSizeOfFile(file: string): Promise<number | null> {
	const read = await readHead(file, 64 * 1024);
	if (!read) return null;
	try {
		const length = headerLength(read.head, file);
		return length === undefined ? null : plaintextSizeOf(read.size - length - nonceSize, file);
	} catch {
		return null;
	}
}

/**
 * Refuse what cannot be an age file from its first bytes (`head`, of `name`): not the age
 * version line, or ASCII armor. Fewer bytes than the version line (or none) pass: the decryption
 * says what is wrong with a file that short.
 * @throws AgeFormatError naming `name`.
 */
export function checkAgeStart(head: Uint8Array, name: string): void {
	headerLength(head.subarray(0, Math.min(head.length, ageMagic.length)), name);
}

/**
 * `checkAgeStart` for the file `file`, read from its start. A file that cannot be read passes:
 * the decryption reports why, as for any other input.
 */
export async function checkAgeFileStart(file: string): Promise<void> {
	const read = await readHead(file, ageMagic.length);
	if (read) checkAgeStart(read.head, file);
}

/** How every header of an age file encrypted with a passphrase starts. */
export const passphraseHeaderStart = `${ageMagic}-> scrypt `;

/** True when `head`, the start of an age file, is the start of a passphrase-encrypted one. */
export function isPassphraseHeader(head: Uint8Array): boolean {
	// age allows an scrypt stanza only as the header's one stanza, right after the version line.
	return Buffer.from(head.buffer, head.byteOffset, head.length).toString('latin1').startsWith(passphraseHeaderStart);
}

/**
 * The length of the header at the start of `bytes` (through the newline after the MAC), or
 * undefined when `bytes` does not yet hold all of it.
 * @throws AgeFormatError when the bytes cannot be an age header.
 */
export function headerLength(bytes: Uint8Array, name: string): number | undefined {
	const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, ageMagic.length)).toString('latin1');
	if (!ageMagic.startsWith(head)) {
		if (head.startsWith('-----BEGIN')) throw new AgeFormatError(`${name} is an ASCII-armored (PEM) age file, which is read as a stream, not in chunks: decrypt it with 'cage decrypt' (or through dearmor() and decryptStream)`);
		throw new AgeFormatError(`${name} is not an age file (it does not start with "age-encryption.org/v1")`);
	}

	if (bytes.length < ageMagic.length) return undefined;
	const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
	// The MAC line is the first line starting with "---" (stanza lines start with "-> " or are base64).
	let from = ageMagic.length - 1;
	for (;;) {
		const at = buffer.indexOf('\n---', from, 'latin1');
		if (at === -1) {
			if (bytes.length > maxHeaderSize) throw new AgeFormatError(`${name} is not an age file (no header end in its first ${maxHeaderSize} bytes)`);
			return undefined;
		}

		if (buffer[at + 4] === 0x2d) {
			// "\n----": not a MAC line; keep looking (a malformed header is rejected by the library).
			from = at + 1;
			continue;
		}

		const end = buffer.indexOf('\n', at + 1);
		if (end === -1) return undefined;
		return end + 1;
	}
}

/** Turn the library's errors into messages that say what is wrong with which file. */
async function unwrap(header: Uint8Array, key: HeaderKey, name: string): Promise<Uint8Array> {
	const decrypter = new Decrypter();
	if (key.passphrase === undefined) for (const identity of key.identities) decrypter.addIdentity(identity);
	else decrypter.addPassphrase(key.passphrase);
	try {
		return await decrypter.decryptHeader(header);
	} catch (error) {
		// An SSH key's own refusal (a wrong passphrase) already names its file.
		if (error instanceof IdentityError) throw error;
		const message = (error as Error).message;
		if (message.includes('no identity matched')) {
			throw new NoIdentityMatchError(
				key.passphrase === undefined
					? `${name}: ${key.identities.length === 1 ? 'the identity given cannot' : `none of the ${key.identities.length} identities given can`} open it (encrypted to other recipients, or with a passphrase: try -p)`
					: `${name}: wrong passphrase, or the file was not encrypted with a passphrase (try -i IDENTITY_FILE)`,
			);
		}

		if (message.includes('invalid header HMAC')) throw new AgeFormatError(`${name}: the header MAC does not match: the header was modified or is corrupt`);
		throw new AgeFormatError(`${name}: invalid age header (${message})`);
	}
}

/** The file key, payload nonce and where the payload starts, read by position from a file. */
export async function readHeader(
	read: (buffer: Uint8Array, offset: number, length: number, position: number) => Promise<number>,
	key: HeaderKey,
	name = 'the input',
): Promise<{fileKey: Uint8Array; nonce: Uint8Array; payloadOffset: number}> {
	let buffer = Buffer.alloc(0);
	let length: number | undefined;
	let eof = false;
	while (length === undefined || buffer.length < length + nonceSize) {
		if (eof) {
			if (length === undefined) {
				if (buffer.length === 0) throw new AgeFormatError(`${name} is empty, not an age file`);
				throw new AgeFormatError(`${name} is truncated inside its age header`);
			}

			throw new AgeFormatError(`${name} is truncated: it ends right after its header, without the payload nonce`);
		}

		const more = Buffer.allocUnsafe(buffer.length < 4096 ? 4096 : buffer.length);
		const got = await read(more, 0, more.length, buffer.length);
		if (got === 0) eof = true;
		buffer = Buffer.concat([buffer, more.subarray(0, got)]);
		length ??= headerLength(buffer, name);
	}

	const fileKey = await unwrap(buffer.subarray(0, length), key, name);
	return {fileKey, nonce: Uint8Array.from(buffer.subarray(length, length + nonceSize)), payloadOffset: length + nonceSize};
}

/**
 * The same from a stream: consumes the header and nonce from `chunks` (without closing it) and
 * returns the bytes read past them in `rest`.
 */
export async function readHeaderFromStream(
	chunks: AsyncIterable<Uint8Array>,
	key: HeaderKey,
	name = 'stdin',
): Promise<{fileKey: Uint8Array; nonce: Uint8Array; rest: Uint8Array}> {
	const iterator = chunks[Symbol.asyncIterator]();
	let buffer = Buffer.alloc(0);
	let length: number | undefined;
	while (length === undefined || buffer.length < length + nonceSize) {
		const next = await iterator.next();
		if (next.done) {
			if (length === undefined) throw new AgeFormatError(buffer.length === 0 ? `${name} is empty, not an age file` : `${name} is truncated inside its age header`);
			throw new AgeFormatError(`${name} is truncated: it ends right after its header, without the payload nonce`);
		}

		buffer = Buffer.concat([buffer, next.value]);
		length ??= headerLength(buffer, name);
	}

	const fileKey = await unwrap(buffer.subarray(0, length), key, name);
	return {fileKey, nonce: Uint8Array.from(buffer.subarray(length, length + nonceSize)), rest: Uint8Array.from(buffer.subarray(length + nonceSize))};
}
