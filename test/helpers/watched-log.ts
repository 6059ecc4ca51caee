/**
 * A synthetic audit log of a few jobs in every state the dashboard draws (for the tmux view tests
 * and the README captures): a big encryption with a resume check, a pause, a stall, a slow chunk
 * and a rate limit; a batch part way through; a finished decryption; a job whose process is gone.
 */
import fs from 'node:fs';
import os from 'node:os';
import {formatAuditLine} from '../../source/audit/format.js';
import type {CageEvent, EventInput} from '../../source/chunker/events.js';

const MiB = 2 ** 20;

class Job {
	seq = 0;
	constructor(
		readonly lines: string[],
		readonly id: string,
		public ts: number,
	) {}

	send(input: EventInput, wait = 0): void {
		this.ts += wait;
		const seq = input.type === 'chunk:progress' ? this.seq : this.seq++;
		this.lines.push(formatAuditLine({...input, job: this.id, ts: this.ts, seq} as CageEvent));
	}

	chunks(from: number, to: number, size: number, ms: (id: number) => number, item?: number, base = 0): void {
		for (let chunk = from; chunk < to; chunk++) {
			const at = item === undefined ? {} : {item};
			this.send({type: 'chunk:start', chunk, start: chunk * size, size, attempt: 1, ...at});
			this.send({type: 'chunk:done', chunk, start: chunk * size, size, durationMs: ms(chunk), attempt: 1, bytesDone: base + (chunk + 1) * size, ...at}, ms(chunk));
		}
	}
}

/** Write the log; `now` is the watcher's clock (the running jobs wrote their last line just before). */
export function writeWatchedLog(file: string, now = Date.now()): void {
	const lines: string[] = [];
	const host = os.hostname();
	const big = new Job(lines, '20261202T030000-big000', now - 90_000);
	const size = 16 * MiB;
	big.send({type: 'job:start', kind: 'encrypt', source: '/srv/dumps/db-2026-12-01.sql', output: '/srv/dumps/db-2026-12-01.sql.age', size: 96 * size, chunkSize: size, chunks: 96, chunksDone: 8, bytesDone: 8 * size, jobs: 4, pid: process.pid, resumed: true, rate: 200 * MiB, host});
	big.send({type: 'job:phase', phase: 'opening'});
	big.send({type: 'job:phase', phase: 'verifying', done: 0, total: 4}, 300);
	big.send({type: 'job:phase', phase: 'verifying', done: 4, total: 4}, 1500);
	big.send({type: 'job:phase', phase: 'processing'}, 10);
	big.chunks(8, 30, size, id => (id === 17 ? 900 : 110 + (id % 5) * 10));
	big.send({type: 'anomaly', severity: 'warn', code: 'slow-chunk', message: 'chunk 17 took 0.9s, 7.5x the median (0.1s)', chunk: 17});
	big.send({type: 'job:paused', bytesDone: 30 * size}, 100);
	big.send({type: 'job:resumed', bytesDone: 30 * size}, 4000);
	big.chunks(30, 52, size, () => 120);
	big.send({type: 'anomaly', severity: 'warn', code: 'stall', message: 'no progress for 6.0s'}, 6000);
	big.chunks(52, 60, size, () => 150);
	big.send({type: 'chunk:start', chunk: 60, start: 60 * size, size, attempt: 1});
	big.send({type: 'chunk:failed', chunk: 61, start: 61 * size, size, attempt: 1, willRetry: true, error: 'EIO: i/o error', code: 'EIO'});
	big.send({type: 'chunk:start', chunk: 61, start: 61 * size, size, attempt: 2});

	const batch = new Job(lines, '20261202T030500-batch0', now - 40_000);
	const files = 40;
	const fileSize = 4 * MiB;
	batch.send({type: 'job:start', kind: 'encrypt', source: '/home/ana/photos', output: '/mnt/backup/photos', size: files * fileSize, chunkSize: 0, chunks: 0, chunksDone: 0, bytesDone: 0, items: files, jobs: 2, pid: process.pid, resumed: false, host});
	let base = 0;
	for (let item = 0; item < 7; item++) {
		const path = `/home/ana/photos/2026/IMG_${String(4200 + item)}.jpg`;
		batch.send({type: 'item:start', item, items: files, path, output: `/mnt/backup/photos/2026/IMG_${String(4200 + item)}.jpg.age`, size: fileSize, chunkSize: MiB, chunks: 4});
		if (item === 3) {
			batch.send({type: 'item:skipped', item, path, reason: 'skipped by user'});
			continue;
		}

		batch.chunks(0, item === 6 ? 2 : 4, MiB, () => 200, item, base);
		if (item < 6) {
			batch.send({type: 'item:done', item, path, bytes: fileSize, durationMs: 800});
			base += fileSize;
		}
	}

	const done = new Job(lines, '20261202T025000-done00', now - 600_000);
	done.send({type: 'job:start', kind: 'decrypt', source: '/srv/in/archive.tar.age', output: '/srv/in/archive.tar', size: 64 * MiB, chunkSize: 16 * MiB, chunks: 4, chunksDone: 0, bytesDone: 0, jobs: 2, pid: process.pid, resumed: false, host});
	done.chunks(0, 4, 16 * MiB, () => 400);
	done.send({type: 'job:done', outcome: 'completed', bytesDone: 64 * MiB, durationMs: 1600});

	// Its process is gone (no such pid), on this host, and it has written nothing for ten minutes.
	const dead = new Job(lines, '20261202T024000-dead00', now - 900_000);
	dead.send({type: 'job:start', kind: 'encrypt', source: '/srv/video/raw-0001.mov', output: '/srv/video/raw-0001.mov.age', size: 32 * 16 * MiB, chunkSize: 16 * MiB, chunks: 32, chunksDone: 0, bytesDone: 0, jobs: 2, pid: 4_194_000, resumed: false, host});
	dead.chunks(0, 9, 16 * MiB, () => 300);
	fs.writeFileSync(file, lines.sort((a, b) => Number(/"ts":(\d+)/.exec(a)![1]) - Number(/"ts":(\d+)/.exec(b)![1])).join(''));
}
