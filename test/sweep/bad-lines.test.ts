/**
 * JSON Lines: a bad line is counted and listed, and nothing of it reaches the statistics or the
 * structural fingerprint — however the bytes are cut into scan calls, saved and restored, or
 * chunked. Its error's own anomaly (json-syntax-error, json-invalid-utf8, …) is kept.
 */
import {describe, expect, test} from 'vitest';
import fc from 'fast-check';
import {SharedControl} from '../../source/chunker/control.js';
import {planChunks} from '../../source/chunker/plan.js';
import type {ChunkContext, ChunkInput} from '../../source/chunker/processor.js';
import {SweepProcessor} from '../../source/sweep/processor.js';
import {reportData} from '../../source/sweep/report.js';
import {JsonScanner} from '../../source/sweep/scanner.js';
import {sweepAnomalySeverity} from '../../source/sweep/statistics.js';

const encoder = new TextEncoder();
const bytesOf = (text: string | Uint8Array) => (typeof text === 'string' ? encoder.encode(text) : text);

/** Scan `bytes` as JSON Lines in pieces cut at `cuts`, optionally through a saved state at each cut. */
function scanLines(input: string | Uint8Array, cuts: number[] = [], viaState = false, options: {maxDepth?: number; hugeToken?: number} = {}): JsonScanner {
	const bytes = bytesOf(input);
	let scanner = new JsonScanner({format: 'jsonl', ...options});
	let at = 0;
	for (const cut of [...cuts.filter(cut => cut > 0 && cut < bytes.length), bytes.length]) {
		scanner.scan(bytes, at, cut);
		at = cut;
		if (viaState && cut < bytes.length) scanner = JsonScanner.fromState(JSON.parse(JSON.stringify(scanner.toState())));
	}

	scanner.finish();
	return scanner;
}

function report(input: string | Uint8Array, cuts: number[] = [], viaState = false, options: {maxDepth?: number; hugeToken?: number} = {}) {
	const scanner = scanLines(input, cuts, viaState, options);
	return reportData({format: 'jsonl', bytes: bytesOf(input).length, error: scanner.error, counts: scanner.counts, lineErrors: scanner.lineErrors, stats: scanner.stats}, 'mem');
}

/**
 * The statistics of a report, byte offsets and line numbers aside, without the anomalies that are
 * errors (a bad line's own error stays reported; the file without it has none).
 */
