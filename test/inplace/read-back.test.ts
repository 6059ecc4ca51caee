/**
 * The lock's read-back: every block of an age file authenticated with its payload key, from the
 * device where O_DIRECT works (the temp directory's disk) and from the cache on tmpfs; a changed
 * byte, a cut or trailing data anywhere is caught.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {readHeader} from '../../source/age/header.js';
import {readIdentityFiles} from '../../source/age/keys.js';
import {encryptRange, payloadKey} from '../../source/age/stream.js';
import {deviceReadBackPossible, hashTags, proofOf, readBack, readBackPlainRange, readBackRange} from '../../source/inplace/read-back.js';
import {cage, makeSandbox, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-read-back-');
const {dir, env} = sandbox;
const shm = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/cage-read-back-') : undefined;
afterAll(() => {
	sandbox.cleanup();
	if (shm) fs.rmSync(shm, {recursive: true, force: true});
});

const key = path.join(dir, 'key.txt');
let recipient = '';
beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
});

/** An age file of `size` random bytes in `where`, with its payload key. */
async function ageFile(where: string, name: string, size: number): Promise<{file: string; payload: {key: Buffer; offset: number}}> {
	const plain = path.join(where, name);
	writeRandomFile(plain, size);
	expect(cage(['encrypt', plain, '-r', recipient, '-o', `${plain}.age`, '--progress', 'none', '--no-audit'], {env}).status).toBe(0);
	const bytes = fs.readFileSync(`${plain}.age`);
	const identities = await readIdentityFiles([key]);
	const header = await readHeader(async (buffer, offset, length, position) => {
		const slice = bytes.subarray(position, position + length);
		Buffer.from(slice).copy(buffer as Buffer, offset);
		return slice.length;
	}, {identities}, plain);
	return {file: `${plain}.age`, payload: {key: payloadKey(header.fileKey, header.nonce), offset: header.payloadOffset}};
}

const places = [['the temp directory', () => dir] as const, ...(shm ? [['tmpfs', () => shm] as const] : [])];

describe.each(places)('readBack in %s', (_name, where) => {
	it.each([0, 1, 65_536, 65_537, 9 * 1024 * 1024 + 12_345])('authenticates a %i-byte file, and names its source', async size => {
		const {file, payload} = await ageFile(where(), `f${size}`, size);
		const result = await readBack(file, payload);
		expect(result.source).toBe(deviceReadBackPossible(where()) ? 'device' : 'cache');
		expect(result.blocks).toBe(Math.max(1, Math.ceil(size / 65_536)));
	});

	it('catches a changed byte anywhere, a cut, trailing data, and the wrong key', async () => {
		const {file, payload} = await ageFile(where(), 'damaged', 3 * 1024 * 1024 + 7);
		const original = fs.readFileSync(file);
		for (const at of [payload.offset, payload.offset + 65_552 * 20 + 3, original.length - 1]) {
			const changed = Buffer.from(original);
			changed[at]! ^= 1;
			fs.writeFileSync(file, changed);
			await expect(readBack(file, payload)).rejects.toThrow(/authentication|truncated|trailing/);
		}

		fs.writeFileSync(file, original.subarray(0, original.length - 65_552));
		await expect(readBack(file, payload)).rejects.toThrow();
		fs.writeFileSync(file, Buffer.concat([original, Buffer.alloc(65_552)]));
		await expect(readBack(file, payload)).rejects.toThrow();
		fs.writeFileSync(file, original);
		await expect(readBack(file, {...payload, key: Buffer.alloc(32)})).rejects.toThrow(/authentication/);
		await expect(readBack(file, payload)).resolves.toMatchObject({blocks: 49});
	});

	it('a range of blocks (a --low-space chunk) is checked on its own', async () => {
		const {file, payload} = await ageFile(where(), 'range', 1024 * 1024 + 100);
		const block = 65_552;
		await expect(readBackRange(file, payload.key, {start: payload.offset + 4 * block, end: payload.offset + 8 * block, counter: 4, final: false})).resolves.toMatchObject({blocks: 4});
		await expect(readBackRange(file, payload.key, {start: payload.offset + 4 * block, end: payload.offset + 8 * block, counter: 5, final: false})).rejects.toThrow(/authentication/);
		const size = fs.statSync(file).size;
		await expect(readBackRange(file, payload.key, {start: payload.offset + 16 * block, end: size, counter: 16, final: true})).resolves.toMatchObject({blocks: 1});
	});

	it('a plaintext range (a --low-space unlock chunk) is proved span by span against the tags of its ciphertext, in a sparse file too', async () => {
		const plain = Buffer.alloc(300_000);
		for (let index = 0; index < plain.length; index++) plain[index] = (index * 7) % 251;
		const cipherKey = Buffer.alloc(32, 9);
		const spans = [
			{start: 65_536, end: 196_608, final: false},
			{start: 196_608, end: plain.length, final: true},
		];
		const proof = proofOf(spans.map(span => hashTags(encryptRange(cipherKey, plain.subarray(span.start, span.end), span.start / 65_536, span.final)).digest('hex')));
		expect(proof.parts).toBe(2);
		const file = path.join(where(), 'plain-range');
		// Only the range is written: the rest is a hole, as in the unlock's sparse output.
		const fd = fs.openSync(file, 'w');
		fs.ftruncateSync(fd, plain.length);
		fs.writeSync(fd, plain, 65_536, plain.length - 65_536, 65_536);
		fs.closeSync(fd);
		const range = {start: 65_536, end: plain.length, counter: 1, final: true};
		await expect(readBackPlainRange(file, cipherKey, range, proof)).resolves.toMatchObject({blocks: 4});
		await expect(readBackPlainRange(file, cipherKey, range, {...proof, parts: 1})).rejects.toThrow(/differ from what the ciphertext authenticated/);
		const changed = fs.openSync(file, 'r+');
		fs.writeSync(changed, Buffer.from([1]), 0, 1, plain.length - 1);
		fs.closeSync(changed);
		await expect(readBackPlainRange(file, cipherKey, range, proof)).rejects.toThrow(/bytes 65536-300000 read back differ/);
	});
});
