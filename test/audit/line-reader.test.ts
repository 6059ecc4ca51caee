/**
 * AuditLineReader's fast path against parseAuditLine, the reference: on generated events of every
 * type (as formatAuditLine writes them) and on those lines mutated byte by byte, whatever the fast
 * path takes must be exactly what parseAuditLine gives (same event, same key order, same version),
 * and what it does not take goes to parseAuditLine.
 */
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {eventTypes, type CageEvent, type CageEventType} from '../../source/chunker/events.js';
import {maxChunks} from '../../source/chunker/plan.js';
import {auditFields, formatAuditLine, parseAuditLine, type FieldKind} from '../../source/audit/format.js';
import {AuditLineReader} from '../../source/audit/line-reader.js';

const whole = fc.oneof(fc.nat({max: 1000}), fc.constantFrom(0, 9, 10, Number.MAX_SAFE_INTEGER), fc.integer({min: 1_000_000, max: 2 ** 40}), fc.maxSafeNat());
const text = fc.oneof(fc.constantFrom('/data/big.tar', 'a "quoted" path', 'back\\slash', 'tab\there', 'é', '日本', '\u{1F600}', ''), fc.string({unit: 'binary', maxLength: 12}));

function valueOf(kind: FieldKind): fc.Arbitrary<unknown> {
	if (typeof kind !== 'string') return fc.constantFrom(...kind);
	switch (kind) {
		case 'int': {
			return whole;
		}

		case 'chunk': {
			return fc.oneof(fc.nat({max: 5000}), fc.constant(maxChunks - 1));
		}

		case 'chunks': {
			return fc.oneof(fc.nat({max: 5000}), fc.constant(maxChunks));
		}

		case 'number': {
			return fc.oneof(whole, fc.integer({min: -1000, max: 1000}), fc.double({noNaN: true, noDefaultInfinity: true}));
		}

		case 'string': {
			return text;
		}

		case 'boolean': {
			return fc.boolean();
		}

		case 'string|null': {
			return fc.option(text, {nil: null});
		}

		case 'int|null': {
			return fc.option(whole, {nil: null});
		}
	}
}

/** An event of `type` with every required field and any of the optional ones, as the runner would emit it. */
function eventOf(type: CageEventType): fc.Arbitrary<CageEvent> {
	const fields = auditFields(type);
	const values = fields.map(([, spec]) => (spec.optional ? fc.option(valueOf(spec.kind), {nil: undefined}) : valueOf(spec.kind)));
	const job = fc.oneof(fc.constantFrom('20261202T000000-0003e7', 'a', 'job-é', 'quo"te'), fc.string({minLength: 1, maxLength: 24}));
	const ts = fc.oneof(whole, fc.double({noNaN: true, noDefaultInfinity: true}));
	return fc.tuple(job, ts, whole, fc.tuple(...values)).map(([jobId, at, seq, list]) => {
		const event: Record<string, unknown> = {type};
		for (const [index, [name]] of fields.entries()) if (list[index] !== undefined) event[name] = list[index];
		Object.assign(event, {job: jobId, ts: at, seq});
		return event as unknown as CageEvent;
	});
}

const anyEvent = fc.constantFrom(...eventTypes).chain(type => eventOf(type));
const lineOf = (event: CageEvent) => formatAuditLine(event).slice(0, -1);

/** `line` placed in a buffer among other bytes (as in a block of a file): the buffer, its start and end. */
function placed(line: string): [Buffer, number, number] {
	const bytes = Buffer.from(`{"v":2}\n${line}\n"tail"`);
	const start = bytes.indexOf('\n') + 1;
	return [bytes, start, start + Buffer.byteLength(line)];
}

/** The reader's result for `line`, the fast path's or parseAuditLine's. */
const read = (reader: AuditLineReader, line: string) => reader.read(...placed(line));
/** The fast path's result alone (undefined: left to parseAuditLine). */
const fast = (reader: AuditLineReader, line: string) => reader.fast(...placed(line));

/**
 * Same result as parseAuditLine of the line as a file holds it (UTF-8: a lone surrogate a mutation
 * made is U+FFFD there), and the same key order (the order NDJSON output and the UI see).
 */
function expectSame(actual: unknown, line: string) {
	const expected = parseAuditLine(Buffer.from(line).toString('utf8'));
	expect(actual).toStrictEqual(expected);
	if (expected.ok && actual && typeof actual === 'object' && 'event' in actual) expect(Object.keys(actual.event as object)).toEqual(Object.keys(expected.event));
}

