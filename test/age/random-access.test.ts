/**
 * Random access (AgeReaderAt): 200 seeded ranges of files made by the real `age` CLI and by cage,
 * of sizes around the 64 KiB block boundaries (and empty), equal the plaintext slice; `dd` agrees
 * on some; a truncated or extended file is refused for every range.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {AgeReaderAt, resolveRange} from '../../source/age/random-access.js';
import {cage, makeSandbox, writeRandomFile} from '../helpers/cage.js';
import {prng} from '../helpers/prng.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

const block = 64 * 1024;
const sizes = [0, 1, block - 1, block, block + 1, 2 * block, 3 * 1024 * 1024 + 12_345];
let identity = '';
const key = path.join(dir, 'key.txt');
type Made = {maker: 'age' | 'cage'; size: number; plain: string; file: string};
const files: Made[] = [];

beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	identity = fs.readFileSync(key, 'utf8').split('\n').find(line => line.startsWith('AGE-SECRET-KEY-'))!;
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	const cageDir = path.join(dir, 'cage');
	fs.mkdirSync(cageDir);
	for (const size of sizes) {
		const plain = path.join(dir, `plain-${size}`);
		writeRandomFile(plain, size);
		const ageFile = path.join(dir, `age-${size}.age`);
		execFileSync('age', ['-r', recipient, '-o', ageFile, plain]);
		files.push({maker: 'age', size, plain, file: ageFile});
		fs.copyFileSync(plain, path.join(cageDir, `plain-${size}`));
		files.push({maker: 'cage', size, plain, file: path.join(cageDir, `plain-${size}.age`)});
	}

	// One batch (one process) makes every cage file, in chunks of 1 MiB where they are large enough.
	const made = cage(['encrypt', '--recursive', cageDir, '-r', recipient, '--chunk-size', '1MiB', '--progress', 'none', '--no-audit'], {env});
	expect(made.status, made.stderr).toBe(0);
});

/** Open, resolve the range as the CLI does, read it whole, close. */
async function readRange(file: string, offset: number, length: number | undefined): Promise<Buffer> {
	const reader = await AgeReaderAt.open(file, {identities: [identity]});
	try {
		const {start, end} = resolveRange(reader.size, offset, length, file);
		const parts: Buffer[] = [];
		await reader.read(start, end, bytes => {
			parts.push(Buffer.from(bytes));
		});
		return Buffer.concat(parts);
	} finally {
		await reader.close();
	}
}

/** 200 seeded ranges over the files: offsets on and around block boundaries, negative ones, lengths from 0 to the rest. */
function ranges(count: number, seed: number, pick: () => Made[] = () => files): Array<{made: Made; offset: number; length: number | undefined}> {
	const random = prng(seed);
	const int = (max: number) => Math.floor(random() * (max + 1));
	const out = [];
	for (let index = 0; index < count; index++) {
		const choices = pick();
		const made = choices[int(choices.length - 1)]!;
		const {size} = made;
		let start: number;
		const kind = random();
		if (kind < 0.35) start = Math.min(size, Math.max(0, int(Math.floor(size / block)) * block + int(4) - 2));
		else start = int(size);
		const rest = size - start;
		const how = random();
		let length: number | undefined;
		if (how < 0.1) length = undefined;
		else if (how < 0.2) length = 0;
		else if (how < 0.5) length = Math.min(rest, int(200));
		else if (how < 0.7) length = Math.min(rest, block - 2 + int(4));
		else length = int(rest);
		// A third of them say where they start from the end.
		const offset = random() < 0.33 ? start - size : start;
		out.push({made, offset, length});
	}

	return out;
}

