/**
 * AuditTail against real files on disk, watched by chokidar: appends, partial lines, truncation,
 * rotation, garbage, seq gaps, versions, globs, late-appearing logs, and the round trip
 * emitter -> logger -> file -> tail giving back the same events.
 */
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, afterEach, describe, expect, it} from 'vitest';
import {JobEmitter} from '../../source/chunker/emitter.js';
import type {AnomalyEvent, CageEvent} from '../../source/chunker/events.js';
import {formatAuditLine} from '../../source/audit/format.js';
import {AuditLogger} from '../../source/audit/logger.js';
import {AuditTail, auditTailJob} from '../../source/audit/tail.js';
import {reduceEvents} from '../../source/telemetry/reducer.js';
import {makeSandbox, waitFor} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-audit-tail-');
afterAll(() => sandbox.cleanup());
let counter = 0;
const freshDir = () => {
	const directory = path.join(sandbox.dir, `case-${counter++}`);
	fs.mkdirSync(directory, {recursive: true});
	return directory;
};

const tails: AuditTail[] = [];
afterEach(async () => {
	await Promise.all(tails.splice(0).map(async tail => tail.close()));
});

/** A durable event of `job` with `seq` (job:paused: the smallest event). */
const paused = (job: string, seq: number, bytesDone = seq): CageEvent => ({type: 'job:paused', bytesDone, job, ts: 1_700_000_000_000 + seq, seq});
const line = (event: CageEvent) => formatAuditLine(event);

function follow(patterns: string[], options: {fromStart?: boolean; follow?: boolean; sweepMs?: number; runningWithinMs?: number; silentMs?: number} = {}) {
	const events: CageEvent[] = [];
	const tail = new AuditTail(patterns, {onEvent: event => events.push(event), ...options});
	tails.push(tail);
	const anomalies = () => events.filter((event): event is AnomalyEvent => event.type === 'anomaly');
	const durable = () => events.filter(event => event.type !== 'anomaly');
	return {tail, events, anomalies, durable};
}

const timing = {timeout: 10_000, interval: 20};

