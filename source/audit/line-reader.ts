/**
 * `AuditLineReader` reads audit lines straight from the bytes of a file: the lines cage writes
 * itself (`formatAuditLine`: no whitespace, the schema's field order, ASCII strings without
 * escapes, whole numbers) are checked and turned into events byte by byte, with no string per
 * line, no JSON.parse and no intermediate object; any other line — another writer's, a damaged
 * one, one that this fast path does not know — goes to `parseAuditLine`, which decides. Both give
 * the same result for every line the fast path takes (test/audit/line-reader.test.ts checks it on
 * generated and mutated lines), so the tail's validation is unchanged: it is only cheaper. A
 * replay of a million lines spent 1.0 s in JSON.parse and the checks and copies after it.
 *
 * Job ids are interned: every line of a job yields the same string, so the maps keyed by job (the
 * tail's sequence check, the dashboard's jobs) hash it once, and a log of a million lines holds a
 * thousand job id strings rather than a million.
 */
import {eventTypes, type CageEvent, type CageEventType} from '../chunker/events.js';
import {maxChunks} from '../chunker/plan.js';
import {auditFields, parseAuditLine, readableAuditVersions, type FieldKind, type ParsedLine} from './format.js';

const quote = 0x22;
const backslash = 0x5c;
const zero = 0x30;
const nine = 0x39;
const minus = 0x2d;
const closingBrace = 0x7d;

const bytesOf = (text: string): Uint8Array => Uint8Array.from(text, character => character.charCodeAt(0));
const envelope = {v: bytesOf('{"v":'), ts: bytesOf(',"ts":'), job: bytesOf(',"job":"'), seq: bytesOf('","seq":'), type: bytesOf(',"type":"')};
const literals = {null: bytesOf('null'), true: bytesOf('true'), false: bytesOf('false')};

type Field = {name: string; kind: FieldKind; optional: boolean; key: Uint8Array; choices: Array<{text: string; bytes: Uint8Array}> | undefined};

const choicesOf = (list: readonly string[]) => list.map(text => ({text, bytes: bytesOf(text)}));
const types = choicesOf(eventTypes);
/** Per type: its fields with the bytes of their keys (`,"name":`), made once. */
const fieldsOf = new Map<string, Field[]>(
	eventTypes.map(type => [
		type,
		auditFields(type).map(([name, spec]) => ({
			name,
			kind: spec.kind,
			optional: spec.optional ?? false,
			key: bytesOf(`,"${name}":`),
			choices: typeof spec.kind === 'string' ? undefined : choicesOf(spec.kind),
		})),
	]),
);

/** The most job ids kept interned; past it the table starts again (a log of millions of jobs). */
const maxInterned = 65_536;

/** Reads audit lines from bytes; see the module comment. One per tail (it holds the job ids seen). */
export class AuditLineReader {
	readonly #jobs = new Map<number, string>();
	#bytes: Buffer = Buffer.alloc(0);
	#at = 0;
	#end = 0;

	/** The line in `bytes` from `start` to `end` (its newline excluded), parsed and validated. */
	read(bytes: Buffer, start: number, end: number): ParsedLine {
		return this.fast(bytes, start, end) ?? parseAuditLine(bytes.toString('utf8', start, end));
	}