function statistics(data: ReturnType<typeof report>, names = true) {
	const result = {
		values: data.values,
		depth: data.depth,
		keys: data.keys,
		stringLengths: data.stringLengths,
		numberLengths: data.numberLengths,
		largestToken: data.largestToken && {bytes: data.largestToken.bytes, type: data.largestToken.type},
		fingerprint: data.fingerprint,
		anomalies: data.anomalies.filter(record => sweepAnomalySeverity[record.code] !== 'error').map(record => ({code: record.code, count: record.count})),
	};
	// A restored scan knows no key names or paths seen before the restore.
	return names ? result : (JSON.parse(JSON.stringify(result).replace(/"(path|key)":("(?:[^"\\]|\\.)*"|null)/g, '"$1":"-"')) as typeof result);
}

const nameless = (data: ReturnType<typeof report>) => statistics(data, false);

/** The same lines without the bad ones. */
function withoutBadLines(text: string): string {
	return text
		.split('\n')
		.filter(line => scanLines(line).counts.bad === 0)
		.join('\n');
}

const every = (length: number) => Array.from({length: Math.max(0, length - 1)}, (_, index) => index + 1);

describe('a bad line leaves the statistics alone', () => {
	test('{"id": 1} then {"id": tru}: one object, one number, one key; no true', () => {
		const data = report('{"id": 1}\n{"id": tru}\n');
		expect(data.lines).toMatchObject({total: 2, records: 1, bad: 1});
		expect(data.badLines!.map(line => [line.line, line.found])).toEqual([[2, "'}'"]]);
		expect(data.values).toEqual({object: 1, array: 0, string: 0, number: 1, true: 0, false: 0, null: 0});
		expect(data.keys).toMatchObject({total: 1, duplicates: 0, top: [{key: 'id', count: 1}]});
		expect(data.depth).toEqual({max: 1, histogram: {0: 1, 1: 1}});
		expect(data.numberLengths).toEqual({1: 1});
		expect(data.fingerprint.paths).toEqual([
			{path: '$', type: 'object'},
			{path: '$.id', type: 'number'},
		]);
		expect(data.anomalies.map(record => [record.code, record.count, record.line])).toEqual([['json-syntax-error', 1, 2]]);
	});

	// Each a bad line after and before good ones: the report's statistics are those of the good lines.
	const good = '{"id": 1, "name": "ab", "tags": ["x"]}';
	const cutPlaces: Array<[string, string]> = [
		['inside a string', '{"id": 2, "city": "Par'],
		['inside a key', '{"id": 2, "ci'],
		['after a key', '{"id": 2, "city"'],
		['after a colon', '{"id": 2, "city":'],
		['inside a number', '{"id": 2, "score": 12.'],
		['a number cut by a bad byte', '{"id": 2, "score": 12x}'],
		['an unclosed object', '{"id": 2, "geo": {"lat": 1.5, "lon": [3, 4]}'],
		['an unclosed array', '[1, "two", {"three": true}'],
		['trailing garbage after a valid value', '{"a":1} x'],
		['two values on a line', '{"a":1} {"b":2}'],
		['a line that is only tru', 'tru'],
		['a bad literal after values', '{"ok": true, "no": fals}'],
		['a trailing comma', '{"a": [1, 2,], "b": 3}'],
		['NaN', '{"a": 1, "b": NaN}'],
		['a control character in a string', '{"a": "x\ty"}'],
		['a bad escape', '{"a": "\\q"}'],
		['a raw newline in a string', '{"a": "one\ntwo"}'],
		['a duplicate key, then cut', '{"a": 1, "a": 2, "b": '],
		['a lone surrogate, then cut', '{"a": "\\ud800", "b"'],
		['a long string, then cut', `{"big": "${'x'.repeat(500)}", "c": [`],
		['new keys and paths, then cut', '{"fresh": {"deep": {"deeper": [null, false, {"k": "v"}]}}, "more": 1'],
	];

	test.each(cutPlaces)('%s', (_name, bad) => {
		const text = `${good}\n${bad}\n${good}\n`;
		const data = report(text);
		expect(data.lines).toMatchObject({records: 2, bad: bad.includes('\n') ? 2 : 1});
		expect(statistics(data)).toEqual(statistics(report(`${good}\n${good}\n`)));
		// An error's own anomaly stays, one per bad line.
		const errors = data.anomalies.filter(record => sweepAnomalySeverity[record.code] === 'error');
		expect(errors.reduce((sum, record) => sum + record.count, 0)).toBe(data.lines!.bad);
	});

	test.each(cutPlaces)('%s, cut into scan calls at every byte, and through a saved state at every byte', (_name, bad) => {
		const text = `${good}\n${bad}\n${good}\n`;
		const whole = report(text);
		for (const cut of every(encoder.encode(text).length)) {
			expect(report(text, [cut])).toEqual(whole);
			expect(nameless(report(text, [cut], true))).toEqual(nameless(whole));
		}
	});

	test('a bad last line without a final newline', () => {
		for (const bad of ['{"a": 1', '{"a": [1, 2', '"abc', '-', '{"a": 12', 'tru']) {
			const text = `${good}\n${bad}`;
			const data = report(text);
			expect(data.lines).toMatchObject({records: 1, bad: 1});
			expect(statistics(data)).toEqual(statistics(report(good)));
			for (const cut of every(encoder.encode(text).length)) expect(report(text, [cut])).toEqual(data);
		}
	});

	test('invalid UTF-8 in a bad line: its anomaly stays, its values go', () => {
		const bytes = Uint8Array.from([...encoder.encode(`${good}\n{"a": 1, "s": "`), 0xff, ...encoder.encode(`"}\n${good}\n`)]);
		const data = report(bytes);
		expect(data.lines).toMatchObject({records: 2, bad: 1});
		expect(data.anomalies.map(record => [record.code, record.count, record.line])).toEqual([['json-invalid-utf8', 1, 2]]);
		expect(statistics(data)).toEqual(statistics(report(`${good}\n${good}\n`)));
	});

	test('anomalies of a bad line\'s values go: duplicate keys, huge tokens, deep nesting, lone surrogates', () => {
		const bad = '{"a": 1, "a": "' + 'y'.repeat(40) + '", "d": [[[[[[1]]]]]], "s": "\\udc00" x';
		const options = {maxDepth: 4, hugeToken: 30};
		const data = report(`${good}\n${bad}\n${good}\n`, [], false, options);
		expect(data.keys.duplicates).toBe(0);
		expect(data.depth.max).toBe(2);
		expect(data.anomalies.map(record => record.code)).toEqual(['json-syntax-error']);
		// The same anomalies in a good line are counted once, with that line's place.
		const after = report(`${good}\n${bad}\n${bad.slice(0, -2)}}\n`, [], false, options);
		expect(after.anomalies.map(record => [record.code, record.count, record.line])).toEqual([
			['json-syntax-error', 1, 2],
			['json-duplicate-key', 1, 3],
			['json-huge-token', 1, 3],
			['json-deep-nesting', 1, 3],
			['json-lone-surrogate', 1, 3],
		]);
	});

	test('a bad line nested past --max-depth after a good one that was leaves its anomaly as it was', () => {
		const data = report('[[[[[[1]]]]]]\n{"a": [[[[[[2]]]]]] x\n[[[[[[3]]]]]]\n', [], false, {maxDepth: 4});
		expect(data.anomalies.map(record => [record.code, record.count, record.line])).toEqual([
			['json-deep-nesting', 1, 1],
			['json-syntax-error', 1, 2],
		]);
		expect(data.depth.max).toBe(6);
	});

	test('the largest token is never a bad line\'s', () => {
		const data = report(`{"s": "abc"}\n{"s": "${'z'.repeat(100)}", x}\n{"t": 12345}\n`);
		expect(data.largestToken).toEqual({bytes: 5, offset: 6, type: 'string'});
		expect(data.stringLengths).toEqual({'4-7': 1});
		expect(data.numberLengths).toEqual({'4-7': 1});
	});

	test('a bad line of more than 1024 distinct keys leaves the key counts exact', () => {
		const many = `{${Array.from({length: 1500}, (_, index) => `"k${index}": ${index}`).join(', ')}, "end": }`;
		const text = `{"a": 1, "b": 2}\n${many}\n{"a": 3}\n`;
		const data = report(text);
		expect(data.keys).toEqual({total: 3, duplicates: 0, exact: true, top: [{key: 'a', count: 2}, {key: 'b', count: 1}]});
		const length = encoder.encode(text).length;
		for (const cut of [20, 30, 5000, 9000, length - 12, length - 5]) {
			expect(report(text, [cut])).toEqual(data);
			expect(report(text, [cut, cut + 7])).toEqual(data);
			expect(nameless(report(text, [cut, cut + 7], true))).toEqual(nameless(data));
		}
	});

	test('new fingerprint pairs of a bad line are not kept, and later good lines still add theirs', () => {
		const text = '{"a": 1}\n{"b": {"c": [1]}, x\n{"b": {"c": ["s"]}}\n';
		expect(report(text).fingerprint.paths).toEqual([
			{path: '$', type: 'object'},
			{path: '$.a', type: 'number'},
			{path: '$.b', type: 'object'},
			{path: '$.b.c', type: 'array'},
			{path: '$.b.c[]', type: 'string'},
		]);
	});

	test('a mix of good, bad and blank lines: exact counts', () => {
		const text = ['{"n": 1, "ok": true}', '', '{"n": 2, "ok": tru}', '[1, 2, 3]', '{"n": 3', '"str"', '  ', '{"n": 4, "ok": false} 5', 'null', '{"x": {"y": "z"}}'].join('\n') + '\n';
		const data = report(text);
		expect(data.lines).toEqual({total: 10, records: 5, blank: 2, bad: 3, crlf: 0, lf: 10});
		expect(data.badLines!.map(line => line.line)).toEqual([3, 5, 8]);
		expect(data.values).toEqual({object: 3, array: 1, string: 2, number: 4, true: 1, false: 0, null: 1});
		expect(data.keys.total).toBe(4);
		expect(data.keys.top.map(entry => [entry.key, entry.count]).sort()).toEqual([['n', 1], ['ok', 1], ['x', 1], ['y', 1]]);
		expect(data.depth).toEqual({max: 2, histogram: {0: 5, 1: 6, 2: 1}});
		expect(data.stringLengths).toEqual({'4-7': 1, '2-3': 1});
		expect(data.numberLengths).toEqual({1: 4});
	});
});

describe('a file with bad lines reports the statistics of the same file without them', () => {
	const record = fc.record({id: fc.nat(), name: fc.string({unit: 'grapheme', maxLength: 8}), tags: fc.array(fc.constantFrom('a', 'b', 'é'), {maxLength: 3}), ok: fc.boolean(), more: fc.option(fc.dictionary(fc.constantFrom('p', 'q', 'r'), fc.oneof(fc.integer(), fc.constant(null))))});
	// A good record cut anywhere (and so bad, when the cut falls inside it), or with a bad byte put in.
	const badLine = record.chain(value => {
		const text = JSON.stringify(value);
		return fc.oneof(
			fc.nat(text.length - 1).map(cut => text.slice(0, cut)),
			fc.tuple(fc.nat(text.length), fc.constantFrom('x', '}', ',', '"', ']', ' x', 'tru', '\t')).map(([at, junk]) => text.slice(0, at) + junk + text.slice(at)),
		);
	});
	const lines = fc.array(fc.oneof({weight: 3, arbitrary: record.map(value => JSON.stringify(value))}, {weight: 2, arbitrary: badLine}, fc.constant('')), {maxLength: 30}).map(list => list.join('\n') + '\n');

	test('any lines, cut anywhere into scan calls (and through saved states)', () => {
		fc.assert(
			fc.property(
				lines.chain(text => fc.tuple(fc.constant(text), fc.uniqueArray(fc.nat(Math.max(1, encoder.encode(text).length)), {maxLength: 6}).map(cuts => cuts.sort((a, b) => a - b)))),
				([text, cuts]) => {
					const clean = report(withoutBadLines(text));
					const whole = report(text);
					expect(statistics(whole)).toEqual(statistics(clean));
					expect(report(text, cuts)).toEqual(whole);
					expect(nameless(report(text, cuts, true))).toEqual(nameless(clean));
				},
			),
			{numRuns: 400},
		);
	});

	const ctx: ChunkContext = {attempt: 1, control: new SharedControl(), signal: new AbortController().signal, gate: async () => {}, progress() {}};
	function memoryInput(bytes: Uint8Array): ChunkInput {
		return {
			path: null,
			size: bytes.length,
			async read(buffer, offset, length, position) {
				const part = bytes.subarray(position, Math.min(bytes.length, position + length));
				buffer.set(part, offset);
				return part.length;
			},
			async close() {},
		};
	}

	async function chunked(bytes: Uint8Array, chunkSize: number) {
		const processor = new SweepProcessor(memoryInput(bytes), bytes.length, {format: 'jsonl', maxDepth: 8});
		const chunks = planChunks(bytes.length, chunkSize);
		for (const chunk of [...chunks].reverse()) await processor.process(chunk, ctx);
		for (const chunk of chunks) await processor.commit(chunk, {mac: 'none'});
		return reportData(processor.outcome(), 'mem');
	}

	test('swept in chunks of any size, finished in any order', async () => {
		await fc.assert(
			fc.asyncProperty(
				lines.chain(text => fc.tuple(fc.constant(text), fc.integer({min: 1, max: Math.max(1, encoder.encode(text).length)}))),
				async ([text, chunkSize]) => {
					const bytes = encoder.encode(text);
					const whole = await chunked(bytes, Math.max(1, bytes.length));
					expect(statistics(whole)).toEqual(statistics(report(withoutBadLines(text))));
					expect(await chunked(bytes, chunkSize)).toEqual(whole);
				},
			),
			{numRuns: 200},
		);
	});
});
