/**
 * The streaming armor: output equal to age-encryption's `armor.encode` (itself age's layout) for
 * every size and any way the bytes arrive; decoding equal to `armor.decode` where that accepts;
 * and age's armor reader's refusals, each naming the line.
 */
import {Readable} from 'node:stream';
import {armor} from 'age-encryption';
import {describe, expect, it} from 'vitest';
import {ArmorDecoder, ArmorEncoder, armorBegin, armorEnd, dearmor, dearmoredStart, isArmored} from '../../source/age/armor.js';
import {AgeFormatError} from '../../source/age/errors.js';
import {bytesFrom, prng} from './helpers.js';

async function through(stream: ArmorEncoder | ArmorDecoder, pieces: Uint8Array[]): Promise<Buffer> {
	const out: Buffer[] = [];
	const piped = Readable.from(pieces.map(piece => Buffer.from(piece))).pipe(stream);
	for await (const chunk of piped) out.push(chunk as Buffer);
	return Buffer.concat(out);
}

function split(bytes: Uint8Array, random: () => number): Uint8Array[] {
	const pieces: Uint8Array[] = [];
	for (let at = 0; at < bytes.length; ) {
		const length = 1 + Math.floor(random() * 200);
		pieces.push(bytes.subarray(at, at + length));
		at += length;
	}

	return pieces;
}

const decode = async (text: string, pieces = 1) => {
	const bytes = Buffer.from(text, 'latin1');
	const size = Math.ceil(bytes.length / pieces) || 1;
	const parts: Buffer[] = [];
	for (let at = 0; at < bytes.length; at += size) parts.push(bytes.subarray(at, at + size));
	return through(new ArmorDecoder('f.age'), parts);
};

describe('ArmorEncoder', () => {
	const random = prng(14);
	for (const size of [0, 1, 2, 3, 47, 48, 49, 95, 96, 97, 1000, 65_535, 65_536, 65_537]) {
		it(`writes what armor.encode writes for ${size} bytes, whole and in random pieces`, async () => {
			const data = bytesFrom(random, size);
			const expected = armor.encode(data);
			expect((await through(new ArmorEncoder(), [data])).toString('latin1')).toBe(expected);
			expect((await through(new ArmorEncoder(), split(data, random))).toString('latin1')).toBe(expected);
		});
	}

	it('ends every line at 64 columns, then the end line and a newline', async () => {
		const text = (await through(new ArmorEncoder(), [bytesFrom(random, 100)])).toString('latin1');
		const lines = text.split('\n');
		expect(lines[0]).toBe(armorBegin);
		expect(lines.slice(1, -2).map(line => line.length)).toEqual([64, 64, 8]);
		expect(lines.at(-2)).toBe(armorEnd);
		expect(lines.at(-1)).toBe('');
	});
});

