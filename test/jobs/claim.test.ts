/**
 * The job claim (source/jobs/claim.ts) across real processes: one holder at a time, a stale lock
 * (its process gone) taken over by exactly one of several processes that find it at once.
 */
import {execSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type * as ClaimModule from '../../source/jobs/claim.js';

const root = path.resolve(import.meta.dirname, '../..');
const built = path.join(root, 'dist/jobs/claim.js');
const source = path.join(root, 'source/jobs/claim.ts');
let dir: string;

beforeAll(() => {
	if (!fs.existsSync(built)) execSync('npm run build', {cwd: root, stdio: 'inherit'});
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-claim-'));
});

afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

/** A process that claims `lock`, holds it 300 ms, and says when it held and released it. */
function contender(lock: string, log: string): Promise<void> {
	const script = `import {claim} from ${JSON.stringify(pathToFileURL(built).href)};
import fs from 'node:fs';
try {
	const held = await claim(process.argv[1], () => new Error('refused'));
	fs.appendFileSync(process.argv[2], 'hold ' + process.hrtime.bigint() + '\\n');
	await new Promise(resolve => setTimeout(resolve, 300));
	fs.appendFileSync(process.argv[2], 'free ' + process.hrtime.bigint() + '\\n');
	await held.release();
} catch {
	fs.appendFileSync(process.argv[2], 'refused\\n');
}`;
	const child = spawn(process.execPath, ['--input-type=module', '-e', script, lock, log], {stdio: 'ignore'});
	return new Promise(resolve => child.on('close', () => resolve()));
}

describe('claim', () => {
	it('a stale lock found by three processes at once is taken over by one; the others are refused, never two holders', async () => {
		for (let round = 0; round < 20; round++) {
			const lock = path.join(dir, `job-${round}.checkpoint.json.lock`);
			const log = path.join(dir, `log-${round}`);
			// A lock of a process that is gone (pid 999999999 does not exist).
			fs.writeFileSync(lock, JSON.stringify({pid: 999_999_999, pidStart: '1', updatedAt: new Date(0).toISOString()}));
			await Promise.all([contender(lock, log), contender(lock, log), contender(lock, log)]);
			const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
			// Every hold ends before the next begins (nobody held it while another did).
			const events = lines.filter(line => line !== 'refused').map(line => ({kind: line.split(' ')[0], at: BigInt(line.split(' ')[1]!)})).sort((a, b) => (a.at < b.at ? -1 : 1));
			let holding = 0;
			for (const event of events) {
				holding += event.kind === 'hold' ? 1 : -1;
				expect(holding).toBeLessThanOrEqual(1);
			}

			expect(events.filter(event => event.kind === 'hold').length).toBeGreaterThanOrEqual(1);
			expect(fs.existsSync(lock)).toBe(false);
			expect(fs.readdirSync(dir).filter(name => name.includes('.takeover') || name.includes('.stale-'))).toEqual([]);
		}
	});

	it('a lock is never seen without its pid; what a process killed while claiming left beside it is removed', async () => {
		const {claim} = (await import(pathToFileURL(built).href)) as typeof ClaimModule;
		const lock = path.join(dir, 'filled.lock');
		// A temp file of a dead process (killed between writing its record and linking it).
		const leftover = path.join(dir, '.filled.lock.tmp-2147483646-0123456789ab');
		fs.writeFileSync(leftover, '{}');
		const held = await claim(lock, () => new Error('refused'));
		try {
			expect(JSON.parse(fs.readFileSync(lock, 'utf8'))).toMatchObject({pid: process.pid});
			expect((fs.statSync(lock).mode & 0o777).toString(8)).toBe('600');
			expect(fs.existsSync(leftover)).toBe(false);
			expect(fs.readdirSync(dir).filter(name => name.startsWith('.filled.lock.tmp-'))).toEqual([]);
		} finally {
			await held.release();
		}

		expect(fs.existsSync(lock)).toBe(false);
	});

	it('finish() removes a re-entrant lock at once, though an outer holder still has it (a kill before that release left it for good)', async () => {
		const {claim} = (await import(pathToFileURL(source).href)) as typeof ClaimModule;
		const lock = path.join(dir, 'nested.lock');
		const outer = await claim(lock, () => new Error('refused'));
		const inner = await claim(lock, () => new Error('refused'));
		await inner.release();
		expect(fs.existsSync(lock)).toBe(true);
		const again = await claim(lock, () => new Error('refused'));
		await again.finish();
		expect(fs.existsSync(lock)).toBe(false);
		// Another process's lock made meanwhile is not the outer holder's to remove.
		fs.writeFileSync(lock, JSON.stringify({pid: 1}));
		await outer.release();
		expect(fs.existsSync(lock)).toBe(true);
		fs.rmSync(lock);
	});
});
