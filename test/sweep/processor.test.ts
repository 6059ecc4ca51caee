import {describe, expect, test} from 'vitest';
import fc from 'fast-check';
import {SharedControl} from '../../source/chunker/control.js';
import {planChunks} from '../../source/chunker/plan.js';
import type {ChunkContext, ChunkInput} from '../../source/chunker/processor.js';
import {SweepProcessor, type SweepState} from '../../source/sweep/processor.js';
import {reportData} from '../../source/sweep/report.js';
import type {SweepFormat} from '../../source/sweep/scanner.js';

const encoder = new TextEncoder();

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

const ctx: ChunkContext = {attempt: 1, control: new SharedControl(), signal: new AbortController().signal, gate: async () => {}, progress() {}};

/**
 * Sweep `bytes` in chunks of `chunkSize`, processing them in `order` (a permutation, as parallel
 * jobs finish) and committing in chunk order; optionally through a checkpoint's state after `stopAfter` commits.
 */
async function sweepInChunks(bytes: Uint8Array, format: SweepFormat, chunkSize: number, order?: number[], stopAfter?: number, parallel: [boolean, boolean] = [false, false]) {
	const chunks = planChunks(bytes.length, chunkSize);
	const options = (index: number) => ({format, maxDepth: 8, parallelDocument: parallel[index]!});
	let processor = new SweepProcessor(memoryInput(bytes), bytes.length, options(0));
	let first = 0;
	const resumed = stopAfter !== undefined && stopAfter < chunks.length;
	if (resumed) {
		for (const chunk of chunks.slice(0, stopAfter)) {
			await processor.process(chunk, ctx);
			await processor.commit(chunk, {mac: 'none'});
		}

		const state = JSON.parse(JSON.stringify(processor.checkpointParams(stopAfter).state)) as SweepState;
		processor = new SweepProcessor(memoryInput(bytes), bytes.length, options(1), undefined, state);
		first = stopAfter;
	}

	const rest = chunks.slice(first);
	const inOrder = format === 'json' && !parallel[resumed ? 1 : 0];
	const sequence = inOrder || !order ? rest : order.filter(index => index < rest.length).map(index => rest[index]!);
	for (const chunk of sequence) await processor.process(chunk, ctx);
	for (const chunk of rest) await processor.commit(chunk, {mac: 'none'});
	return reportData(processor.outcome(), 'mem');
}

