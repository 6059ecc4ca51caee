/**
 * The audit logger against real files: line format, sampling of progress, modes, rotation, two
 * real processes appending to (and rotating) one log, write failures, and a scan of the log of a
 * real encrypt/decrypt for secrets and payload.
 */
import {execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it, vi} from 'vitest';
import {JobEmitter} from '../../source/chunker/emitter.js';
import type {CageEvent} from '../../source/chunker/events.js';
import {formatAuditLine, parseAuditLine} from '../../source/audit/format.js';
import {AuditLogger} from '../../source/audit/logger.js';
import {cage, makeSandbox, parseEvents, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-audit-logger-');
const {dir, env} = sandbox;
afterAll(() => sandbox.cleanup());
const distLogger = path.resolve(import.meta.dirname, '../../dist/audit/logger.js');
const distEmitter = path.resolve(import.meta.dirname, '../../dist/chunker/emitter.js');

let counter = 0;
const logPath = () => path.join(dir, `logs-${counter++}`, 'audit.jsonl');
/** A small durable event of `job` with `seq`. */
const paused = (job: string, seq: number): CageEvent => ({type: 'job:paused', bytesDone: seq, job, ts: 1_700_000_000_000 + seq, seq});
const readLines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(line => line !== '');

/** A job's worth of events through a real emitter, with a clock that advances `stepMs` per event. */
function runJob(emitter: JobEmitter, chunks: number, progressPerChunk = 10): void {
	emitter.send({type: 'job:start', kind: 'encrypt', source: '/in', output: '/out', size: chunks * 100, chunkSize: 100, chunks, chunksDone: 0, bytesDone: 0, jobs: 1, pid: 1, resumed: false});
	for (let chunk = 0; chunk < chunks; chunk++) {
		emitter.send({type: 'chunk:start', chunk, start: chunk * 100, size: 100, attempt: 1});
		for (let step = 1; step <= progressPerChunk; step++) emitter.send({type: 'chunk:progress', chunk, bytes: step * 10, bytesDone: chunk * 100 + step * 10});
		emitter.send({type: 'chunk:done', chunk, start: chunk * 100, size: 100, durationMs: 5, attempt: 1, bytesDone: (chunk + 1) * 100});
	}

	emitter.send({type: 'anomaly', severity: 'warn', code: 'slow-chunk', message: 'chunk 1 was slow', chunk: 1});
	emitter.send({type: 'job:done', outcome: 'completed', bytesDone: chunks * 100, durationMs: 1000});
}

describe('AuditLogger', () => {
	it('writes one v2 JSON line per numbered event, key order v,ts,job,seq,type, that reads back to the same event', () => {
		const file = logPath();
		let clock = 1_000_000;
		const emitter = new JobEmitter('job-a', () => (clock += 100));
		const logger = new AuditLogger({path: file, maxBytes: 0, keep: 0});
		const emitted: CageEvent[] = [];
		emitter.pipe(event => emitted.push(event));
		const detach = logger.attach(emitter);
		runJob(emitter, 3);
		detach();
		logger.close();

		const lines = readLines(file);
		const durable = emitted.filter(event => event.type !== 'chunk:progress');
		const logged = lines.map(line => JSON.parse(line) as Record<string, unknown>);
		for (const record of logged) expect(Object.keys(record).slice(0, 5)).toEqual(['v', 'ts', 'job', 'seq', 'type']);
		expect(logged.every(record => record.v === 2)).toBe(true);
		const back = lines.map(line => parseAuditLine(line));
		expect(back.every(result => result.ok)).toBe(true);
		const events = back.map(result => (result.ok ? result.event : undefined));
		// Same objects, key order included (so NDJSON of a replay equals NDJSON of the live run).
		expect(events.filter(event => event?.type !== 'chunk:progress').map(event => JSON.stringify(event))).toEqual(durable.map(event => JSON.stringify(event)));
		// Every line of the job, progress samples included, has its own seq: 0..n-1 with no gaps.
		expect(logged.some(record => record.type === 'chunk:progress')).toBe(true);
		expect(logged.map(record => record.seq)).toEqual(logged.map((_record, index) => index));
		// The samples logged are the emitter's numbered progress events, the same objects.
		const numbered = emitted.filter((event, index) => index === 0 || event.seq > emitted[index - 1]!.seq);
		expect(events.map(event => JSON.stringify(event))).toEqual(numbered.map(event => JSON.stringify(event)));
		expect(lines.map(line => line + '\n')).toEqual(events.map(event => formatAuditLine(event!)));
	});

	it('logs at most one chunk:progress sample per second per job', () => {
		const file = logPath();
		let clock = 0;
		const a = new JobEmitter('job-a', () => (clock += 50));
		const b = new JobEmitter('job-b', () => clock);
		const logger = new AuditLogger({path: file, maxBytes: 0, keep: 0});
		logger.attach(a);
		logger.attach(b);
		const sent = {a: 0, b: 0};
		for (let index = 0; index < 200; index++) {
			a.send({type: 'chunk:progress', chunk: 0, bytes: index, bytesDone: index});
			b.send({type: 'chunk:progress', chunk: 0, bytes: index, bytesDone: index});
			sent.a++;
			sent.b++;
		}

		logger.close();
		const samples = readLines(file).map(line => JSON.parse(line) as {job: string; ts: number; type: string});
		expect(samples.every(sample => sample.type === 'chunk:progress')).toBe(true);
		for (const job of ['job-a', 'job-b']) {
			const times = samples.filter(sample => sample.job === job).map(sample => sample.ts);
			// 200 events x 50 ms = 10 s of samples: one a second (the first is logged at once).
			expect(times.length).toBe(10);
			for (let index = 1; index < times.length; index++) expect(times[index]! - times[index - 1]!).toBeGreaterThanOrEqual(1000);
		}
	});

	it('creates the directory 0700 and the file 0600', () => {
		const file = path.join(dir, 'fresh', 'state', 'cage', 'audit.jsonl');
		const logger = new AuditLogger({path: file, maxBytes: 0, keep: 0});
		expect(logger.log({type: 'job:paused', bytesDone: 0, job: 'j', ts: 1, seq: 0})).toBe(true);
		logger.close();
		expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
	});

	it('rotates by size, keeping audit.jsonl.1 … .N with the newest lines, none split or lost among the kept', () => {
		const file = logPath();
		const maxBytes = 4096;
		const logger = new AuditLogger({path: file, maxBytes, keep: 3});
		const emitter = new JobEmitter('rotating');
		logger.attach(emitter);
		for (let index = 0; index < 400; index++) emitter.send({type: 'job:checkpoint', path: `/some/where/${index}.checkpoint.json`, chunksDone: index, bytesDone: index * 100});
		logger.close();

		const names = fs.readdirSync(path.dirname(file)).sort();
		expect(names).toEqual(['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2', 'audit.jsonl.3']);
		const seqs: number[] = [];
		for (const name of ['audit.jsonl.3', 'audit.jsonl.2', 'audit.jsonl.1', 'audit.jsonl']) {
			const full = path.join(path.dirname(file), name);
			expect(fs.statSync(full).size).toBeLessThanOrEqual(maxBytes);
			const content = fs.readFileSync(full, 'utf8');
			expect(content.endsWith('\n')).toBe(true);
			for (const line of readLines(full)) {
				const parsed = parseAuditLine(line);
				expect(parsed.ok).toBe(true);
				if (parsed.ok) seqs.push(parsed.event.seq);
			}
		}

		// The kept files hold the newest events, contiguous up to the last one.
		expect(seqs.at(-1)).toBe(399);
		expect(seqs).toEqual(seqs.map((_seq, index) => seqs[0]! + index));
		expect(seqs.length).toBeGreaterThan(3 * (maxBytes / 200));
	});

	it('keep 0 drops the old log when it is full', () => {
		const file = logPath();
		const logger = new AuditLogger({path: file, maxBytes: 4096, keep: 0});
		const emitter = new JobEmitter('dropping');
		logger.attach(emitter);
		for (let index = 0; index < 100; index++) emitter.send({type: 'job:paused', bytesDone: index});
		logger.close();
		expect(fs.readdirSync(path.dirname(file))).toEqual(['audit.jsonl']);
		const seqs = readLines(file).map(line => (JSON.parse(line) as {seq: number}).seq);
		expect(seqs.at(-1)).toBe(99);
		expect(seqs[0]).toBeGreaterThan(0);
	});

	/** Run `count` events per child in `children` real node processes, all appending to `file`. */
	async function appendFromProcesses(file: string, children: number, count: number, maxBytes: number, keep: number): Promise<void> {
		const script = `
			import {AuditLogger} from ${JSON.stringify(distLogger)};
			import {JobEmitter} from ${JSON.stringify(distEmitter)};
			const [file, job, count, maxBytes, keep] = process.argv.slice(1);
			const logger = new AuditLogger({path: file, maxBytes: Number(maxBytes), keep: Number(keep)});
			const emitter = new JobEmitter(job);
			logger.attach(emitter);
			// Wait for the starting gun so the processes really overlap.
			while (!(await import('node:fs')).existsSync(file + '.go')) await new Promise(resolve => setTimeout(resolve, 5));
			for (let index = 0; index < Number(count); index++) {
				emitter.send({type: 'chunk:done', chunk: index, start: index * 1048576, size: 1048576, durationMs: 3, attempt: 1, bytesDone: (index + 1) * 1048576});
			}
			if (logger.failure) throw logger.failure;
			logger.close();
		`;
		fs.mkdirSync(path.dirname(file), {recursive: true});
		const runs = Array.from({length: children}, (_unused, index) => {
			const child = spawn(process.execPath, ['--input-type=module', '-e', script, file, `proc-${index}`, String(count), String(maxBytes), String(keep)], {stdio: ['ignore', 'ignore', 'pipe']});
			let stderr = '';
			child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
			return new Promise<void>((resolve, reject) => child.on('close', code => (code === 0 ? resolve() : reject(new Error(`child ${index} exited ${code}: ${stderr}`)))));
		});
		await new Promise(resolve => setTimeout(resolve, 300));
		fs.writeFileSync(`${file}.go`, '');
		await Promise.all(runs);
		fs.rmSync(`${file}.go`);
	}

	function collect(directory: string): Map<string, number[]> {
		const byJob = new Map<string, number[]>();
		const names = fs.readdirSync(directory).filter(name => name.startsWith('audit.jsonl') && !name.endsWith('.lock'));
		// Oldest first: highest suffix first, the live file last.
		names.sort((a, b) => Number(b.split('.')[2] ?? 0) - Number(a.split('.')[2] ?? 0));
		for (const name of names) {
			for (const line of readLines(path.join(directory, name))) {
				const parsed = parseAuditLine(line);
				if (!parsed.ok) throw new Error(`${name}: torn or invalid line: ${line.slice(0, 120)}`);
				const seqs = byJob.get(parsed.event.job) ?? [];
				seqs.push(parsed.event.seq);
				byJob.set(parsed.event.job, seqs);
			}
		}

		return byJob;
	}

	it('two processes appending to one log at once: no torn lines, no lost lines, each job in order', async () => {
		const file = logPath();
		const count = 5000;
		await appendFromProcesses(file, 2, count, 0, 0);
		const byJob = collect(path.dirname(file));
		expect([...byJob.keys()].sort()).toEqual(['proc-0', 'proc-1']);
		for (const seqs of byJob.values()) expect(seqs).toEqual(Array.from({length: count}, (_unused, index) => index));
		// They really interleaved (otherwise this test would prove nothing about concurrency).
		const jobs = readLines(file).map(line => (JSON.parse(line) as {job: string}).job);
		const switches = jobs.filter((job, index) => index > 0 && job !== jobs[index - 1]).length;
		expect(switches).toBeGreaterThan(2);
	});

	it('two processes rotating one log at once: every line kept exactly once, none torn', async () => {
		const file = logPath();
		const count = 4000;
		// ~200-byte lines, 64 KiB files: about 25 rotations, all kept.
		await appendFromProcesses(file, 2, count, 64 * 1024, 100);
		const directory = path.dirname(file);
		expect(fs.existsSync(`${file}.lock`)).toBe(false);
		const byJob = collect(directory);
		for (const job of ['proc-0', 'proc-1']) {
			const seqs = [...(byJob.get(job) ?? [])].sort((a, b) => a - b);
			expect(seqs).toEqual(Array.from({length: count}, (_unused, index) => index));
		}

		const rotated = fs.readdirSync(directory).filter(name => /^audit\.jsonl\.\d+$/.test(name));
		expect(rotated.length).toBeGreaterThan(10);
		// No double rotation: no rotated file is tiny (a fresh file shifted away by a second rotator).
		for (const name of rotated) expect(fs.statSync(path.join(directory, name)).size).toBeGreaterThan(32 * 1024);
	});

	it('a failed write raises one audit-write-failed anomaly and the job goes on', async () => {
		const blocker = path.join(dir, 'not-a-directory');
		fs.writeFileSync(blocker, 'a file where the log directory should be');
		const logger = new AuditLogger({path: path.join(blocker, 'audit.jsonl'), maxBytes: 0, keep: 0});
		const emitter = new JobEmitter('failing');
		const seen: CageEvent[] = [];
		emitter.pipe(event => seen.push(event));
		logger.attach(emitter);
		runJob(emitter, 4, 0);
		await Promise.resolve();
		const anomalies = seen.filter(event => event.type === 'anomaly' && event.code === 'audit-write-failed');
		expect(anomalies).toHaveLength(1);
		expect(anomalies[0]).toMatchObject({severity: 'warn', job: 'failing'});
		expect((anomalies[0] as {message: string}).message).toContain(blocker);
		// Sent on the emitter after the events in flight (never inside another event's dispatch), so
		// the job's seq stays gap-free and every event after the failure still went out.
		expect(seen.map(event => event.seq)).toEqual(seen.map((_event, index) => index));
		expect(seen.filter(event => event.type === 'chunk:done')).toHaveLength(4);
		expect(seen.some(event => event.type === 'job:done')).toBe(true);
		expect(logger.failure).toBeInstanceOf(Error);
	});

	it('after a short write (disk full: half a line written), the next event starts on a line of its own', () => {
		const file = logPath();
		const logger = new AuditLogger({path: file, maxBytes: 0, keep: 0});
		expect(logger.log(paused('short', 0))).toBe(true);
		// What write(2) does when the disk fills in the middle: it writes part and returns the count.
		const write = fs.writeSync;
		const spy = vi.spyOn(fs, 'writeSync').mockImplementationOnce(((fd: number, data: Buffer) => write(fd, data.subarray(0, 20))) as typeof fs.writeSync);
		try {
			expect(logger.log(paused('short', 1))).toBe(false);
		} finally {
			spy.mockRestore();
		}

		expect(logger.failure?.message).toContain('short write (20 of');
		expect(logger.log(paused('short', 2))).toBe(true);
		expect(logger.log(paused('short', 3))).toBe(true);
		logger.close();
		const lines = readLines(file);
		expect(lines).toHaveLength(4);
		expect(lines[1]).toBe(formatAuditLine(paused('short', 1)).slice(0, 20));
		expect(lines.map(line => parseAuditLine(line).ok)).toEqual([true, false, true, true]);
		expect(lines.slice(2).map(line => (JSON.parse(line) as {seq: number}).seq)).toEqual([2, 3]);
	});

	it('a line torn by another process (a real short write past RLIMIT_FSIZE) is ended by the next process to append', () => {
		const file = logPath();
		fs.mkdirSync(path.dirname(file), {recursive: true});
		const script = `
			import {AuditLogger} from ${JSON.stringify(distLogger)};
			const logger = new AuditLogger({path: process.argv[1], maxBytes: 0, keep: 0});
			for (let seq = 0; seq < 10; seq++) logger.log({type: 'job:checkpoint', path: '/some/where/x.checkpoint.json', chunksDone: seq, bytesDone: seq, job: 'limited', ts: 1, seq});
			logger.close();
			if (!/short write/.test(logger.failure?.message ?? '')) throw new Error('no short write: ' + logger.failure?.message);
		`;
		// A file size limit of 300 bytes: the second line (about 130 bytes each) is cut, the rest fail (EFBIG).
		execFileSync('prlimit', ['--fsize=300', process.execPath, '--input-type=module', '-e', script, file], {stdio: ['ignore', 'ignore', 'inherit']});
		expect(fs.statSync(file).size).toBe(300);
		const logger = new AuditLogger({path: file, maxBytes: 0, keep: 0});
		expect(logger.log(paused('after', 0))).toBe(true);
		logger.close();
		const lines = readLines(file);
		expect(lines.map(line => parseAuditLine(line).ok)).toEqual([true, true, false, true]);
		expect(JSON.parse(lines[3]!)).toMatchObject({job: 'after', seq: 0});
	});

	it('a log that ends with its newline gets no extra one (no empty lines)', () => {
		const file = logPath();
		for (let seq = 0; seq < 3; seq++) {
			const logger = new AuditLogger({path: file, maxBytes: 0, keep: 0});
			expect(logger.log(paused('reopened', seq))).toBe(true);
			logger.close();
		}

		expect(fs.readFileSync(file, 'utf8')).toBe([0, 1, 2].map(seq => formatAuditLine(paused('reopened', seq))).join(''));
	});

	it('a full disk (/dev/full: every write fails with ENOSPC): one anomaly, however many events follow', async () => {
		const logger = new AuditLogger({path: '/dev/full', maxBytes: 0, keep: 0});
		const emitter = new JobEmitter('disk-full');
		const seen: CageEvent[] = [];
		emitter.pipe(event => seen.push(event));
		logger.attach(emitter);
		for (let index = 0; index < 50; index++) {
			emitter.send({type: 'job:paused', bytesDone: index});
			await new Promise(resolve => setImmediate(resolve));
		}

		const anomalies = seen.filter(event => event.type === 'anomaly');
		expect(anomalies).toHaveLength(1);
		expect(anomalies[0]).toMatchObject({code: 'audit-write-failed', seq: 1});
		expect((logger.failure as NodeJS.ErrnoException).code).toBe('ENOSPC');
		expect(seen.filter(event => event.type === 'job:paused')).toHaveLength(50);
		logger.close();
	});
});

describe('audit log of real cage jobs', () => {
	it('a real encrypt logs every chunk; a broken audit path leaves the job intact with one anomaly', () => {
		const key = path.join(dir, 'key.txt');
		execFileSync('/usr/bin/age-keygen', ['-o', key], {stdio: 'ignore'});
		const recipient = execFileSync('/usr/bin/age-keygen', ['-y', key]).toString().trim();
		const plain = path.join(dir, 'plain.bin');
		writeRandomFile(plain, 5 * 1024 * 1024 + 17);
		const blocker = path.join(dir, 'blocker');
		fs.writeFileSync(blocker, '');
		const run = cage(['encrypt', plain, '-r', recipient, '-o', `${plain}.age`, '--chunk-size', '1MiB', '--progress', 'json', '--audit-log', path.join(blocker, 'audit.jsonl')], {env});
		expect(run.status).toBe(0);
		const events = parseEvents(run.stderr);
		expect(events.filter(event => event.type === 'anomaly' && event.code === 'audit-write-failed')).toHaveLength(1);
		expect(events.filter(event => event.type === 'chunk:done')).toHaveLength(6);
		expect(events.at(-1)).toMatchObject({type: 'job:done', outcome: 'completed', bytesDone: 5 * 1024 * 1024 + 17});
		const back = execFileSync('age', ['-d', '-i', key, `${plain}.age`], {maxBuffer: 64 * 1024 * 1024});
		expect(Buffer.compare(back, fs.readFileSync(plain))).toBe(0);
	});

	it('holds no key material and no payload: scan the log of a real passphrase encrypt and identity decrypt', () => {
		const passphrase = 'correct horse battery staple 8f3a9c';
		const marker = 'PAYLOAD-MARKER-6d1f0e2b';
		const plain = path.join(dir, 'secret.txt');
		fs.writeFileSync(plain, `${marker}\n`.repeat(200_000));
		const key = path.join(dir, 'scan-key.txt');
		execFileSync('/usr/bin/age-keygen', ['-o', key], {stdio: 'ignore'});
		const secretKey = fs.readFileSync(key, 'utf8').split('\n').find(line => line.startsWith('AGE-SECRET-KEY-'))!;
		const recipient = execFileSync('/usr/bin/age-keygen', ['-y', key]).toString().trim();
		const log = path.join(dir, 'scan', 'audit.jsonl');
		const common = ['--audit-log', log, '--progress', 'none', '--chunk-size', '1MiB'];
		const withPassphrase = cage(['encrypt', plain, '-p', '-o', `${plain}.p.age`, ...common], {env: {...env, CAGE_PASSPHRASE: passphrase}});
		expect(withPassphrase.status).toBe(0);
		expect(cage(['encrypt', plain, '-r', recipient, '-o', `${plain}.r.age`, ...common], {env}).status).toBe(0);
		expect(cage(['decrypt', `${plain}.r.age`, '-i', key, '-o', `${plain}.out`, ...common], {env}).status).toBe(0);
		expect(fs.readFileSync(`${plain}.out`, 'utf8')).toBe(fs.readFileSync(plain, 'utf8'));

		const content = fs.readFileSync(log, 'utf8');
		const lines = readLines(log);
		const kinds = lines.map(line => JSON.parse(line) as {type: string; kind?: string}).filter(event => event.type === 'job:start').map(event => event.kind);
		expect(kinds).toEqual(['encrypt', 'encrypt', 'decrypt']);
		expect(lines.filter(line => line.includes('"chunk:done"')).length).toBeGreaterThanOrEqual(3 * 3);
		for (const secret of [passphrase, secretKey, secretKey.slice(15, 40), marker, 'AGE-SECRET-KEY', Buffer.from(marker).toString('base64').slice(0, 16)]) {
			expect(content.includes(secret), `audit log contains ${secret}`).toBe(false);
		}

		// The ciphertext's header and body (which embed wrapped keys) are not in it either.
		const header = fs.readFileSync(`${plain}.r.age`).subarray(0, 200).toString('latin1').split('\n')[2]!;
		expect(header.length).toBeGreaterThan(20);
		expect(content.includes(header)).toBe(false);
		for (const line of lines) expect(parseAuditLine(line).ok).toBe(true);
	}, 180_000);
});
