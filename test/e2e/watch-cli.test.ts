/**
 * `cage watch` through the built binary, on audit logs written by real `cage encrypt` processes:
 * the replay report, following a job that starts later, live events vs tailed events, filters
 * and errors.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {formatAuditLine} from '../../source/audit/format.js';
import type {CageEvent} from '../../source/chunker/events.js';
import {reduceEvents} from '../../source/telemetry/reducer.js';
import {cage, makeSandbox, parseEvents, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-watch-cli-');
const {dir, env} = sandbox;
afterAll(() => sandbox.cleanup());
const defaultLog = path.join(dir, 'state', 'cage', 'audit.jsonl');
const key = path.join(dir, 'key.txt');
let recipient = '';
const size = 12 * 1024 * 1024 + 321;
const plain = path.join(dir, 'plain.bin');

beforeAll(() => {
	execFileSync('/usr/bin/age-keygen', ['-o', key], {stdio: 'ignore'});
	recipient = execFileSync('/usr/bin/age-keygen', ['-y', key]).toString().trim();
	writeRandomFile(plain, size);
});

const durable = (events: Array<Record<string, unknown>>) => events.filter(event => event.type !== 'chunk:progress');
const ndjson = (text: string) => text.split('\n').filter(line => line !== '').map(line => JSON.parse(line) as Record<string, unknown> & {type: string});

/** Chunk states and totals of every job, as the dashboard reducer sees them. */
function summary(events: Array<Record<string, unknown>>) {
	const state = reduceEvents(events as unknown as CageEvent[]);
	return [...state.jobs.values()].map(job => ({
		id: job.id,
		state: job.state,
		bytesDone: job.bytesDone,
		size: job.size,
		chunkCount: job.chunkCount,
		chunks: [...job.chunks.subarray(0, job.chunkCount)],
		chunkCounts: job.chunkCounts,
	}));
}

