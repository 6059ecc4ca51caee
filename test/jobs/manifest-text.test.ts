/**
 * The batch manifest's text (batch-job.ts ManifestText): each item's JSON is kept between saves
 * and made again only for items marked stale, so the text must always parse to the manifest as
 * it is, whatever changed, as long as each change was marked.
 */
import {describe, expect, it} from 'vitest';
import {ManifestText, type BatchCheckpoint, type BatchItem} from '../../source/jobs/batch-job.js';

function manifestOf(count: number): BatchCheckpoint {
	const items: BatchItem[] = Array.from({length: count}, (_, index) => ({source: `/in/${index}`, output: `/out/${index}.age`, size: index * 10, status: 'pending'}));
	return {version: 1 as BatchCheckpoint['version'], tool: 'cage', kind: 'batch', op: 'encrypt', job: 'j1', createdAt: 'c', updatedAt: 'u', items, recipients: ['age1x'], passphrase: false};
}

describe('ManifestText', () => {
	it('parses to the manifest after every marked change, with updatedAt, on one line', () => {
		const manifest = manifestOf(50);
		const text = new ManifestText();
		expect(JSON.parse(text.of(manifest, 't0'))).toEqual({...manifest, updatedAt: 't0'});
		for (const [step, item] of manifest.items.entries()) {
			item.status = 'running';
			text.stale(item);
			if (step % 3 === 0) {
				item.written = {dev: 1, ino: step, size: 7, mtimeMs: 1.5, ctimeMs: 2.5} as BatchItem['written'];
				text.stale(item);
			}

			const saved = text.of(manifest, `t${step}`);
			expect(saved.endsWith('}\n')).toBe(true);
			expect(saved.trimEnd().includes('\n')).toBe(false);
			expect(JSON.parse(saved)).toEqual({...manifest, updatedAt: `t${step}`});
			item.status = step % 5 === 0 ? 'failed' : 'done';
			if (step % 5 === 0) item.reason = 'why';
			text.stale(item);
		}

		expect(JSON.parse(text.of(manifest, 'end'))).toEqual({...manifest, updatedAt: 'end'});
	});

	it('keeps an unmarked item as it was last made (which is why every change is marked)', () => {
		const manifest = manifestOf(2);
		const text = new ManifestText();
		text.of(manifest, 't');
		manifest.items[0]!.status = 'done';
		expect((JSON.parse(text.of(manifest, 't')) as BatchCheckpoint).items[0]!.status).toBe('pending');
		text.stale(manifest.items[0]!);
		expect((JSON.parse(text.of(manifest, 't')) as BatchCheckpoint).items[0]!.status).toBe('done');
	});
});