describe('AuditTail', () => {
	it('from the end: existing lines are skipped, appended lines arrive within 500 ms', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, line(paused('a', 0)) + line(paused('a', 1)));
		const {tail, durable, anomalies} = follow([file]);
		await tail.start();
		expect(durable()).toEqual([]);
		const latencies: number[] = [];
		for (let seq = 2; seq < 7; seq++) {
			const started = performance.now();
			fs.appendFileSync(file, line(paused('a', seq)));
			await waitFor(() => durable().length === seq - 1, {...timing, what: `seq ${seq}`});
			latencies.push(performance.now() - started);
		}

		expect(durable().map(event => event.seq)).toEqual([2, 3, 4, 5, 6]);
		expect(durable()[0]).toEqual(paused('a', 2));
		expect(anomalies()).toEqual([]);
		latencies.sort((a, b) => a - b);
		expect(latencies[2]).toBeLessThan(500);
	});

	it('appends closer together than chokidar\'s 50 ms change throttle all arrive promptly (not by the sweep)', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, '');
		// A slow safety sweep, so an append that only the sweep found would take seconds.
		const {tail, durable} = follow([file], {sweepMs: 10_000});
		await tail.start();
		const latencies: number[] = [];
		for (let seq = 0; seq < 40; seq++) {
			await new Promise(resolve => setTimeout(resolve, 10 + ((seq * 37) % 60)));
			const started = performance.now();
			fs.appendFileSync(file, line(paused('a', seq)));
			await waitFor(() => durable().length === seq + 1, {timeout: 15_000, interval: 2, what: `seq ${seq}`});
			latencies.push(performance.now() - started);
		}

		expect(Math.max(...latencies)).toBeLessThan(1500);
	});

	it('from the start: the history is replayed first, then appends', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, line(paused('a', 0)) + line(paused('a', 1)));
		const {tail, durable} = follow([file], {fromStart: true});
		await tail.start();
		expect(durable().map(event => event.seq)).toEqual([0, 1]);
		fs.appendFileSync(file, line(paused('a', 2)));
		await waitFor(() => durable().length === 3, timing);
	});

	it('a partial line waits for its newline (also split inside a multi-byte character)', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, '');
		const {tail, events} = follow([file]);
		await tail.start();
		const event: CageEvent = {type: 'chunk:skipped', chunk: 0, start: 0, size: 1, reason: 'skipped by user — ☃ ünïcödé', job: 'a', ts: 1, seq: 0};
		const bytes = Buffer.from(line(event));
		const cut = bytes.indexOf(Buffer.from('☃')) + 1;
		fs.appendFileSync(file, bytes.subarray(0, cut));
		await new Promise(resolve => setTimeout(resolve, 700));
		expect(events).toEqual([]);
		fs.appendFileSync(file, bytes.subarray(cut));
		await waitFor(() => events.length === 1, timing);
		expect(events[0]).toEqual(event);
	});

	it('copy-truncate: a file that shrinks is read again from its start', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, '');
		const {tail, durable, anomalies} = follow([file]);
		await tail.start();
		fs.appendFileSync(file, line(paused('a', 0)) + line(paused('a', 1)) + line(paused('a', 2)));
		await waitFor(() => durable().length === 3, timing);
		fs.truncateSync(file, 0);
		fs.appendFileSync(file, line(paused('a', 3)));
		await waitFor(() => durable().length === 4, timing);
		fs.appendFileSync(file, line(paused('a', 4)));
		await waitFor(() => durable().length === 5, timing);
		expect(durable().map(event => event.seq)).toEqual([0, 1, 2, 3, 4]);
		expect(anomalies()).toEqual([]);
	});

	it('rotation (rename + new file): the old file is drained, late lines in it too, then the new one from 0', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, '');
		const {tail, durable, anomalies} = follow([file]);
		await tail.start();
		fs.appendFileSync(file, line(paused('a', 0)));
		await waitFor(() => durable().length === 1, timing);
		// Rename and append to the renamed file in the same breath (a writer still on the old fd).
		const old = fs.openSync(file, 'a');
		fs.appendFileSync(file, line(paused('a', 1)));
		fs.renameSync(file, `${file}.1`);
		fs.writeSync(old, line(paused('a', 2)));
		fs.writeFileSync(file, line(paused('b', 0)));
		await waitFor(() => durable().length === 4, timing);
		fs.writeSync(old, line(paused('a', 3)));
		fs.closeSync(old);
		fs.appendFileSync(file, line(paused('b', 1)));
		await waitFor(() => durable().length === 6, timing);
		const byJob = (job: string) => durable().filter(event => event.job === job).map(event => event.seq);
		expect(byJob('a')).toEqual([0, 1, 2, 3]);
		expect(byJob('b')).toEqual([0, 1]);
		expect(anomalies()).toEqual([]);
		expect(tail.files).toEqual([file]);
	});

	it('a glob that matches the rotated files too: nothing is read twice', async () => {
		const directory = freshDir();
		const file = path.join(directory, 'audit.jsonl');
		fs.writeFileSync(`${file}.1`, line(paused('a', 0)) + line(paused('a', 1)));
		fs.writeFileSync(file, line(paused('a', 2)));
		const {tail, durable, anomalies} = follow([path.join(directory, 'audit.jsonl*')], {fromStart: true});
		await tail.start();
		expect(durable().map(event => event.seq)).toEqual([0, 1, 2]);
		fs.renameSync(`${file}.1`, `${file}.2`);
		fs.renameSync(file, `${file}.1`);
		fs.writeFileSync(file, line(paused('a', 3)));
		await waitFor(() => durable().length === 4, timing);
		fs.appendFileSync(file, line(paused('a', 4)));
		await waitFor(() => durable().length === 5, timing);
		// Two sweeps later there are still no duplicates (every path was re-checked).
		await new Promise(resolve => setTimeout(resolve, 2200));
		expect(durable().map(event => event.seq)).toEqual([0, 1, 2, 3, 4]);
		expect(anomalies()).toEqual([]);
	});

	it('garbage lines become audit-malformed-line anomalies naming file and line; the rest is read', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, '');
		const {tail, durable, anomalies} = follow([file]);
		await tail.start();
		const bad = [
			'not json at all',
			'[1,2,3]',
			JSON.stringify({v: 1, ts: 5, job: 'a', seq: 1, type: 'chunk:done', chunk: 0}),
			JSON.stringify({v: 1, ts: 5, job: 'a', seq: 1, type: 'chunk:exploded'}),
			JSON.stringify({v: 1, ts: 'yesterday', job: 'a', seq: 1, type: 'job:paused', bytesDone: 0}),
			JSON.stringify({v: 1, ts: 5, job: 'a', seq: 1, type: 'anomaly', severity: 'warn', code: 'made-up', message: 'x'}),
			JSON.stringify({ts: 5, job: 'a', seq: 1, type: 'job:paused', bytesDone: 0}),
		];
		fs.appendFileSync(file, line(paused('a', 0)) + bad.join('\n') + '\n' + line(paused('a', 1)));
		await waitFor(() => durable().length === 2 && anomalies().length === bad.length, timing);
		expect(durable().map(event => event.seq)).toEqual([0, 1]);
		for (const [index, anomaly] of anomalies().entries()) {
			expect(anomaly.code).toBe('audit-malformed-line');
			expect(anomaly.message).toContain(`${file}:${index + 2}:`);
		}

		expect(anomalies()[2]!.message).toContain('chunk:done without "start"');
		expect(anomalies()[3]!.message).toContain('chunk:exploded');
		expect(anomalies()[5]!.message).toContain('code');
		// The tail's own events, numbered in its own sequence; the message names the line's job, or
		// for a line without one, the job of the line before it.
		expect(anomalies().map(anomaly => [anomaly.job, anomaly.seq])).toEqual(bad.map((_line, index) => [auditTailJob, index]));
		expect(anomalies().map(anomaly => anomaly.message.split(': ')[1])).toEqual(['after job a', 'after job a', 'job a', 'job a', 'job a', 'job a', 'job a']);
	});

	it('absurd chunk ids and counts are malformed lines, not events: the replay goes on and the dashboard state stays small', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		const start = (job: string, chunks: number, seq = 0) =>
			JSON.stringify({v: 1, ts: 1, job, seq, type: 'job:start', kind: 'hash', source: '/x', output: null, size: 13, chunkSize: 1, chunks, chunksDone: 0, bytesDone: 0, jobs: 1, pid: 1, resumed: false});
		const chunkStart = (job: string, seq: number, chunk: number) => JSON.stringify({v: 1, ts: 2, job, seq, type: 'chunk:start', chunk, start: 0, size: 1, attempt: 1});
		const lines = [
			start('a', 13),
			chunkStart('a', 1, 4_000_000_000_000), // The reviewer's line: "Invalid typed array length".
			chunkStart('a', 2, 14), // Past the 13 chunks job a announced.
			chunkStart('a', 3, 12),
			start('b', 2 ** 40),
			JSON.stringify({v: 1, ts: 3, job: 'b', seq: 1, type: 'job:checkpoint', path: '/c', chunksDone: 2 ** 40, bytesDone: 0}),
			start('s', 0), // A stream: no plan, any id below the planner's maximum.
			chunkStart('s', 1, 100_000),
			chunkStart('a', 4, 3),
		];
		fs.writeFileSync(file, lines.join('\n') + '\n');
		const {tail, events, anomalies, durable} = follow([file], {fromStart: true, follow: false});
		await tail.start();
		const malformed = anomalies().filter(anomaly => anomaly.code === 'audit-malformed-line');
		expect(malformed.map(anomaly => anomaly.message.split(': ').slice(0, 3).join(': '))).toEqual([
			`${file}:2: job a: malformed line`,
			`${file}:3: job a: malformed line`,
			`${file}:5: job b: malformed line`,
			`${file}:6: job b: malformed line`,
		]);
		expect(malformed[0]!.message).toContain('"chunk" is not a chunk id (a whole number below 16777216)');
		expect(malformed[1]!.message).toContain("chunk:start: chunk 14 is outside the job's plan of 13 chunk(s)");
		expect(malformed[2]!.message).toContain('"chunks" is not a chunk count (a whole number up to 16777216)');
		// Refused lines are events missing from their job, as the next line of job a says.
		expect(anomalies().filter(anomaly => anomaly.code === 'audit-sequence-gap').map(anomaly => anomaly.message)).toEqual([
			`${file}:4: job a: seq jumps from 0 to 3 (chunk:start): 2 event(s) missing`,
		]);
		expect(durable().map(event => `${event.job}${event.seq}`)).toEqual(['a0', 'a3', 's0', 's1', 'a4']);
		const state = reduceEvents(events);
		expect(state.jobs.get('a')!.chunkCount).toBe(13);
		expect(state.jobs.get('a')!.chunks.length).toBe(64);
		expect(state.jobs.get('s')!.chunkCount).toBe(100_001);
	});

	it('a line onEvent throws on is reported and skipped; the lines after it, in the same read, still arrive', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, '');
		const events: CageEvent[] = [];
		const onEvent = (event: CageEvent) => {
			if (event.type === 'job:paused' && event.seq === 1) throw new RangeError('Invalid typed array length: 4398046511104');
			events.push(event);
		};

		const tail = new AuditTail([file], {onEvent});
		tails.push(tail);
		await tail.start();
		// One append, so the three lines come in one read.
		fs.appendFileSync(file, line(paused('a', 0)) + line(paused('a', 1)) + line(paused('a', 2)));
		await waitFor(() => events.some(event => event.type === 'job:paused' && event.seq === 2), timing);
		expect(events.filter(event => event.type === 'job:paused').map(event => event.seq)).toEqual([0, 2]);
		const anomaly = events.find((event): event is AnomalyEvent => event.type === 'anomaly');
		expect(anomaly).toMatchObject({code: 'audit-malformed-line'});
		expect(anomaly!.message).toBe(`${file}:2: job a: cannot show this line (job:paused): Invalid typed array length: 4398046511104; line skipped`);
		// No-follow: the replay ends normally, with every other line.
		const replayed: CageEvent[] = [];
		const once = new AuditTail([file], {fromStart: true, follow: false, onEvent: event => (onEvent(event), replayed.push(event))});
		await once.start();
		expect(replayed.filter(event => event.type === 'job:paused').map(event => event.seq)).toEqual([0, 2]);
	});

	it('garbage before any valid line is reported under the audit-tail job', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, 'garbage\n\n');
		const {tail, anomalies} = follow([file], {fromStart: true, follow: false});
		await tail.start();
		expect(anomalies().map(anomaly => [anomaly.job, anomaly.seq, anomaly.message.split(': ')[0]])).toEqual([
			[auditTailJob, 0, `${file}:1`],
			[auditTailJob, 1, `${file}:2`],
		]);
	});

	it('the tail\'s anomalies never take a job\'s seq: they are audit-tail\'s events, naming the job, and a replay ends on the job', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		// Job a's seq 2 was torn (disk full): its half line, then seq 3.
		const torn = line(paused('a', 2)).slice(0, 30);
		fs.writeFileSync(file, line(paused('a', 0)) + line(paused('a', 1)) + `${torn}\n` + line(paused('a', 3)) + line({type: 'job:done', outcome: 'completed', bytesDone: 3, durationMs: 9, job: 'a', ts: 9, seq: 4}) + 'x\n');
		const {tail, events, anomalies} = follow([file], {fromStart: true, follow: false});
		await tail.start();
		expect(anomalies().map(anomaly => [anomaly.job, anomaly.seq, anomaly.code, anomaly.message.split(': ').slice(0, 2).join(': ')])).toEqual([
			[auditTailJob, 0, 'audit-malformed-line', `${file}:3: after job a`],
			[auditTailJob, 1, 'audit-sequence-gap', `${file}:4: job a`],
			[auditTailJob, 2, 'audit-malformed-line', `${file}:6: after job a`],
		]);
		// Job a's events are its own, numbered as it wrote them: no seq appears twice.
		const seqs = events.filter(event => event.job === 'a').map(event => event.seq);
		expect(seqs).toEqual([0, 1, 3, 4]);
		// The dashboard ends on job a, not on the audit-tail job its last anomaly created.
		const state = reduceEvents(events);
		expect(state.selected).toBe('a');
		expect(state.order).toEqual(['a', auditTailJob]);
		expect(state.jobs.get(auditTailJob)!.anomalies.map(anomaly => anomaly.seq)).toEqual([2, 1, 0]);
	});

	it('jobs: only the chosen jobs\' lines, and the anomalies about them or about no job', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, ['first garbage', line(paused('a', 0)).trim(), 'after a', line(paused('b', 0)).trim(), 'after b', line(paused('a', 5)).trim(), line(paused('b', 3)).trim()].join('\n') + '\n');
		const events: CageEvent[] = [];
		const tail = new AuditTail([file], {fromStart: true, follow: false, jobs: job => job === 'b', onEvent: event => events.push(event)});
		await tail.start();
		expect(events.map(event => (event.type === 'anomaly' ? event.message.split(': ').slice(0, 2).join(': ') : `${event.job}${event.seq}`))).toEqual([
			`${file}:1: malformed line`,
			'b0',
			`${file}:5: after job b`,
			`${file}:7: job b`,
			'b3',
		]);
	});

	it('seq gaps and out-of-order lines become audit-sequence-gap anomalies; a progress sample takes a seq of its own', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		const progress = (seq: number): CageEvent => ({type: 'chunk:progress', chunk: 0, bytes: 1, bytesDone: 1, job: 'a', ts: 1, seq});
		fs.writeFileSync(
			file,
			[paused('a', 0), progress(1), paused('a', 2), progress(3), progress(3), paused('a', 4), paused('a', 7), paused('a', 5), paused('b', 0), paused('a', 8)]
				.map(event => line(event))
				.join(''),
		);
		const {tail, events, anomalies} = follow([file], {fromStart: true, follow: false});
		await tail.start();
		expect(anomalies().map(anomaly => anomaly.code)).toEqual(['audit-sequence-gap', 'audit-sequence-gap', 'audit-sequence-gap']);
		// Two lines with one seq: the second is a repeat, as for any other event.
		expect(anomalies()[0]!.message).toMatch(new RegExp(`^${file}:5: job a: seq 3 \\(chunk:progress\\) after seq 3: out of order`));
		expect(anomalies()[1]!.message).toMatch(new RegExp(`^${file}:7: job a: seq jumps from 4 to 7 .*2 event\\(s\\) missing`));
		expect(anomalies()[2]!.message).toMatch(new RegExp(`^${file}:8: job a: seq 5 .*out of order`));
		// The out-of-order lines are dropped; the line after the gap is kept.
		expect(events.filter(event => event.type !== 'anomaly').map(event => `${event.job}${event.seq}${event.type === 'chunk:progress' ? 'p' : ''}`)).toEqual([
			'a0',
			'a1p',
			'a2',
			'a3p',
			'a4',
			'a7',
			'b0',
			'a8',
		]);
	});

	it('reads a version 1 log (test/fixtures/audit-v1.jsonl): its chunk:progress lines take no seq, and its gaps are still found', async () => {
		const fixture = fileURLToPath(new URL('../fixtures/audit-v1.jsonl', import.meta.url));
		const {tail, events, anomalies} = follow([fixture], {fromStart: true, follow: false});
		await tail.start();
		// Only the lost lines (seq 4 and 5 before seq 6) and the late one (seq 4 after 6) are reported.
		expect(anomalies().map(anomaly => anomaly.code)).toEqual(['audit-sequence-gap', 'audit-sequence-gap']);
		expect(anomalies()[0]!.message).toMatch(new RegExp(`^${fixture}:8: job 20261201T000000-0a1b2c: seq jumps from 3 to 6 .*2 event\\(s\\) missing`));
		expect(anomalies()[1]!.message).toMatch(new RegExp(`^${fixture}:9: job 20261201T000000-0a1b2c: seq 4 .*out of order`));
		expect(events.filter(event => event.type !== 'anomaly').map(event => `${event.seq}${event.type}`)).toEqual([
			'0job:start',
			'1chunk:start',
			'2chunk:progress',
			'2chunk:done',
			'3chunk:progress',
			'3chunk:progress',
			'3chunk:done',
			'6chunk:done',
			'7job:done',
		]);
		// The events are the ones the old build emitted (no "v"), field for field.
		expect(events[0]).toEqual({type: 'job:start', kind: 'encrypt', source: '/data/big.tar', output: '/data/big.tar.age', size: 3072, chunkSize: 1024, chunks: 3, chunksDone: 0, bytesDone: 0, jobs: 2, pid: 4242, resumed: false, job: '20261201T000000-0a1b2c', ts: 1_764_547_200_000, seq: 0});
	});

	it('a copy of a log already read (copy-and-truncate into a file the glob matches) is one report, not one per line', async () => {
		const directory = freshDir();
		const original = path.join(directory, 'audit.jsonl');
		const events200 = Array.from({length: 200}, (_, seq) => paused('a', seq));
		fs.writeFileSync(original, events200.map(event => line(event)).join(''));
		const {tail, durable, anomalies} = follow([path.join(directory, 'audit.jsonl*')], {fromStart: true, sweepMs: 100});
		await tail.start();
		await waitFor(() => durable().length === 200, timing);
		fs.copyFileSync(original, `${original}.1`);
		fs.truncateSync(original, 0);
		fs.appendFileSync(original, line(paused('a', 200)));
		await waitFor(() => durable().length === 201, timing);
		await new Promise(resolve => setTimeout(resolve, 300));
		expect(durable().map(event => event.seq)).toEqual(Array.from({length: 201}, (_, seq) => seq));
		const repeats = anomalies().filter(anomaly => anomaly.code === 'audit-sequence-gap');
		expect(repeats).toHaveLength(1);
		expect(repeats[0]!.message).toContain(`${original}.1:1: job a: seq 0 (job:paused) after seq`);
		expect(repeats[0]!.message).toContain('skipped, with the repeated lines right after it');
	});

	it('an unknown version is reported (audit-unknown-version) and skipped', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, line(paused('a', 0)) + JSON.stringify({v: 3, ts: 1, job: 'a', seq: 1, type: 'job:paused', bytesDone: 0, extra: {}}) + '\n');
		const {tail, anomalies, durable} = follow([file], {fromStart: true, follow: false});
		await tail.start();
		expect(durable()).toHaveLength(1);
		expect(anomalies()).toHaveLength(1);
		expect(anomalies()[0]).toMatchObject({code: 'audit-unknown-version', job: auditTailJob});
		expect(anomalies()[0]!.message).toContain(`${file}:2: job a: unknown audit log version`);
		expect(anomalies()[0]!.message).toContain('version 3 (this cage reads versions 1 and 2)');
	});

	it('no-follow reports an incomplete last line and ends', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, line(paused('a', 0)) + line(paused('a', 1)).slice(0, 20));
		const {tail, anomalies, durable} = follow([file], {fromStart: true, follow: false});
		await tail.start();
		expect(durable()).toHaveLength(1);
		expect(anomalies()).toHaveLength(1);
		expect(anomalies()[0]!.message).toContain(`${file}:2: after job a: incomplete last line`);
	});

	it('a line longer than maxLineBytes is reported once and skipped up to its newline, however it arrives', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, line(paused('a', 0)));
		const {tail, durable, anomalies} = follow([file], {fromStart: true});
		await tail.start();
		const block = Buffer.alloc(300 * 1024, 'x');
		for (let index = 0; index < 9; index++) {
			fs.appendFileSync(file, block);
			await new Promise(resolve => setTimeout(resolve, 20));
		}

		await waitFor(() => anomalies().length === 1, timing);
		fs.appendFileSync(file, `\n${line(paused('a', 1))}`);
		await waitFor(() => durable().length === 2, timing);
		expect(durable().map(event => event.seq)).toEqual([0, 1]);
		expect(anomalies()).toHaveLength(1);
		expect(anomalies()[0]).toMatchObject({code: 'audit-malformed-line'});
		expect(anomalies()[0]!.message).toBe(`${file}:2: after job a: malformed line: longer than 1 MiB (audit lines are a few KiB), not an audit line; skipped up to its newline`);
		// Line numbers go on from there.
		fs.appendFileSync(file, 'garbage\n');
		await waitFor(() => anomalies().length === 2, timing);
		expect(anomalies()[1]!.message).toContain(`${file}:4: after job a: malformed line: not JSON`);
	});

	it('a big file without newlines is read in bounded memory and linear time (100 MB took 14 s)', async () => {
		const file = path.join(freshDir(), 'binary.jsonl');
		const fd = fs.openSync(file, 'w');
		const block = Buffer.alloc(4 * 1024 * 1024, 'x');
		for (let index = 0; index < 24; index++) fs.writeSync(fd, block);
		fs.writeSync(fd, `\n${line(paused('a', 0))}`);
		fs.writeSync(fd, block);
		fs.closeSync(fd);
		const events: CageEvent[] = [];
		let peak = 0;
		// Called after every block read: the memory held then is what the tail keeps between reads.
		const backpressure = () => {
			peak = Math.max(peak, process.memoryUsage().arrayBuffers);
			return undefined;
		};

		const tail = new AuditTail([file], {fromStart: true, follow: false, onEvent: event => events.push(event), backpressure});
		const before = process.memoryUsage().arrayBuffers;
		const started = performance.now();
		await tail.start();
		expect(performance.now() - started).toBeLessThan(3000);
		expect(peak - before).toBeLessThan(16 * 1024 * 1024);
		const anomalies = () => events.filter((event): event is AnomalyEvent => event.type === 'anomaly');
		expect(events.filter(event => event.type !== 'anomaly')).toHaveLength(1);
		// Each over-long line once; the last has no newline, and is not reported again as incomplete.
		expect(anomalies().map(anomaly => anomaly.message.split(': ')[0])).toEqual([`${file}:1`, `${file}:3`]);
	});

	it('waits for a log (and its directory) that does not exist yet', async () => {
		const directory = path.join(freshDir(), 'later', 'cage');
		const file = path.join(directory, 'audit.jsonl');
		const {tail, durable} = follow([file]);
		await tail.start();
		fs.mkdirSync(directory, {recursive: true});
		fs.writeFileSync(file, line(paused('a', 0)));
		await waitFor(() => durable().length === 1, timing);
		fs.appendFileSync(file, line(paused('a', 1)));
		await waitFor(() => durable().length === 2, timing);
	});

	it('a glob picks up new files as they appear, and ignores files that do not match', async () => {
		const directory = freshDir();
		const {tail, durable} = follow([path.join(directory, 'host-*.jsonl')]);
		await tail.start();
		fs.writeFileSync(path.join(directory, 'host-1.jsonl'), line(paused('h1', 0)));
		fs.writeFileSync(path.join(directory, 'other.jsonl'), line(paused('x', 0)));
		fs.writeFileSync(path.join(directory, 'host-2.jsonl'), line(paused('h2', 0)));
		await waitFor(() => durable().length === 2, timing);
		await new Promise(resolve => setTimeout(resolve, 1200));
		expect(durable().map(event => event.job).sort()).toEqual(['h1', 'h2']);
	});

	it('round trip: emitter -> AuditLogger -> file -> AuditTail gives back the same events', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		const {tail, events} = follow([file]);
		await tail.start();
		const emitter = new JobEmitter('round-trip');
		const logger = new AuditLogger({path: file, maxBytes: 0, keep: 0});
		const emitted: CageEvent[] = [];
		emitter.pipe(event => emitted.push(event));
		logger.attach(emitter);
		emitter.send({type: 'job:start', kind: 'hash', source: '/x', output: null, size: null, chunkSize: 1024, chunks: 0, chunksDone: 0, bytesDone: 0, jobs: 2, pid: 42, resumed: false});
		emitter.send({type: 'chunk:start', chunk: 0, start: 0, size: 1024, attempt: 1, item: 0});
		emitter.send({type: 'chunk:failed', chunk: 0, start: 0, size: 1024, attempt: 1, willRetry: true, error: 'EIO', code: 'EIO'});
		emitter.send({type: 'item:start', item: 0, items: 1, path: '/x', output: null, size: 1024, chunkSize: 1024, chunks: 1});
		emitter.send({type: 'item:done', item: 0, path: '/x', bytes: 1024, durationMs: 1.5});
		emitter.send({type: 'item:skipped', item: 1, path: '/y', reason: 'gone'});
		emitter.send({type: 'job:resumed', bytesDone: 0});
		emitter.send({type: 'job:done', outcome: 'interrupted', bytesDone: 1024, durationMs: 20, checkpoint: '/x.ck', resumeCommand: 'cage resume /x', itemsDone: 1, itemsSkipped: 1});
		logger.close();
		await waitFor(() => events.length === emitted.length, timing);
		expect(events).toEqual(emitted);
		expect(events.map(event => JSON.stringify(event))).toEqual(emitted.map(event => JSON.stringify(event)));
	});
});