	/** The fast path alone: the parsed line, or undefined for a line not in cage's own form. */
	fast(bytes: Buffer, start: number, end: number): (ParsedLine & {ok: true}) | undefined {
		this.#bytes = bytes;
		this.#at = start;
		this.#end = end;
		if (!this.#literal(envelope.v)) return undefined;
		const v = this.#byte() - zero;
		if (!readableAuditVersions.includes(v)) return undefined;
		if (!this.#literal(envelope.ts)) return undefined;
		const ts = this.#whole();
		if (ts === undefined || !this.#literal(envelope.job)) return undefined;
		const job = this.#jobId();
		if (job === undefined || !this.#literal(envelope.seq)) return undefined;
		const seq = this.#whole();
		if (seq === undefined || !this.#literal(envelope.type)) return undefined;
		const type = this.#choice(types) as CageEventType | undefined;
		if (type === undefined) return undefined;
		const event: Record<string, unknown> = {type};
		for (const field of fieldsOf.get(type)!) {
			if (!this.#literal(field.key)) {
				if (field.optional) continue;
				return undefined;
			}

			const value = this.#value(field);
			if (value === undefined) return undefined;
			event[field.name] = value;
		}

		if (this.#at !== this.#end - 1 || this.#bytes[this.#at] !== closingBrace) return undefined;
		event.job = job;
		event.ts = ts;
		event.seq = seq;
		return {ok: true, event: event as unknown as CageEvent, version: v};
	}

	#byte(): number {
		return this.#at < this.#end ? this.#bytes[this.#at++]! : -1;
	}

	/** Skip `expected` if the bytes at the cursor are it; else leave the cursor. */
	#literal(expected: Uint8Array): boolean {
		const {length} = expected;
		if (this.#end - this.#at < length) return false;
		for (let index = 0; index < length; index++) if (this.#bytes[this.#at + index] !== expected[index]) return false;
		this.#at += length;
		return true;
	}

	/** A whole number >= 0 in JSON's form (no leading zero), at most MAX_SAFE_INTEGER. */
	#whole(): number | undefined {
		const first = this.#at;
		let value = 0;
		while (this.#at < this.#end) {
			const byte = this.#bytes[this.#at]!;
			if (byte < zero || byte > nine) break;
			value = value * 10 + (byte - zero);
			this.#at++;
		}

		const digits = this.#at - first;
		if (digits === 0 || digits > 16 || (digits > 1 && this.#bytes[first] === zero) || !Number.isSafeInteger(value)) return undefined;
		// A fraction or an exponent: a number JSON.parse reads, which the general path judges.
		const next = this.#bytes[this.#at];
		if (next === 0x2e || next === 0x65 || next === 0x45) return undefined;
		return value;
	}

	/** The bytes of a string with no escape, no control character and nothing but ASCII, up to its closing quote. */
	#stringEnd(): number | undefined {
		for (let index = this.#at; index < this.#end; index++) {
			const byte = this.#bytes[index]!;
			if (byte === quote) return index;
			if (byte < 0x20 || byte > 0x7e || byte === backslash) return undefined;
		}

		return undefined;
	}

	#string(): string | undefined {
		if (this.#byte() !== quote) return undefined;
		const close = this.#stringEnd();
		if (close === undefined) return undefined;
		const text = this.#bytes.toString('latin1', this.#at, close);
		this.#at = close + 1;
		return text;
	}

	/** A job id (its opening quote already read), interned. */
	#jobId(): string | undefined {
		const bytes = this.#bytes;
		const first = this.#at;
		let hash = 0x81_1c_9d_c5;
		let close = first;
		for (; close < this.#end; close++) {
			const byte = bytes[close]!;
			if (byte === quote) break;
			if (byte < 0x20 || byte > 0x7e || byte === backslash) return undefined;
			hash = Math.imul(hash ^ byte, 0x01_00_01_93);
		}

		if (close === first || close === this.#end) return undefined;
		let job = this.#jobs.get(hash);
		if (job === undefined || !this.#same(job, close)) {
			if (this.#jobs.size >= maxInterned) this.#jobs.clear();
			job = bytes.toString('latin1', first, close);
			this.#jobs.set(hash, job);
		}

		this.#at = close;
		return job;
	}

	#same(text: string, close: number): boolean {
		if (text.length !== close - this.#at) return false;
		for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) !== this.#bytes[this.#at + index]) return false;
		return true;
	}

	/** One of `choices` as a quoted string, closing quote included; the choice's own string. */
	#choice(choices: ReadonlyArray<{text: string; bytes: Uint8Array}>): string | undefined {
		for (const choice of choices) {
			const close = this.#at + choice.bytes.length;
			if (close >= this.#end || this.#bytes[close] !== quote || !this.#literal(choice.bytes)) continue;
			this.#at++;
			return choice.text;
		}

		return undefined;
	}

	#value(field: Field): unknown {
		const {kind} = field;
		if (field.choices) return this.#byte() === quote ? this.#choice(field.choices) : undefined;
		switch (kind) {
			case 'int': {
				return this.#whole();
			}

			case 'chunk': {
				const value = this.#whole();
				return value !== undefined && value < maxChunks ? value : undefined;
			}

			case 'chunks': {
				const value = this.#whole();
				return value !== undefined && value <= maxChunks ? value : undefined;
			}

			case 'number': {
				const negative = this.#bytes[this.#at] === minus;
				if (negative) this.#at++;
				const value = this.#whole();
				// -0 is a number too, but one JSON.parse keeps apart: left to it.
				return value === undefined || (negative && value === 0) ? undefined : negative ? -value : value;
			}

			case 'string': {
				return this.#string();
			}

			case 'boolean': {
				if (this.#literal(literals.true)) return true;
				return this.#literal(literals.false) ? false : undefined;
			}

			case 'string|null': {
				return this.#literal(literals.null) ? null : this.#string();
			}

			case 'int|null': {
				return this.#literal(literals.null) ? null : this.#whole();
			}

			default: {
				return undefined;
			}
		}
	}
}