/** The report without key names (a resume does not keep names seen before it). */
const nameless = (report: ReturnType<typeof reportData>) => JSON.parse(JSON.stringify(report).replace(/"(path|key)":("[^"]*"|null)/g, '"$1":"-"')) as unknown;

const record = fc.record({id: fc.nat(), name: fc.string({unit: 'grapheme', maxLength: 12}), tags: fc.array(fc.constantFrom('a', 'b', 'é'), {maxLength: 3}), ok: fc.boolean()});
const jsonLines = fc
	.array(fc.oneof({weight: 6, arbitrary: record.map(value => JSON.stringify(value))}, fc.constantFrom('', '{"broken": ', '[1,]', ' ', '{"a":1}\r', '{"id": 7, "name": "x", "ok": tru}', '{"new": {"deep": [1, 2.5, "three"]}, x', '{"a":1} x', 'tru', '{"id": 8, "tags": ["a", "')), {maxLength: 40})
	.map(lines => encoder.encode(lines.join('\n') + (lines.length % 2 ? '\n' : '')));
const document = fc.array(record, {maxLength: 30}).map(records => encoder.encode(JSON.stringify({records}, null, records.length % 3)));
const arrayDocument = fc.array(record, {maxLength: 40}).map(records => encoder.encode(JSON.stringify(records, null, records.length % 3)));

describe('SweepProcessor', () => {
	test('JSON Lines: any chunk size and finishing order gives the one-chunk report', async () => {
		await fc.assert(
			fc.asyncProperty(
				jsonLines.chain(bytes => fc.tuple(fc.constant(bytes), fc.integer({min: 1, max: Math.max(1, bytes.length)}), fc.array(fc.nat(50), {minLength: 60, maxLength: 60}))),
				async ([bytes, chunkSize, shuffle]) => {
					const count = Math.max(1, Math.ceil(bytes.length / chunkSize));
					const order = [...Array.from({length: count}, (_, index) => index)].sort((a, b) => (shuffle[a % 60]! - shuffle[b % 60]!) || a - b);
					const whole = await sweepInChunks(bytes, 'jsonl', Math.max(1, bytes.length));
					expect(await sweepInChunks(bytes, 'jsonl', chunkSize, order)).toEqual(whole);
				},
			),
			{numRuns: 300},
		);
	});

	test('JSON Lines and JSON: resuming from the checkpoint state after any chunk gives the same report, names aside', async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.oneof(jsonLines.map(bytes => [bytes, 'jsonl'] as const), document.map(bytes => [bytes, 'json'] as const)).chain(([bytes, format]) =>
					fc.tuple(fc.constant(bytes), fc.constant(format), fc.integer({min: 1, max: Math.max(1, bytes.length)}), fc.nat(40)),
				),
				async ([bytes, format, chunkSize, stopAfter]) => {
					const whole = await sweepInChunks(bytes, format, chunkSize);
					expect(nameless(await sweepInChunks(bytes, format, chunkSize, undefined, stopAfter))).toEqual(nameless(whole));
				},
			),
			{numRuns: 300},
		);
	});

	test('one JSON document in parallel units: any chunk size, finishing order and resume (parallel or not) gives the one-chunk report', async () => {
		await fc.assert(
			fc.asyncProperty(
				fc.oneof(arrayDocument, arrayDocument, document).chain(bytes =>
					fc.tuple(fc.constant(bytes), fc.integer({min: 1, max: Math.max(1, bytes.length)}), fc.array(fc.nat(50), {minLength: 60, maxLength: 60}), fc.nat(40), fc.boolean()),
				),
				async ([bytes, chunkSize, shuffle, stopAfter, parallelAfter]) => {
					const count = Math.max(1, Math.ceil(bytes.length / chunkSize));
					const order = [...Array.from({length: count}, (_, index) => index)].sort((a, b) => (shuffle[a % 60]! - shuffle[b % 60]!) || a - b);
					const whole = await sweepInChunks(bytes, 'json', Math.max(1, bytes.length));
					expect(await sweepInChunks(bytes, 'json', chunkSize, order, undefined, [true, true])).toEqual(whole);
					expect(nameless(await sweepInChunks(bytes, 'json', chunkSize, order, stopAfter, [true, parallelAfter]))).toEqual(nameless(whole));
					expect(nameless(await sweepInChunks(bytes, 'json', chunkSize, order, stopAfter, [false, true]))).toEqual(nameless(whole));
				},
			),
			{numRuns: 200},
		);
	});

	test('a JSON chunk that failed half-way and is retried is not counted twice', async () => {
		const bytes = encoder.encode(JSON.stringify({records: Array.from({length: 200}, (_, id) => ({id, name: `n${id}`}))}));
		const chunks = planChunks(bytes.length, 1000);
		const whole = await sweepInChunks(bytes, 'json', 1000);
		// The read of chunk 2 returns 100 bytes (a short read), then fails: the scanner has seen part of the chunk.
		let failOnce = true;
		const input = memoryInput(bytes);
		const flaky: ChunkInput = {
			...input,
			async read(buffer, offset, length, position) {
				if (failOnce && position === 2000) return input.read(buffer, offset, 100, position);
				if (failOnce && position === 2100) {
					failOnce = false;
					throw new Error('EIO');
				}

				return input.read(buffer, offset, length, position);
			},
		};
		const processor = new SweepProcessor(flaky, bytes.length, {format: 'json', maxDepth: 8});
		for (const chunk of chunks) {
			try {
				await processor.process(chunk, ctx);
			} catch {
				await processor.process(chunk, {...ctx, attempt: 2});
			}

			await processor.commit(chunk, {mac: 'none'});
		}

		expect(failOnce).toBe(false);
		expect(nameless(reportData(processor.outcome(), 'mem'))).toEqual(nameless(whole));
	});

	test('line numbers of bad lines count the lines of earlier chunks', async () => {
		const bytes = encoder.encode('1\n2\n{bad\n\n3\n[}\n');
		const report = await sweepInChunks(bytes, 'jsonl', 3);
		expect(report.badLines!.map(line => line.line)).toEqual([3, 6]);
		expect(report.lines).toMatchObject({total: 6, records: 3, blank: 1, bad: 2});
	});
});
