/**
 * age's ASCII armor (C2SP age, "ASCII armor"): strict PEM with the type "AGE ENCRYPTED FILE",
 * standard padded base64 in 64-column lines, the last one shorter (or full), then the end line.
 *
 * `age-encryption` has `armor.encode/decode`, but both take and return the whole file as one
 * string or array: a 1 GiB armored file would be held in memory twice. These are streams over
 * node's base64 with the reader rules of age's own `armor` package:
 * - up to 1024 bytes of blank lines before the begin line, which must be exact;
 * - LF or CRLF line ends; every line but the last 64 columns, none longer;
 * - strict base64: canonical padding and padding bits (decoded bytes re-encode to the line);
 * - after the end line, at most 1023 bytes of whitespace and nothing else.
 */
import {Readable, Transform, type TransformCallback} from 'node:stream';
import {AgeFormatError} from './errors.js';

/** The first line of an armored age file. */
export const armorBegin = '-----BEGIN AGE ENCRYPTED FILE-----';

/** Its last line. */
export const armorEnd = '-----END AGE ENCRYPTED FILE-----';

/** Columns of base64 per line. */
const columns = 64;

/** Bytes of the file per full line. */
const bytesPerLine = 48;

/** Whitespace age skips before the begin line and after the end line, at most. */
const maxWhitespace = 1024;

/** How many bytes of a stream's start tell whether it is armored (and hold its first data line). */
export const armorSniffLength = maxWhitespace + armorBegin.length + 2 + columns + 2;

const isSpace = (byte: number) => byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);

function trimStart(bytes: Uint8Array): Buffer {
	let at = 0;
	while (at < bytes.length && isSpace(bytes[at]!)) at++;
	return Buffer.from(bytes.buffer, bytes.byteOffset + at, bytes.length - at);
}

/**
 * True when `head`, the start of a file, is armored: after up to 1024 bytes of whitespace it
 * starts with the begin line (age 1.3 tells so the same way).
 */
export function isArmored(head: Uint8Array): boolean {
	return trimStart(head.subarray(0, armorSniffLength)).toString('latin1').startsWith(armorBegin);
}

/** True when `head` is long enough to tell whether it is armored (see isArmored). */
export function armorDecided(head: Uint8Array): boolean {
	const trimmed = trimStart(head.subarray(0, armorSniffLength)).toString('latin1');
	if (trimmed === '') return head.length >= armorSniffLength;
	return trimmed.length >= armorBegin.length || !armorBegin.startsWith(trimmed);
}

/**
 * The first bytes of the age file an armored `head` holds (its first complete data line, decoded
 * leniently), to tell a passphrase-encrypted file by its header; empty when none can be read.
 */
export function dearmoredStart(head: Uint8Array): Buffer {
	const text = trimStart(head).toString('latin1');
	const line = text.split('\n')[1]?.replace(/\r$/, '');
	if (line === undefined || !/^[A-Za-z\d+/]*={0,2}$/.test(line)) return Buffer.alloc(0);
	return Buffer.from(line, 'base64');
}

/** Base64 of `bytes` (a multiple of 48 bytes, or the last piece) as armor lines, each ending in "\n". */
function lines(bytes: Uint8Array): string {
	const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
	let out = '';
	for (let at = 0; at < text.length; at += columns) out += `${text.slice(at, at + columns)}\n`;
	return out;
}

/**
 * Armors an age file as it streams through: what `age -a` writes, byte for byte (the begin line,
 * 64-column lines, the last line, the end line and a final newline). Holds at most 47 bytes back.
 */
export class ArmorEncoder extends Transform {
	#started = false;
	#rest: Buffer = Buffer.alloc(0);

	override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		const data = this.#rest.length === 0 ? chunk : Buffer.concat([this.#rest, chunk]);
		const whole = data.length - (data.length % bytesPerLine);
		let out = this.#started ? '' : `${armorBegin}\n`;
		this.#started = true;
		if (whole > 0) out += lines(data.subarray(0, whole));
		this.#rest = Buffer.from(data.subarray(whole));
		if (out !== '') this.push(Buffer.from(out, 'latin1'));
		callback();
	}

	override _flush(callback: TransformCallback): void {
		const out = (this.#started ? '' : `${armorBegin}\n`) + (this.#rest.length > 0 ? lines(this.#rest) : '') + `${armorEnd}\n`;
		this.push(Buffer.from(out, 'latin1'));
		callback();
	}
}

type DecoderState = 'before' | 'data' | 'end' | 'after';

/**
 * The decoding rules, fed piece by piece: `take` returns the decoded bytes of the lines it
 * completed, `end` checks the file ended where it may; both throw AgeFormatErrors naming `name`
 * and the line, refusing what age's armor reader refuses. Memory: one line.
 */
export class ArmorReader {
	readonly #name: string;
	#out: Buffer[] = [];
	#state: DecoderState = 'before';
	#line: Buffer[] = [];
	#lineLength = 0;
	#lineNumber = 0;
	#leading = 0;
	#trailing = 0;

	constructor(name: string) {
		this.#name = name;
	}

