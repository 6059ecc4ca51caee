/**
 * The worker pool as a batch uses it: one set of threads, a new control per file.
 */
import {randomBytes} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {AbortedError, SharedControl} from '../../source/chunker/control.js';
import {WorkerPool, type WorkerTask} from '../../source/age/pool.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-pool-'));
afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

function encryptTask(name: string, size: number): Omit<WorkerTask, 'id'> {
	const input = path.join(dir, name);
	fs.writeFileSync(input, randomBytes(size));
	const output = `${input}.out`;
	fs.writeFileSync(output, '');
	return {op: 'encrypt', input, output, key: randomBytes(32), plainStart: 0, plainEnd: size, plainTotal: size, inOffset: 0, outOffset: 0};
}

describe('small files on the calling thread', () => {
	it('gives what a thread gives, and starts no thread', async () => {
		const task = encryptTask('here', 300_000);
		const threaded = new WorkerPool(1, new SharedControl(), {inline: 0});
		const here = new WorkerPool(2, new SharedControl(), {lazy: true});
		try {
			const byThread = await threaded.run(task);
			const fromThread = fs.readFileSync(task.output);
			fs.writeFileSync(task.output, '');
			const progress: number[] = [];
			const byHere = await here.run(task, bytes => progress.push(bytes));
			expect(here.threads).toBe(0);
			expect(byHere).toEqual(byThread);
			expect(fs.readFileSync(task.output).equals(fromThread)).toBe(true);
			expect(progress.at(-1)).toBe(300_000);
			// The read-back of a resume gives the same digest as the thread's too.
			expect((await here.run({...task, op: 'digest-encrypt'})).digest).toBe(byThread.digest);
		} finally {
			await Promise.all([threaded.close(), here.close()]);
		}
	});

	it('waits while paused without blocking the event loop, and stops on an abort', async () => {
		const control = new SharedControl();
		const pool = new WorkerPool(1, control, {lazy: true});
		try {
			control.pause();
			let settled = false;
			const running = pool.run(encryptTask('paused', 100_000)).finally(() => (settled = true));
			// Timers still fire while the task waits: the event loop is free to hear the resume key.
			await new Promise(resolve => setTimeout(resolve, 300));
			expect(settled).toBe(false);
			control.resume();
			expect((await running).mac).toMatch(/^[\da-f]{64}$/);
			control.abort();
			await expect(pool.run(encryptTask('aborted', 100_000))).rejects.toBeInstanceOf(AbortedError);
			expect(pool.threads).toBe(0);
		} finally {
			await pool.close();
		}
	});
});

describe('a worker pool shared by several jobs', () => {
	it('obeys each job’s control in turn, on the same threads', async () => {
		const first = new SharedControl();
		const pool = new WorkerPool(2, first, {inline: 0});
		try {
			const one = encryptTask('one', 200_000);
			expect((await pool.run(one)).mac).toMatch(/^[\da-f]{64}$/);
			// The first job was aborted (a skipped file): its control no longer matters.
			first.abort();
			const second = new SharedControl();
			pool.useControl(second);
			const two = encryptTask('two', 300_000);
			expect((await pool.run(two)).mac).toMatch(/^[\da-f]{64}$/);
			// 300 000 bytes of plaintext = 5 blocks, each 16 bytes of tag longer.
			expect(fs.statSync(two.output).size).toBe(300_000 + 5 * 16);
			// And the new control is the one obeyed: aborted, the next task stops.
			second.abort();
			await expect(pool.run(encryptTask('three', 100_000))).rejects.toBeInstanceOf(AbortedError);
		} finally {
			await pool.close();
		}
	});

	it('refuses a new control while a task runs', async () => {
		const control = new SharedControl();
		const pool = new WorkerPool(1, control, {inline: 0});
		try {
			const running = pool.run(encryptTask('busy', 4_000_000));
			expect(() => pool.useControl(new SharedControl())).toThrow(/while tasks run/);
			await running;
			expect(() => pool.useControl(new SharedControl())).not.toThrow();
		} finally {
			await pool.close();
		}
	});

	it.runIf(fs.existsSync('/proc/self/fd'))('closes the last job’s files when the next job’s control arrives', async () => {
		const openFiles = () => fs.readdirSync('/proc/self/fd').length;
		const pool = new WorkerPool(2, new SharedControl(), {inline: 0});
		try {
			await pool.run(encryptTask('warm-up', 1000));
			pool.useControl(new SharedControl());
			const before = openFiles();
			for (let job = 0; job < 40; job++) {
				await pool.run(encryptTask(`job-${job}`, 1000));
				pool.useControl(new SharedControl());
			}

			// Each job's source and output stayed open until then: 80 descriptors without the fix.
			await pool.run(encryptTask('last', 1000));
			expect(openFiles() - before).toBeLessThanOrEqual(4);
		} finally {
			await pool.close();
		}
	});

	it('a lazy pool starts threads only as queued tasks need them', async () => {
		const pool = new WorkerPool(4, new SharedControl(), {lazy: true, inline: 0});
		try {
			expect(pool.threads).toBe(0);
			await pool.run(encryptTask('lazy-one', 1000));
			expect(pool.threads).toBe(1);
			await pool.run(encryptTask('lazy-two', 1000));
			expect(pool.threads).toBe(1);
			await Promise.all([1, 2, 3, 4, 5].map(async index => pool.run(encryptTask(`lazy-many-${index}`, 2_000_000))));
			expect(pool.threads).toBe(4);
		} finally {
			await pool.close();
		}
	});
});
