import {Readable} from 'node:stream';
import {Encrypter, generateX25519Identity, identityToRecipient} from 'age-encryption';
import {beforeAll, describe, expect, it} from 'vitest';
import {AgeFormatError, NoIdentityMatchError} from '../../source/age/errors.js';
import {createHeader, headerLength, readHeader, readHeaderFromStream} from '../../source/age/header.js';
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