	#fail(reason: string, line = this.#lineNumber): AgeFormatError {
		return new AgeFormatError(`${this.#name}: invalid armor at line ${line}: ${reason}; the armored file was damaged, cut or edited (export it again with 'age -a' or 'cage encrypt -a')`);
	}

	/** The bytes decoded from the lines `chunk` completes. */
	take(chunk: Buffer): Buffer[] {
		this.#take(chunk);
		const out = this.#out;
		this.#out = [];
		return out;
	}

	/** The last bytes, once the input has ended; throws when it ended too soon. */
	end(): Buffer[] {
		if (this.#state !== 'after' && this.#lineLength > 0) this.#endLine();
		if (this.#state === 'before') throw this.#fail(`no "${armorBegin}" line`, this.#lineNumber);
		if (this.#state !== 'after') throw this.#fail(`the file ends before its "${armorEnd}" line (it is truncated)`, this.#lineNumber + 1);
		return this.#out;
	}

	#take(chunk: Buffer): void {
		let from = 0;
		while (from < chunk.length) {
			if (this.#state === 'after') {
				this.#after(chunk.subarray(from));
				return;
			}

			const newline = chunk.indexOf(0x0a, from);
			const end = newline === -1 ? chunk.length : newline;
			this.#line.push(chunk.subarray(from, end));
			this.#lineLength += end - from;
			// Bounded: a data line is 64 columns (plus a CR); blank lines before the begin line are
			// bounded by the leading whitespace allowance.
			const limit = this.#state === 'before' ? maxWhitespace + armorBegin.length + 2 : columns + 1;
			if (this.#lineLength > limit) throw this.#fail(this.#state === 'before' ? `it does not start with "${armorBegin}"` : `longer than ${columns} columns`, this.#lineNumber + 1);
			if (newline === -1) return;
			from = newline + 1;
			this.#endLine();
		}
	}

	#endLine(): void {
		let line = this.#line.length === 1 ? this.#line[0]! : Buffer.concat(this.#line);
		this.#line = [];
		this.#lineLength = 0;
		this.#lineNumber++;
		if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
		const text = line.toString('latin1');
		switch (this.#state) {
			case 'before': {
				if (trimStart(line).length === 0) {
					this.#leading += line.length + 1;
					if (this.#leading > maxWhitespace) throw this.#fail(`more than ${maxWhitespace} bytes of whitespace before "${armorBegin}"`);
					return;
				}

				if (text !== armorBegin) throw this.#fail(`expected "${armorBegin}" as the first line`);
				this.#state = 'data';
				return;
			}

			case 'data': {
				if (text === armorEnd) {
					this.#state = 'after';
					return;
				}

				if (line.length > columns) throw this.#fail(`longer than ${columns} columns`);
				if (line.length === 0) throw this.#fail('an empty line');
				const bytes = Buffer.from(text, 'base64');
				// Strict base64, as age decodes: only the alphabet, whole quads, canonical padding.
				if (text.length % 4 !== 0 || !/^[A-Za-z\d+/]*={0,2}$/.test(text) || bytes.toString('base64') !== text) throw this.#fail('not canonical base64');
				if (bytes.length < bytesPerLine) this.#state = 'end';
				if (bytes.length > 0) this.#out.push(bytes);
				return;
			}

			case 'end': {
				if (text !== armorEnd) throw this.#fail(`expected "${armorEnd}" after a short line (only the last line may be shorter than ${columns} columns)`);
				this.#state = 'after';
				return;
			}

			case 'after': {
				return;
			}
		}
	}

	#after(bytes: Buffer): void {
		for (const byte of bytes) {
			if (!isSpace(byte)) throw this.#fail(`data after "${armorEnd}"`, this.#lineNumber + 1);
		}

		this.#trailing += bytes.length;
		if (this.#trailing >= maxWhitespace) throw this.#fail(`${maxWhitespace} bytes or more of whitespace after "${armorEnd}"`, this.#lineNumber + 1);
	}
}

/** Decodes an armored age file as it streams through (see ArmorReader). */
export class ArmorDecoder extends Transform {
	readonly #reader: ArmorReader;

	constructor(name: string) {
		super();
		this.#reader = new ArmorReader(name);
	}

	override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
		try {
			for (const bytes of this.#reader.take(chunk)) this.push(bytes);
			callback();
		} catch (error) {
			callback(error as Error);
		}
	}

	override _flush(callback: TransformCallback): void {
		try {
			for (const bytes of this.#reader.end()) this.push(bytes);
			callback();
		} catch (error) {
			callback(error as Error);
		}
	}
}

/**
 * `source` (an armored age file) decoded, read only as the result is: nothing is read (and no
 * error raised) before the consumer asks, and a read error of `source` reaches it too.
 */
export function dearmor(source: AsyncIterable<Uint8Array>, name: string): Readable {
	return Readable.from(
		(async function * () {
			const reader = new ArmorReader(name);
			for await (const chunk of source) yield * reader.take(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
			yield * reader.end();
		})(),
		{objectMode: false},
	);
}