describe('AuditTail joining the jobs that run when it starts at the end', () => {
	const chunkSize = 1024;
	/** A job's lines, timestamped from `ts` on: its start, `chunks` chunk:done, and (when `done`) its end. */
	function job(id: string, ts: number, chunks: number, done: boolean): CageEvent[] {
		const events: CageEvent[] = [{type: 'job:start', kind: 'encrypt', source: `/data/${id}`, output: `/data/${id}.age`, size: 64 * chunkSize, chunkSize, chunks: 64, chunksDone: 0, bytesDone: 0, jobs: 2, pid: 4242, resumed: false, job: id, ts, seq: 0}];
		for (let chunk = 0; chunk < chunks; chunk++) events.push({type: 'chunk:done', chunk, start: chunk * chunkSize, size: chunkSize, durationMs: 3, attempt: 1, bytesDone: (chunk + 1) * chunkSize, job: id, ts: ts + chunk + 1, seq: chunk + 1});
		if (done) events.push({type: 'job:done', outcome: 'completed', bytesDone: chunks * chunkSize, durationMs: 50, job: id, ts: ts + chunks + 1, seq: chunks + 1});
		return events;
	}

	/** The events of several jobs in one file, interleaved in time order. */
	const interleave = (...jobs: CageEvent[][]) => jobs.flat().sort((a, b) => a.ts - b.ts);

	it('hands on a running job from its job:start, and only its lines, then appends; line numbers stay right', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		const now = Date.now();
		const running = job('running', now - 60_000, 40, false);
		// Enough lines of ended jobs in between that the start lies several read blocks back.
		const ended = Array.from({length: 90}, (_, index) => job(`ended-${index}`, now - 59_000 + index * 10, 63, true));
		const lines = interleave(running, ...ended).map(line);
		fs.writeFileSync(file, lines.join(''));
		expect(fs.statSync(file).size).toBeGreaterThan(3 * 256 * 1024);
		const {tail, durable, anomalies} = follow([file]);
		await tail.start();
		expect(durable()).toEqual(running);
		const next: CageEvent = {type: 'chunk:done', chunk: 40, start: 40 * chunkSize, size: chunkSize, durationMs: 3, attempt: 1, bytesDone: 41 * chunkSize, job: 'running', ts: now, seq: 41};
		fs.appendFileSync(file, line(next) + 'not json\n');
		await waitFor(() => durable().length === running.length + 1 && anomalies().length === 1, timing);
		expect(durable().at(-1)).toEqual(next);
		expect(anomalies()[0]!.message).toContain(`${file}:${lines.length + 2}: `);
		expect(anomalies().some(anomaly => anomaly.code === 'audit-sequence-gap')).toBe(false);
	});

	it('does not join a job whose newest line is older than runningWithinMs (killed with no job:done), nor ended jobs', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		const now = Date.now();
		fs.writeFileSync(file, interleave(job('killed', now - 3_600_000, 5, false), job('finished', now - 30_000, 5, true)).map(line).join(''));
		const {tail, durable} = follow([file]);
		await tail.start();
		expect(durable()).toEqual([]);
		const {tail: wider, durable: joined} = follow([file], {runningWithinMs: 2 * 3_600_000});
		await wider.start();
		expect(joined().map(event => event.job)).toEqual(Array.from({length: 6}, () => 'killed'));
	});

	it('a job whose start is not in the file (a rotated-away log) counts from the end, as before', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		const now = Date.now();
		const started = job('rotated', now - 10_000, 8, false);
		fs.writeFileSync(file, started.slice(1).map(line).join(''));
		const {tail, durable, anomalies} = follow([file]);
		await tail.start();
		expect(durable()).toEqual([]);
		const next: CageEvent = {type: 'chunk:done', chunk: 8, start: 8 * chunkSize, size: chunkSize, durationMs: 3, attempt: 1, bytesDone: 9 * chunkSize, job: 'rotated', ts: now, seq: 9};
		fs.appendFileSync(file, line(next));
		await waitFor(() => durable().length === 1, timing);
		expect(durable()).toEqual([next]);
		expect(anomalies()).toEqual([]);
	});

	it('a copy-truncate ends the join: a new job in the truncated log is handed on whole', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		const now = Date.now();
		const stalled = job('stalled', now - 60_000, 20, false);
		fs.writeFileSync(file, interleave(stalled, job('old', now - 59_000, 20, true)).map(line).join(''));
		const {tail, durable} = follow([file]);
		await tail.start();
		expect(durable()).toEqual(stalled);
		fs.truncateSync(file, 0);
		await new Promise(resolve => setTimeout(resolve, 300));
		const fresh = job('fresh', Date.now(), 5, false);
		fs.appendFileSync(file, fresh.map(line).join(''));
		await waitFor(() => durable().filter(event => event.job === 'fresh').length === fresh.length, {...timing, what: 'the new job after the truncation'});
	});

	it('a job whose lines are in two of the files (across a rotation) is not joined: no false gap', async () => {
		const directory = freshDir();
		const now = Date.now();
		const across = job('across', now - 60_000, 40, false);
		const alone = job('alone', now - 30_000, 3, false);
		fs.writeFileSync(path.join(directory, 'audit.jsonl.1'), across.slice(0, 20).map(line).join(''));
		fs.writeFileSync(path.join(directory, 'audit.jsonl'), interleave(across.slice(20), alone).map(line).join(''));
		const {tail, durable, anomalies} = follow([path.join(directory, 'audit.jsonl*')]);
		await tail.start();
		// The job that started in this file is still joined.
		expect(durable()).toEqual(alone);
		const next: CageEvent = {type: 'chunk:done', chunk: 40, start: 40 * chunkSize, size: chunkSize, durationMs: 3, attempt: 1, bytesDone: 41 * chunkSize, job: 'across', ts: Date.now(), seq: 41};
		fs.appendFileSync(path.join(directory, 'audit.jsonl'), line(next));
		await waitFor(() => durable().some(event => event.job === 'across'), timing);
		expect(durable().filter(event => event.job === 'across')).toEqual([next]);
		expect(anomalies()).toEqual([]);
	});

	it('CRLF line ends, multi-byte characters at block edges and a 300 KiB line: joined whole, line numbers right', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		const now = Date.now();
		const running = job('running', now - 60_000, 30, false);
		(running[0] as {source: string}).source = `/data/${'é界😀'.repeat(30_000)}`;
		const ended = Array.from({length: 60}, (_, index) => job(`ended-${index}`, now - 59_000 + index * 10, 63, true));
		const lines = interleave(running, ...ended).map(event => line(event).replace(/\n$/, '\r\n'));
		fs.writeFileSync(file, lines.join(''));
		const {tail, durable, anomalies} = follow([file]);
		await tail.start();
		expect(durable()).toEqual(running);
		fs.appendFileSync(file, 'garbage\n');
		await waitFor(() => anomalies().length === 1, timing);
		expect(anomalies()[0]!.message).toContain(`${file}:${lines.length + 1}: `);
	});

	it('a job that falls silent with no end is reported once (its process may have been killed), again after it speaks and falls silent again; paused and ended jobs are not', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		fs.writeFileSync(file, '');
		const {tail, anomalies} = follow([file], {silentMs: 400, sweepMs: 100});
		await tail.start();
		const now = Date.now();
		const silent = job('silent', now, 2, false);
		const paused: CageEvent[] = [...job('resting', now, 1, false), {type: 'job:paused', bytesDone: chunkSize, job: 'resting', ts: now + 5, seq: 2}];
		fs.appendFileSync(file, [...silent, ...paused, ...job('finished', now, 2, true)].map(line).join(''));
		const stalls = () => anomalies().filter(anomaly => anomaly.code === 'stall');
		await waitFor(() => stalls().length === 1, {...timing, what: 'the silent job reported'});
		expect(stalls()[0]!.message).toContain('job silent: no line for');
		expect(stalls()[0]!.message).toContain('killed (which leaves no job:done), stuck, or slower');
		expect(stalls()[0]!.job).toBe(auditTailJob);
		await new Promise(resolve => setTimeout(resolve, 600));
		expect(stalls()).toHaveLength(1);
		fs.appendFileSync(file, line({type: 'chunk:done', chunk: 2, start: 2 * chunkSize, size: chunkSize, durationMs: 3, attempt: 1, bytesDone: 3 * chunkSize, job: 'silent', ts: Date.now(), seq: 3}));
		await waitFor(() => stalls().length === 2, {...timing, what: 'the second silence reported'});
		expect(stalls().every(anomaly => anomaly.message.startsWith('job silent:'))).toBe(true);
	});

	it('a file that is one running job, from its very first byte, is joined whole', async () => {
		const file = path.join(freshDir(), 'audit.jsonl');
		const running = job('only', Date.now() - 1000, 3, false);
		fs.writeFileSync(file, running.map(line).join(''));
		const {tail, durable} = follow([file]);
		await tail.start();
		expect(durable()).toEqual(running);
	});
});
