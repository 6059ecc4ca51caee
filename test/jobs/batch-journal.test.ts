/**
 * The batch journal (batch-journal.ts): what a run records reads back as the manifest it had,
 * through compactions and crashes in the middle of an append; lines of another batch are ignored,
 * damage is refused; the files are private.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {CheckpointError} from '../../source/chunker/checkpoint.js';
import {readBatchCheckpoint, type BatchCheckpoint, type BatchItem} from '../../source/jobs/batch-job.js';
import {BatchStore, journalPath} from '../../source/jobs/batch-journal.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-journal-'));
afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

function manifestOf(count: number, job = 'job-1'): BatchCheckpoint {
	const items: BatchItem[] = Array.from({length: count}, (_, index) => ({source: `/in/${index}`, output: `/out/${index}.age`, size: index * 10, status: 'pending'}));
	return {version: 1 as BatchCheckpoint['version'], tool: 'cage', kind: 'batch', op: 'encrypt', job, createdAt: 'c', updatedAt: 'u', items, recipients: ['age1x'], passphrase: false};
}

const withoutTimes = (manifest: BatchCheckpoint) => ({...manifest, updatedAt: ''});

describe('BatchStore', () => {
	it('reads back as the manifest after every recorded change, through compactions', async () => {
		const file = path.join(dir, 'a.json');
		// More items than the journal holds before it is folded in (256), so compactions happen.
		const manifest = manifestOf(300);
		const store = new BatchStore(file, manifest);
		await store.compact();
		for (const [step, item] of manifest.items.entries()) {
			item.status = 'running';
			if (step % 3 === 0) item.written = {dev: 1, ino: step, size: 7, mtimeMs: 1.5, ctimeMs: 2.5} as BatchItem['written'];
			// As the batch does: the last item's end with this one's start.
			await store.record(step === 0 ? [item] : [manifest.items[step - 1]!, item]);
			if (step % 50 === 0) expect(withoutTimes(await readBatchCheckpoint(file))).toEqual(withoutTimes(manifest));
			item.status = step % 5 === 0 ? 'failed' : 'done';
			if (step % 5 === 0) item.reason = 'why';
			if (step % 7 === 0) delete item.written;
		}

		await store.record(manifest.items);
		await store.close();
		expect(withoutTimes(await readBatchCheckpoint(file))).toEqual(withoutTimes(manifest));
		// 899 lines were recorded; the journal was folded in once it reached the batch's 300 (the last
		// record, every item, came after), and both files are private.
		expect(fs.readFileSync(journalPath(file), 'utf8').trimEnd().split('\n').length).toBeLessThan(600);
		for (const each of [file, journalPath(file)]) expect(fs.statSync(each).mode & 0o777).toBe(0o600);
		await BatchStore.remove(file);
		expect(fs.existsSync(file) || fs.existsSync(journalPath(file))).toBe(false);
	});

	it('leaves out a last line cut in the middle of an append, and lines of another batch', async () => {
		const file = path.join(dir, 'b.json');
		const manifest = manifestOf(3);
		const store = new BatchStore(file, manifest);
		await store.compact();
		manifest.items[0]!.status = 'done';
		await store.record([manifest.items[0]!]);
		await store.close();
		const journal = journalPath(file);
		fs.appendFileSync(journal, `${JSON.stringify({job: 'another', i: 1, status: 'done'})}\n{"job":"job-1","i":2,"sta`);
		const read = await readBatchCheckpoint(file);
		expect(read.items.map(item => item.status)).toEqual(['done', 'pending', 'pending']);
	});

	it('refuses a damaged line before the last, naming the journal and the line', async () => {
		const file = path.join(dir, 'c.json');
		const store = new BatchStore(file, manifestOf(2));
		await store.compact();
		await store.close();
		fs.appendFileSync(journalPath(file), 'not json\n{"job":"job-1","i":0,"status":"done"}\n');
		await expect(readBatchCheckpoint(file)).rejects.toThrow(CheckpointError);
		await expect(readBatchCheckpoint(file)).rejects.toThrow(`batch journal ${journalPath(file)} is damaged at line 1`);
		fs.writeFileSync(journalPath(file), '{"job":"job-1","i":9,"status":"done"}\n');
		await expect(readBatchCheckpoint(file)).rejects.toThrow('line 1 names no item of the batch');
	});

	it('a new run at the place of an old batch starts an empty journal (compact), whatever was there', async () => {
		const file = path.join(dir, 'd.json');
		fs.writeFileSync(journalPath(file), '{"job":"job-2","i":0,"status":"done"}\n');
		const store = new BatchStore(file, manifestOf(1, 'job-2'));
		await store.compact();
		await store.close();
		expect(fs.readFileSync(journalPath(file), 'utf8')).toBe('');
		expect((await readBatchCheckpoint(file)).items[0]!.status).toBe('pending');
	});
});
