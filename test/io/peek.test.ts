import {Readable} from 'node:stream';
import {describe, expect, it} from 'vitest';
import {peekStream} from '../../source/io/peek.js';

const drain = async (stream: Readable) => {
	const parts: Buffer[] = [];
	for await (const chunk of stream) parts.push(chunk as Buffer);
	return Buffer.concat(parts).toString('latin1');
};

describe('peekStream', () => {
	it('returns the first bytes across chunks, and the stream still gives everything from its first byte', async () => {
		const stream = Readable.from([Buffer.from('ab'), Buffer.from('c'), Buffer.from('defgh'), Buffer.from('ij')], {objectMode: false});
		expect((await peekStream(stream, 5)).toString('latin1')).toBe('abcde');
		expect(await drain(stream)).toBe('abcdefghij');
	});

	it('returns fewer bytes from a stream that ends sooner, and nothing from an empty one', async () => {
		const short = Readable.from([Buffer.from('xyz')], {objectMode: false});
		expect((await peekStream(short, 32)).toString('latin1')).toBe('xyz');
		expect(await drain(short)).toBe('xyz');
		const empty = Readable.from([], {objectMode: false});
		expect((await peekStream(empty, 32)).length).toBe(0);
		expect(await drain(empty)).toBe('');
	});

	it("waits for bytes that arrive later, and rejects with the stream's error", async () => {
		const late = new Readable({read() {}});
		const peeked = peekStream(late, 4);
		late.push(Buffer.from('12'));
		setTimeout(() => late.push(Buffer.from('3456')), 20);
		expect((await peeked).toString('latin1')).toBe('1234');
		late.push(null);
		expect(await drain(late)).toBe('123456');
		const broken = new Readable({read() {}});
		const failing = peekStream(broken, 4);
		broken.destroy(new Error('EIO: read failed'));
		await expect(failing).rejects.toThrow('EIO');
	});
});
