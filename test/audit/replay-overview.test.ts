/**
 * A log replayed by AuditTail (its fast line reader on cage's own lines, parseAuditLine on the
 * others) gives exactly the events of its lines parsed one by one by parseAuditLine, and the jobs
 * table built from them shows every job in its right state: running, paused, done, failed,
 * interrupted, silent, dead.
 */
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import type {CageEvent, EventInput} from '../../source/chunker/events.js';
import {formatAuditLine, parseAuditLine} from '../../source/audit/format.js';
import {AuditTail, auditTailJob} from '../../source/audit/tail.js';
import {jobRows} from '../../source/ui/JobsTable.js';
import {DashboardStore} from '../../source/ui/store.js';
import {makeSandbox} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-replay-overview-');
afterAll(() => sandbox.cleanup());

const MiB = 2 ** 20;
const now = 1_800_000_000_000;
const here = 'this-host';

/** A job's lines as a version 2 log numbers them: every line its own seq. */
class Job {
	seq = 0;
	constructor(
		readonly id: string,
		public ts: number,
		readonly lines: Array<{ts: number; text: string}>,
	) {}

	send(input: EventInput): void {
		this.ts += 7;
		this.lines.push({ts: this.ts, text: formatAuditLine({...input, job: this.id, ts: this.ts, seq: this.seq++} as CageEvent)});
	}

	run(chunks: number, {pid = 4242, host = here, source = `/data/${this.id}.bin`} = {}): void {
		this.send({type: 'job:start', kind: 'encrypt', source, output: `${source}.age`, size: 400 * MiB, chunkSize: MiB, chunks: 400, chunksDone: 0, bytesDone: 0, jobs: 2, pid, resumed: false, host});
		for (let chunk = 0; chunk < chunks; chunk++) {
			this.send({type: 'chunk:start', chunk, start: chunk * MiB, size: MiB, attempt: 1});
			this.send({type: 'chunk:progress', chunk, bytes: MiB / 2, bytesDone: chunk * MiB + MiB / 2});
			this.send({type: 'chunk:done', chunk, start: chunk * MiB, size: MiB, durationMs: 30 + (chunk % 7), attempt: 1, bytesDone: (chunk + 1) * MiB});
			if (chunk % 16 === 15) this.send({type: 'job:checkpoint', path: `/data/${this.id}.bin.age.checkpoint.json`, chunksDone: chunk + 1, bytesDone: (chunk + 1) * MiB});
		}
	}
}

describe('a replayed log in the jobs table', () => {
	it('gives the events parseAuditLine gives line by line, and every job its state', async () => {
		const lines: Array<{ts: number; text: string}> = [];
		const recent = now - 60_000;
		const old = now - 3_600_000;
		const jobs = {
			running: new Job('20261202T000000-runnin', recent, lines),
			paused: new Job('20261202T000000-paused', recent, lines),
			done: new Job('20261202T000000-done00', old, lines),
			failed: new Job('20261202T000000-failed', old, lines),
			interrupted: new Job('20261202T000000-intrpt', old, lines),
			silent: new Job('20261202T000000-silent', old, lines),
			dead: new Job('20261202T000000-dead00', old, lines),
		};
		jobs.running.run(120);
		jobs.paused.run(80);
		jobs.paused.send({type: 'job:paused', bytesDone: 80 * MiB});
		jobs.done.run(400);
		jobs.done.send({type: 'job:done', outcome: 'completed', bytesDone: 400 * MiB, durationMs: 9000});
		jobs.failed.run(50);
		jobs.failed.send({type: 'chunk:failed', chunk: 50, start: 50 * MiB, size: MiB, attempt: 1, willRetry: false, error: 'EIO: i/o error', code: 'EIO'});
		jobs.failed.send({type: 'job:done', outcome: 'failed', bytesDone: 50 * MiB, durationMs: 2000, error: 'EIO: i/o error'});
		jobs.interrupted.run(70);
		jobs.interrupted.send({type: 'job:done', outcome: 'interrupted', bytesDone: 70 * MiB, durationMs: 2500, checkpoint: '/data/x.checkpoint.json', resumeCommand: 'cage resume /data/x.age'});
		// Both quiet for an hour with no end: the silent one ran elsewhere, the dead one here, its pid gone.
		jobs.silent.run(90, {host: 'elsewhere', source: '/data/vidéo «1».mov'});
		jobs.dead.run(60, {pid: 999_999});
		// As jobs that run at once write: interleaved by time.
		lines.sort((a, b) => a.ts - b.ts);
		let texts = lines.map(line => line.text);
		// Lines of other writers: the same events in other forms (spaces, another key order, escapes),
		// which the fast path leaves to parseAuditLine; and one damaged line.
		texts = texts.map((text, index) => {
			if (index % 97 === 5) return text.replace('":', '": ');
			if (index % 89 === 7) {
				const {v, ...rest} = JSON.parse(text) as Record<string, unknown>;
				return `${JSON.stringify({...rest, v})}\n`;
			}

			if (index % 83 === 3) return text.replace('"job":"', '"job":"\\u0032').replace('\\u00322', '\\u0032');
			return text;
		});
		texts.splice(500, 0, '{"v":2,"ts":1,"job":"x","seq":0,"type":"chunk:done","chunk":\n');
		const file = path.join(sandbox.dir, 'audit.jsonl');
		fs.writeFileSync(file, texts.join(''));

		const store = new DashboardStore({overview: true});
		const events: CageEvent[] = [];
		const tail = new AuditTail([file], {
			fromStart: true,
			follow: false,
			onEvent(event) {
				events.push(event);
				store.push(event);
			},
		});
		await tail.start();

		const reference = texts
			.join('')
			.split('\n')
			.filter(Boolean)
			.map(text => parseAuditLine(text))
			.flatMap(parsed => (parsed.ok ? [parsed.event] : []));
		expect(events.filter(event => event.job !== auditTailJob)).toStrictEqual(reference);
		// The damaged line, reported; nothing else is.
		expect(events.filter(event => event.job === auditTailJob).map(event => (event.type === 'anomaly' ? event.code : event.type))).toEqual(['audit-malformed-line']);

		const rows = jobRows(store.overview!, {now, silentMs: 5 * 60_000, filter: '', sort: 'started', reverse: false, alive: pid => pid !== 999_999, host: here});
		expect(Object.fromEntries(rows.map(row => [row.job.id, row.state]))).toEqual(Object.fromEntries(Object.entries(jobs).map(([state, job]) => [job.id, state])));
		const byId = new Map(rows.map(row => [row.job.id, row.job]));
		expect(byId.get(jobs.running.id)!.bytesDone).toBe(120 * MiB);
		expect(byId.get(jobs.done.id)!.bytesDone).toBe(400 * MiB);
		expect(byId.get(jobs.silent.id)!.source).toBe('/data/vidéo «1».mov');
	});
});
