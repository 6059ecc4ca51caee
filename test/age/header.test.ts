import {Readable} from 'node:stream';
import {randomBytes} from 'node:crypto';
import {Decrypter, Encrypter, generateX25519Identity, identityToRecipient, Stanza, type Identity, type Recipient} from 'age-encryption';
import {beforeAll, describe, expect, it} from 'vitest';
import {AgeFormatError, NoIdentityMatchError} from '../../source/age/errors.js';
import {createHeader, encodeHeader, headerLength, readHeader, readHeaderFromStream} from '../../source/age/header.js';
import {memoryReader} from './helpers.js';

let identity: string;
let recipient: string;
let file: Uint8Array;

beforeAll(async () => {
	identity = await generateX25519Identity();
	recipient = await identityToRecipient(identity);
	const encrypter = new Encrypter();
	encrypter.addRecipient(recipient);
	file = await encrypter.encrypt('hello');
});

async function errorOf(promise: Promise<unknown>): Promise<Error> {
	try {
		await promise;
	} catch (error) {
		return error as Error;
	}

	throw new Error('expected a rejection');
}

describe('headerLength', () => {
	it('finds the end of the header only once the MAC line is complete', () => {
		const end = Buffer.from(file).indexOf('\n---') + 1;
		const lineEnd = Buffer.from(file).indexOf('\n', end) + 1;
		expect(headerLength(file, 'x')).toBe(lineEnd);
		expect(headerLength(file.subarray(0, lineEnd - 1), 'x')).toBeUndefined();
		expect(headerLength(file.subarray(0, 5), 'x')).toBeUndefined();
	});

	it('tells armored and foreign files apart', () => {
		expect(() => headerLength(Buffer.from('-----BEGIN AGE ENCRYPTED FILE-----\n'), 'a.age')).toThrow(/a\.age is an ASCII-armored \(PEM\) age file, which is read as a stream/);
		expect(() => headerLength(Buffer.from('PK\u0003\u0004 zip'), 'z.zip')).toThrow('z.zip is not an age file (it does not start with "age-encryption.org/v1")');
	});
});

describe('readHeader', () => {
	it('returns the file key, nonce and payload offset of a library-made file', async () => {
		const header = await readHeader(memoryReader(file), {identities: [identity]}, 'f.age');
		expect(header.fileKey).toHaveLength(16);
		expect(header.nonce).toHaveLength(16);
		expect(header.payloadOffset).toBe(file.length - 5 - 16);
	});

	it('names the file in every failure', async () => {
		const other = await generateX25519Identity();
		expect(await errorOf(readHeader(memoryReader(new Uint8Array(0)), {identities: [identity]}, 'e.age'))).toMatchObject({name: 'AgeFormatError', message: 'e.age is empty, not an age file'});
		const headerOnly = file.subarray(0, Buffer.from(file).indexOf('\n---'));
		expect((await errorOf(readHeader(memoryReader(headerOnly), {identities: [identity]}, 't.age'))).message).toBe('t.age is truncated inside its age header');
		const noNonce = file.subarray(0, headerLength(file, 'x')! + 8);
		expect((await errorOf(readHeader(memoryReader(noNonce), {identities: [identity]}, 'n.age'))).message).toBe(
			'n.age is truncated: it ends right after its header, without the payload nonce',
		);
		const wrong = await errorOf(readHeader(memoryReader(file), {identities: [other]}, 'w.age'));
		expect(wrong).toBeInstanceOf(NoIdentityMatchError);
		expect(wrong.message).toMatch(/^w\.age: the identity given cannot open it/);
		const passphrase = await errorOf(readHeader(memoryReader(file), {passphrase: 'x'}, 'p.age'));
		expect(passphrase).toBeInstanceOf(NoIdentityMatchError);
		expect(passphrase.message).toBe('p.age: wrong passphrase, or the file was not encrypted with a passphrase (try -i IDENTITY_FILE)');
		const tampered = Buffer.from(file);
		tampered[Buffer.from(file).indexOf('\n---') + 6]! ^= 0x01;
		const mac = await errorOf(readHeader(memoryReader(tampered), {identities: [identity]}, 'm.age'));
		expect(mac).toBeInstanceOf(AgeFormatError);
		expect(mac.message).toMatch(/^m\.age: /);
	});

	it('reads the header from a stream split anywhere and hands back the rest', async () => {
		for (const piece of [1, 3, 64, 4096]) {
			const pieces: Buffer[] = [];
			for (let at = 0; at < file.length; at += piece) pieces.push(Buffer.from(file.subarray(at, at + piece)));
			const header = await readHeaderFromStream(Readable.from(pieces), {identities: [identity]}, 's');
			const onFile = await readHeader(memoryReader(file), {identities: [identity]});
			expect(Buffer.from(header.nonce).equals(Buffer.from(onFile.nonce))).toBe(true);
			expect(Buffer.from(header.fileKey).equals(Buffer.from(onFile.fileKey))).toBe(true);
			// `rest` is exactly the payload bytes that came with the last piece read.
			expect(Buffer.from(header.rest).equals(Buffer.from(file.subarray(onFile.payloadOffset, onFile.payloadOffset + header.rest.length)))).toBe(true);
			expect(onFile.payloadOffset + header.rest.length).toBe(Math.min(file.length, Math.ceil(onFile.payloadOffset / piece) * piece));
		}
	});
});