describe('cage watch', () => {
	it('--no-follow --progress json replays a real encrypt: every durable event, in order, validated', () => {
		const log = path.join(dir, 'replay', 'audit.jsonl');
		const run = cage(['encrypt', plain, '-r', recipient, '-o', path.join(dir, 'replay.age'), '--chunk-size', '1MiB', '--progress', 'json', '--audit-log', log], {env});
		expect(run.status).toBe(0);
		const live = parseEvents(run.stderr);

		const watch = cage(['watch', log, '--no-follow', '--progress', 'json'], {env});
		expect(watch.stderr).toBe('');
		expect(watch.status).toBe(0);
		const replayed = ndjson(watch.stdout);
		expect(replayed.filter(event => event.type === 'anomaly' && String(event.code).startsWith('audit-'))).toEqual([]);
		expect(durable(replayed)).toEqual(durable(live));
		expect(replayed.filter(event => event.type === 'chunk:done')).toHaveLength(13);
		expect(replayed.at(-1)).toMatchObject({type: 'job:done', outcome: 'completed', bytesDone: size});
		// At most one throughput sample a second made it into the log.
		const samples = replayed.filter(event => event.type === 'chunk:progress').map(event => event.ts as number);
		for (let index = 1; index < samples.length; index++) expect(samples[index]! - samples[index - 1]!).toBeGreaterThanOrEqual(1000);
	});

	it('live and log agree: the same chunk states and totals from encrypt --progress json and a concurrent cage watch', async () => {
		const log = path.join(dir, 'agree', 'audit.jsonl');
		const watcher = startCage(['watch', log, '--progress', 'json'], {env});
		await waitFor(() => watcher.stderr().includes('waiting for'), {timeout: 30_000, what: 'watch to start'});
		const output = path.join(dir, 'agree.age');
		const job = startCage(['encrypt', plain, '-r', recipient, '-o', output, '--chunk-size', '1MiB', '--rate', '8MiB', '--jobs', '2', '--progress', 'json', '--audit-log', log], {env});
		expect(await job.exited).toBe(0);
		const live = parseEvents(job.stderr());
		await waitFor(() => ndjson(watcher.stdout()).some(event => event.type === 'job:done'), {timeout: 30_000, what: 'job:done in the watch output'});
		watcher.child.kill('SIGTERM');
		expect(await watcher.exited).toBe(0);
		const tailed = ndjson(watcher.stdout());

		expect(durable(tailed)).toEqual(durable(live));
		const fromLog = summary(tailed);
		expect(fromLog).toEqual(summary(live));
		expect(fromLog).toHaveLength(1);
		expect(fromLog[0]).toMatchObject({state: 'done', bytesDone: size, size, chunkCount: 13});
		expect(fromLog[0]!.chunks.every(chunk => chunk === fromLog[0]!.chunks[0])).toBe(true);
		const back = execFileSync('age', ['-d', '-i', key, output], {maxBuffer: 64 * 1024 * 1024});
		expect(Buffer.compare(back, fs.readFileSync(plain))).toBe(0);
	});

	it('started while a job runs, it joins the job from its job:start (files, size, plan), then follows it to the end', async () => {
		const log = path.join(dir, 'join', 'audit.jsonl');
		const output = path.join(dir, 'join.age');
		const job = startCage(['encrypt', plain, '-r', recipient, '-o', output, '--chunk-size', '1MiB', '--rate', '4MiB', '--progress', 'json', '--audit-log', log], {env});
		await waitFor(() => parseEvents(job.stderr()).filter(event => event.type === 'chunk:done').length >= 3, {timeout: 30_000, what: 'three chunks done before the watch starts'});
		const watcher = startCage(['watch', log, '--progress', 'json'], {env});
		expect(await job.exited).toBe(0);
		await waitFor(() => ndjson(watcher.stdout()).some(event => event.type === 'job:done'), {timeout: 30_000, what: 'job:done in the watch output'});
		watcher.child.kill('SIGTERM');
		expect(await watcher.exited).toBe(0);
		const tailed = ndjson(watcher.stdout());
		expect(tailed[0]).toMatchObject({type: 'job:start', source: plain, output, size, chunks: 13});
		expect(tailed.filter(event => event.type === 'anomaly' && String(event.code).startsWith('audit-'))).toEqual([]);
		expect(durable(tailed)).toEqual(durable(parseEvents(job.stderr())));
	});

	it('follows the default log from before it exists; picks up a job started after it; SIGTERM exits 0', async () => {
		expect(fs.existsSync(defaultLog)).toBe(false);
		const watcher = startCage(['watch', '--progress', 'json'], {env});
		await waitFor(() => watcher.stderr().includes(`waiting for ${defaultLog}`), {timeout: 30_000, what: 'watch to wait for the log'});
		const run = cage(['encrypt', plain, '-r', recipient, '-o', path.join(dir, 'later.age'), '--chunk-size', '4MiB', '--progress', 'none'], {env});
		expect(run.status).toBe(0);
		await waitFor(() => ndjson(watcher.stdout()).some(event => event.type === 'job:done'), {timeout: 30_000, what: 'the job in the watch output'});
		watcher.child.kill('SIGTERM');
		expect(await watcher.exited).toBe(0);
		const events = ndjson(watcher.stdout());
		expect(events[0]).toMatchObject({type: 'job:start', kind: 'encrypt', size, chunks: 4});
		expect(events.at(-1)).toMatchObject({type: 'job:done', outcome: 'completed', bytesDone: size});
	});

	it('--progress plain prints a report line per job on stdout; --job filters by id or prefix', () => {
		const log = path.join(dir, 'plain', 'audit.jsonl');
		for (const name of ['one', 'two']) {
			expect(cage(['encrypt', plain, '-r', recipient, '-o', path.join(dir, `${name}.age`), '--chunk-size', '4MiB', '--progress', 'none', '--audit-log', log], {env}).status).toBe(0);
		}

		const jobs = ndjson(fs.readFileSync(log, 'utf8')).filter(event => event.type === 'job:start').map(event => event.job as string);
		expect(jobs).toHaveLength(2);
		const report = cage(['watch', log, '--no-follow', '--progress', 'plain'], {env});
		expect(report.status).toBe(0);
		expect(report.stdout.match(/completed: 12\.0 MiB in /g)).toHaveLength(2);
		// Every line of a report of several jobs names its job, the first job's too.
		for (const line of report.stdout.trim().split('\n')) expect(line).toMatch(/^\[[^\]]+\] /);
		const none = cage(['watch', log, '--no-follow', '--progress', 'plain', '--job', 'zzz'], {env});
		expect(none.status).toBe(1);
		expect(none.stderr).toContain(`no job whose id starts with 'zzz' in ${log}`);
		const one = cage(['watch', log, '--no-follow', '--progress', 'json', '--job', jobs[1]!.slice(0, 22)], {env});
		expect(one.status).toBe(0);
		expect(new Set(ndjson(one.stdout).map(event => event.job))).toEqual(new Set([jobs[1]]));
		const plainOne = cage(['watch', log, '--no-follow', '--progress', 'plain', '--job', jobs[0]!], {env});
		expect(plainOne.stdout).toMatch(/^encrypt .* -> .*one\.age: 12\.0 MiB, 4 chunk\(s\) of 4\.00 MiB/m);
		expect(plainOne.stdout).toMatch(/^completed: 12\.0 MiB in /m);
	});

	it('reports damage in a log as anomalies naming file and line, and keeps going', () => {
		const log = path.join(dir, 'damaged.jsonl');
		const source = fs.readFileSync(path.join(dir, 'plain', 'audit.jsonl'), 'utf8').split('\n');
		// Drop line 3 (seq 2: a gap), insert garbage as line 5 and a line from the future as line 8.
		expect(JSON.parse(source[2]!)).toMatchObject({seq: 2});
		const future = JSON.stringify({v: 9, ts: 1, job: 'x', seq: 0, type: 'job:paused', bytesDone: 0});
		const damaged = [source[0], source[1], source[3], source[4], '{"v":1,"ts":', source[5], source[6], future, ...source.slice(7)];
		fs.writeFileSync(log, damaged.join('\n'));
		const run = cage(['watch', log, '--no-follow', '--progress', 'json'], {env});
		expect(run.status).toBe(0);
		const anomalies = ndjson(run.stdout).filter(event => event.type === 'anomaly');
		expect(anomalies.map(event => event.code)).toEqual(['audit-sequence-gap', 'audit-malformed-line', 'audit-unknown-version']);
		expect(anomalies[0]!.message).toContain(`${log}:3: job ${JSON.parse(source[0]!).job}: seq jumps from 1 to 3`);
		expect(anomalies[1]!.message).toContain(`${log}:5: after job ${JSON.parse(source[0]!).job}: malformed line: not JSON`);
		expect(anomalies[2]!.message).toContain(`${log}:8: job x: unknown audit log version: version 9`);
		// The watcher's own events, numbered in its own sequence: never one of the job's seqs.
		expect(anomalies.map(event => [event.job, event.seq])).toEqual([
			['audit-tail', 0],
			['audit-tail', 1],
			['audit-tail', 2],
		]);
		expect(ndjson(run.stdout).filter(event => event.type === 'job:done')).toHaveLength(2);
	});

	it('a plain path works in a directory, or with a state directory, whose name has glob characters', () => {
		const events: CageEvent[] = [
			{type: 'job:paused', bytesDone: 1, job: 'globby', ts: 1_700_000_000_000, seq: 0},
			{type: 'job:resumed', bytesDone: 1, job: 'globby', ts: 1_700_000_000_001, seq: 1},
		];
		const text = events.map(event => formatAuditLine(event)).join('');
		const project = path.join(dir, 'globby', 'proj[1]');
		fs.mkdirSync(project, {recursive: true});
		fs.writeFileSync(path.join(project, 'audit.jsonl'), text);
		const relative = cage(['watch', 'audit.jsonl', '--no-follow', '--progress', 'json'], {env, cwd: project});
		expect(relative.stderr).toBe('');
		expect(relative.status).toBe(0);
		expect(ndjson(relative.stdout)).toEqual(events);
		const glob = cage(['watch', '*.jsonl', '--no-follow', '--progress', 'json'], {env, cwd: project});
		expect(glob.stderr).toBe('');
		expect(ndjson(glob.stdout)).toEqual(events);
		// No argument: the default log under XDG_STATE_HOME, here <...>/state{*}.
		const state = path.join(dir, 'globby', 'state{*}');
		fs.mkdirSync(path.join(state, 'cage'), {recursive: true});
		fs.writeFileSync(path.join(state, 'cage', 'audit.jsonl'), text);
		const configured = cage(['watch', '--no-follow', '--progress', 'json'], {env: {...env, XDG_STATE_HOME: state}});
		expect(configured.stderr).toBe('');
		expect(configured.status).toBe(0);
		expect(ndjson(configured.stdout)).toEqual(events);
	});

	it('Ctrl-C stops the first replay of a long log at once, following or not', async () => {
		const log = path.join(dir, 'long', 'audit.jsonl');
		fs.mkdirSync(path.dirname(log), {recursive: true});
		const chunks = 4096;
		const lines = [formatAuditLine({type: 'job:start', job: 'long', seq: 0, ts: 1, kind: 'hash', source: '/x', output: null, size: chunks, chunkSize: 1, chunks, chunksDone: 0, bytesDone: 0, jobs: 1, pid: 1, resumed: false} as CageEvent)];
		for (let seq = 1; seq <= 200_000; seq++) {
			lines.push(formatAuditLine({type: 'chunk:start', job: 'long', seq, ts: 1 + seq, chunk: seq % chunks, start: seq % chunks, size: 1, attempt: 1} as CageEvent));
		}

		fs.writeFileSync(log, lines.join(''));
		for (const follow of [[], ['--no-follow']]) {
			const run = startCage(['watch', log, '--from-start', '--progress', 'json', ...follow], {env});
			await waitFor(() => run.stdout().length > 0, {what: 'the first replayed events'});
			run.child.kill('SIGINT');
			expect(await run.exited).toBe(0);
			// It stopped part-way: far from every line was replayed.
			expect(run.stdout().split('\n').length).toBeLessThan(lines.length / 2);
		}
	}, 60_000);

	it('errors: a missing log with --no-follow exits 1; a bad --progress exits 2; --help has examples', () => {
		const missing = cage(['watch', path.join(dir, 'nope.jsonl'), '--no-follow'], {env});
		expect(missing.status).toBe(1);
		expect(missing.stderr).toContain(`no audit log at ${path.join(dir, 'nope.jsonl')}`);
		const glob = cage(['watch', path.join(dir, 'nothing-*.jsonl'), '--no-follow'], {env});
		expect(glob.status).toBe(1);
		expect(glob.stderr).toContain('no file matches');
		const bad = cage(['watch', '--progress', 'fancy'], {env});
		expect(bad.status).toBe(2);
		expect(bad.stderr).toContain('--progress must be one of tui, plain, json');
		const help = cage(['watch', '--help'], {env});
		expect(help.status).toBe(0);
		expect(help.stdout).toContain('$ cage watch --no-follow --progress json');
		expect(help.stdout).toContain('--from-start');
		expect(help.stdout).toMatch(/under the job 'audit-tail'\s+with its own sequence numbers, never a job's/);
		expect(cage(['--help'], {env}).stdout).toMatch(/^\s+watch\s+follow the audit log/m);
	});
});