describe('AuditLineReader', () => {
	it('gives what parseAuditLine gives for every event formatAuditLine writes', () => {
		const reader = new AuditLineReader();
		fc.assert(
			fc.property(anyEvent, event => {
				const line = lineOf(event);
				expect(parseAuditLine(line).ok).toBe(true);
				expectSame(read(reader, line), line);
			}),
			{numRuns: 3000},
		);
	});

	it('takes the frequent lines itself (chunk events, checkpoints, pauses) when their strings are plain ASCII', () => {
		const reader = new AuditLineReader();
		const frequent = fc.constantFrom<CageEventType>('chunk:start', 'chunk:progress', 'chunk:done', 'job:checkpoint', 'job:paused', 'job:done').chain(type => eventOf(type));
		fc.assert(
			fc.property(frequent, event => {
				const line = lineOf(event);
				// cage's own form: ASCII strings with nothing to escape, whole numbers (a clock's milliseconds).
				const plain = /^[\u0020-\u007E]*$/.test(line) && !line.includes('\\');
				const whole = Object.values(event).every(value => typeof value !== 'number' || (Number.isSafeInteger(value) && !Object.is(value, -0)));
				fc.pre(plain && whole && event.ts >= 0);
				const result = fast(reader, line);
				expect(result, line).toBeDefined();
				expectSame(result, line);
			}),
			{numRuns: 2000},
		);
	});

	it('takes nothing parseAuditLine would read differently: lines mutated byte by byte', () => {
		const reader = new AuditLineReader();
		const pieces = fc.constantFrom('0', '1', '9', '-', '.', 'e', 'E', '"', '\\', ' ', '\r', ',', ':', '}', '{', 'null', 'true', 'é', '\u0000', '"v":3', '"chunk":1,');
		const mutation = fc.tuple(fc.nat(), fc.nat({max: 3}), fc.oneof(pieces, fc.string({maxLength: 3})));
		let taken = 0;
		fc.assert(
			fc.property(anyEvent, fc.array(mutation, {minLength: 1, maxLength: 3}), (event, mutations) => {
				let line = lineOf(event);
				for (const [position, removed, inserted] of mutations) {
					const at = position % (line.length + 1);
					line = line.slice(0, at) + inserted + line.slice(at + removed);
				}

				const result = fast(reader, line);
				if (result) {
					taken++;
					expectSame(result, line);
				}

				expectSame(read(reader, line), line);
			}),
			{numRuns: 5000},
		);
		// Some mutations keep a line valid and in cage's form (a digit for a digit): the comparison ran.
		expect(taken).toBeGreaterThan(0);
	});

	it('edge cases: leading zeros, -0, fractions, exponents, bounds, versions, duplicates, CRLF, non-ASCII', () => {
		const reader = new AuditLineReader();
		const base = '{"v":2,"ts":1700000000000,"job":"j","seq":5,"type":"chunk:done","chunk":3,"start":0,"size":16,"durationMs":40,"attempt":1,"bytesDone":16}';
		const variants = [
			base,
			base.replace('"v":2', '"v":1'),
			base.replace('"v":2', '"v":3'),
			base.replace('"seq":5', '"seq":05'),
			base.replace('"seq":5', '"seq":9007199254740992'),
			base.replace('"seq":5', '"seq":9007199254740991'),
			base.replace('"durationMs":40', '"durationMs":-0'),
			base.replace('"durationMs":40', '"durationMs":-3'),
			base.replace('"durationMs":40', '"durationMs":40.5'),
			base.replace('"durationMs":40', '"durationMs":4e1'),
			base.replace('"size":16', '"size":1.0'),
			base.replace('"chunk":3', `"chunk":${maxChunks}`),
			base.replace('"chunk":3', `"chunk":${maxChunks - 1}`),
			base.replace('"chunk":3', '"chunk":3,"chunk":4'),
			base.replace('"job":"j"', '"job":""'),
			base.replace('"job":"j"', '"job":"é"'),
			base.replace('"job":"j"', '"job":"\\u0041"'),
			base.replace(',"attempt":1', ''),
			base.replace('}', ',"item":2}'),
			base.replace('}', ',"extra":2}'),
			`${base}\r`,
			` ${base}`,
			base.replace('"type":"chunk:done"', '"type":"chunk:don"'),
			base.replace('"type":"chunk:done"', '"type":"chunk:doneX"'),
		];
		let taken = 0;
		for (const line of variants) {
			const result = fast(reader, line);
			if (result) {
				taken++;
				expectSame(result, line);
			}

			expectSame(read(reader, line), line);
		}

		// The plain ones: the base, version 1, the largest safe seq, a negative duration, the last chunk, an item.
		expect(taken).toBe(6);
	});

	it('keeps job ids apart past its interning table (more jobs than it holds)', () => {
		const reader = new AuditLineReader();
		for (let index = 0; index < 70_000; index++) {
			const job = `job-${index.toString(36)}`;
			const parsed = read(reader, lineOf({type: 'job:paused', bytesDone: index, job, ts: index, seq: 0}));
			expect(parsed.ok && parsed.event.job).toBe(job);
		}
	});
});