describe('ranges of age-made and cage-made files', () => {
	it('200 seeded ranges equal the plaintext slice', async () => {
		const plains = new Map(files.map(made => [made.plain, fs.readFileSync(made.plain)]));
		for (const {made, offset, length} of ranges(200, 14)) {
			const plain = plains.get(made.plain)!;
			const start = offset < 0 ? made.size + offset : offset;
			const end = length === undefined ? made.size : start + length;
			const got = await readRange(made.file, offset, length);
			expect(got.equals(plain.subarray(start, end)), `${made.maker} ${made.size} bytes, offset ${offset}, length ${String(length)}`).toBe(true);
		}
	});

	it('dd of the plaintext agrees on ranges that cross block boundaries', async () => {
		const big = files.filter(made => made.size > 1024 * 1024);
		for (const {made, offset, length} of ranges(12, 7, () => big)) {
			const start = offset < 0 ? made.size + offset : offset;
			const count = length ?? made.size - start;
			const dd = execFileSync('dd', [`if=${made.plain}`, 'bs=64K', 'iflag=skip_bytes,count_bytes', `skip=${start}`, `count=${count}`, 'status=none'], {maxBuffer: 64 * 1024 * 1024});
			expect((await readRange(made.file, offset, length)).equals(dd)).toBe(true);
		}
	});

	it('the whole of every file, and its exact size, known from the last block', async () => {
		for (const made of files) {
			const reader = await AgeReaderAt.open(made.file, {identities: [identity]});
			expect(reader.size).toBe(made.size);
			await reader.close();
			expect((await readRange(made.file, 0, undefined)).equals(fs.readFileSync(made.plain))).toBe(true);
		}
	});

	it('ranges outside the plaintext are refused, saying how large it is', async () => {
		const made = files.find(each => each.maker === 'age' && each.size === block)!;
		await expect(readRange(made.file, block + 1, undefined)).rejects.toThrow(`past the end: ${made.file} holds ${block} bytes of plaintext`);
		await expect(readRange(made.file, 10, block)).rejects.toThrow(`at most ${block - 10} can be read from there`);
		await expect(readRange(made.file, -block - 1, 1)).rejects.toThrow('starts before the beginning');
		expect(await readRange(made.file, block, undefined)).toHaveLength(0);
		const empty = files.find(each => each.size === 0)!;
		expect(await readRange(empty.file, 0, 0)).toHaveLength(0);
		await expect(readRange(empty.file, 1, undefined)).rejects.toThrow('past the end');
	});
});

describe('a truncated or extended file', () => {
	const damagedFiles = (): Array<{what: string; file: string}> => {
		const out = [];
		for (const maker of ['age', 'cage'] as const) {
			const made = files.find(each => each.maker === maker && each.size > 1024 * 1024)!;
			const bytes = fs.readFileSync(made.file);
			const lastBlock = (made.size % block) + 16;
			const variants: Array<[string, Buffer]> = [
				['cut by one byte', bytes.subarray(0, -1)],
				['cut at a block boundary (its last block gone)', bytes.subarray(0, -lastBlock)],
				['cut by a block and a half', bytes.subarray(0, -(lastBlock + block / 2))],
				['extended by 16 bytes', Buffer.concat([bytes, Buffer.alloc(16)])],
				['extended by a whole block', Buffer.concat([bytes, Buffer.alloc(block + 16, 1)])],
			];
			for (const [what, content] of variants) {
				const file = path.join(dir, `${maker}-${what.replaceAll(/\W+/g, '-')}.age`);
				fs.writeFileSync(file, content);
				out.push({what: `${maker}: ${what}`, file});
			}
		}

		return out;
	};

	it('is refused for every range', async () => {
		const big = files.find(each => each.maker === 'age' && each.size > 1024 * 1024)!;
		const all = ranges(200, 15, () => [big]);
		for (const [index, {what, file}] of damagedFiles().entries()) {
			// Every range on the first variant, a share of them on each of the others.
			const tried = index === 0 ? all : all.filter((_, at) => at % 10 === index);
			for (const {offset, length} of tried) {
				await expect(readRange(file, offset, length), `${what}: offset ${offset}, length ${String(length)}`).rejects.toThrow(/last block|truncated|trailing data/);
			}
		}
	});
});