describe('ArmorDecoder', () => {
	const random = prng(41);
	for (const size of [1, 47, 48, 49, 96, 65_537]) {
		it(`round-trips ${size} bytes, also CRLF and cut at every byte count`, async () => {
			const data = bytesFrom(random, size);
			const text = armor.encode(data);
			expect(await decode(text)).toEqual(data);
			expect(await decode(text.replaceAll('\n', '\r\n'), 7)).toEqual(data);
			expect(await through(new ArmorDecoder('f.age'), split(Buffer.from(text), random))).toEqual(data);
			expect(Buffer.from(armor.decode(text))).toEqual(data);
		});
	}

	const good = armor.encode(bytesFrom(random, 100));
	const body = good.split('\n').slice(1, -2);
	const refusals: Array<[string, string, RegExp]> = [
		['a line of 65 columns', `${armorBegin}\n${body[0]}A\n${body[1]}\n${body[2]}\n${armorEnd}\n`, /line 2: longer than 64 columns/],
		['a short line before the last', `${armorBegin}\n${body[2]}\n${body[0]}\n${armorEnd}\n`, /line 3: expected "-----END AGE ENCRYPTED FILE-----" after a short line/],
		['non-canonical padding bits', `${armorBegin}\nAR==\n${armorEnd}\n`, /line 2: not canonical base64/],
		['missing padding', `${armorBegin}\nAQ\n${armorEnd}\n`, /line 2: not canonical base64/],
		['a character outside base64', `${armorBegin}\nAB-D\n${armorEnd}\n`, /line 2: not canonical base64/],
		['garbage after the end line', `${good}x`, /line 6: data after "-----END AGE ENCRYPTED FILE-----"/],
		['1024 bytes of whitespace after the end line', `${good}${' '.repeat(1024)}`, /1024 bytes or more of whitespace after/],
		['more than 1024 bytes of whitespace before the begin line', `${'\n'.repeat(1025)}${good}`, /more than 1024 bytes of whitespace before/],
		['no end line', good.replace(`${armorEnd}\n`, ''), /ends before its "-----END AGE ENCRYPTED FILE-----" line/],
		['a begin line with a trailing space', good.replace(armorBegin, `${armorBegin} `), /line 1: expected "-----BEGIN AGE ENCRYPTED FILE-----" as the first line/],
		['another PEM type', good.replace('AGE ENCRYPTED FILE', 'PGP MESSAGE'), /line 1: expected "-----BEGIN AGE ENCRYPTED FILE-----"/],
		['a space at the start of a data line', good.replace(`\n${body[1]}`, `\n ${body[1]!.slice(1)}`), /line 3: not canonical base64/],
	];
	for (const [what, text, message] of refusals) {
		it(`refuses ${what}, naming the line`, async () => {
			const error = await decode(text, 3).catch((error_: unknown) => error_);
			expect(error).toBeInstanceOf(AgeFormatError);
			expect((error as Error).message).toMatch(/^f\.age: invalid armor at line \d+: /);
			expect((error as Error).message).toMatch(message);
		});
	}

	it('accepts what age accepts around the file: blank lines before, whitespace after, no final newline', async () => {
		const data = Buffer.from(armor.decode(good));
		expect(await decode(`\n  \n\t\r\n${good}`)).toEqual(data);
		expect(await decode(`${good} \n\t\n`)).toEqual(data);
		expect(await decode(good.slice(0, -1))).toEqual(data);
	});

	it('reads a full last line followed directly by the end line', async () => {
		const data = bytesFrom(random, 96);
		expect(await decode(armor.encode(data))).toEqual(data);
	});

	it('holds one line at a time: an endless line is refused at column 66, not buffered', async () => {
		const decoder = new ArmorDecoder('big.age');
		const error = await through(decoder, [Buffer.from(`${armorBegin}\n`), ...Array.from({length: 1000}, () => Buffer.alloc(1 << 16, 0x41))]).catch((error_: unknown) => error_);
		expect((error as Error).message).toMatch(/line 2: longer than 64 columns/);
	});
});

describe('armor detection', () => {
	it('tells armored heads (after blank lines) from binary ones and decodes the first line', () => {
		const text = armor.encode(Buffer.from('age-encryption.org/v1\n-> scrypt abcdefghijklmnopqrstuvwxyz0123456789'));
		expect(isArmored(Buffer.from(text))).toBe(true);
		expect(isArmored(Buffer.from(`\n \n${text}`))).toBe(true);
		expect(isArmored(Buffer.from('age-encryption.org/v1\n'))).toBe(false);
		expect(isArmored(Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\n'))).toBe(false);
		expect(dearmoredStart(Buffer.from(text)).toString('latin1')).toMatch(/^age-encryption\.org\/v1\n-> scrypt /);
	});
});

describe('dearmor', () => {
	it('reads nothing before its consumer does, then raises a refusal in the consumer', async () => {
		let pulled = 0;
		const source = (async function * () {
			pulled++;
			yield Buffer.from(`${armor.encode(Buffer.from('x'))}garbage`);
		})();
		const decoded = dearmor(source, 'g.age');
		await new Promise(resolve => setTimeout(resolve, 20));
		expect(pulled).toBe(0);
		const error = await (async () => {
			for await (const _ of decoded) void _;
		})().catch((error_: unknown) => error_);
		expect((error as Error).message).toMatch(/^g\.age: invalid armor at line 4: data after/);
	});
});