describe('createHeader', () => {
	it('refuses an empty recipient list', async () => {
		await expect(createHeader({recipients: []})).rejects.toThrow('createHeader: no recipients');
	});

	it('puts one stanza per distinct recipient and none of its own', async () => {
		const {header} = await createHeader({recipients: [recipient, recipient]});
		const text = Buffer.from(header).toString('latin1');
		expect(text.startsWith('age-encryption.org/v1\n')).toBe(true);
		expect(text.match(/^-> /gm)).toHaveLength(1);
		expect(text).toMatch(/\n--- [A-Za-z\d+/]{43}\n$/);
	});
});

describe('encodeHeader (the header cage puts together for its own recipients)', () => {
	/** The library's own header for these stanzas, and the file key it generated. */
	async function libraryHeader(stanzas: Stanza[]): Promise<{header: Buffer; fileKey: Uint8Array}> {
		let fileKey: Uint8Array | undefined;
		const recorder: Recipient = {
			wrapFileKey(key: Uint8Array) {
				fileKey = Uint8Array.from(key);
				return stanzas;
			},
		};
		const encrypter = new Encrypter();
		encrypter.addRecipient(recorder);
		const sealed = Buffer.from(await encrypter.encrypt(new Uint8Array(0)));
		// header || nonce (16) || empty final block (16)
		return {header: sealed.subarray(0, sealed.length - 32), fileKey: fileKey!};
	}

	const shapes: Array<[string, Stanza[]]> = [
		['an X25519-sized body (32 bytes)', [new Stanza(['X25519', 'abc'], randomBytes(32))]],
		['an empty body', [new Stanza(['empty'], new Uint8Array(0))]],
		['bodies of 47, 48 and 49 bytes', [new Stanza(['a'], randomBytes(47)), new Stanza(['b', 'x', 'y'], randomBytes(48)), new Stanza(['c'], randomBytes(49))]],
		['a body of 96 bytes and one of 384 (an ssh-rsa 3072-bit stanza)', [new Stanza(['d'], randomBytes(96)), new Stanza(['ssh-rsa', 'tag'], randomBytes(384))]],
	];

	for (const [name, stanzas] of shapes) {
		it(`is the library's header byte for byte: ${name}`, async () => {
			const {header, fileKey} = await libraryHeader(stanzas);
			expect(encodeHeader(stanzas, fileKey).equals(header)).toBe(true);
			// And the library opens it (its MAC checked) with an identity that takes the first stanza.
			const identity: Identity = {unwrapFileKey: found => (found[0]!.args[0] === stanzas[0]!.args[0] ? fileKey : null)};
			const decrypter = new Decrypter();
			decrypter.addIdentity(identity);
			expect(Buffer.from(await decrypter.decryptHeader(encodeHeader(stanzas, fileKey))).equals(Buffer.from(fileKey))).toBe(true);
		});
	}

	it('a header under another file key, or with one byte changed, fails its MAC', async () => {
		const stanzas = [new Stanza(['X25519', 'abc'], randomBytes(32))];
		const fileKey = randomBytes(16);
		const identity: Identity = {unwrapFileKey: () => fileKey};
		const decrypter = new Decrypter();
		decrypter.addIdentity(identity);
		const header = encodeHeader(stanzas, randomBytes(16));
		await expect(decrypter.decryptHeader(header)).rejects.toThrow(/MAC/i);
		const good = encodeHeader(stanzas, fileKey);
		const at = good.indexOf('X25519');
		good[at] = good[at]! ^ 0x20;
		await expect(decrypter.decryptHeader(good)).rejects.toThrow(/MAC/i);
	});

	it('createHeader to X25519 recipients: the library opens it with each identity, and each file gets its own key and nonce', async () => {
		const other = await generateX25519Identity();
		const first = await createHeader({recipients: [recipient, await identityToRecipient(other)]});
		const second = await createHeader({recipients: [recipient]});
		for (const key of [identity, other]) {
			const decrypter = new Decrypter();
			decrypter.addIdentity(key);
			expect(Buffer.from(await decrypter.decryptHeader(first.header)).equals(Buffer.from(first.fileKey))).toBe(true);
		}

		expect(Buffer.from(first.fileKey).equals(Buffer.from(second.fileKey))).toBe(false);
		expect(Buffer.from(first.nonce).equals(Buffer.from(second.nonce))).toBe(false);
		expect(first.nonce).toHaveLength(16);
	});
});
