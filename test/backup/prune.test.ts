import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {prune} from '../../source/backup/prune.js';
import {generationFileName, readRegistry, sourceEntry, updateRegistry, type Generation} from '../../source/backup/registry.js';

let dir: string;
beforeEach(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-prune-'));
});
afterEach(() => fs.rmSync(dir, {recursive: true, force: true}));

const source = '/data/db.dump';

function partial(generation: number, createdAt: Date): Generation {
	return {
		generation,
		file: generationFileName(source, generation),
		createdAt: createdAt.toISOString(),
		status: 'partial',
		source: {path: source, size: 1, mtimeMs: 0, ino: 1, dev: 1},
		size: 1,
		chunkSize: 65_536,
		recipients: [],
		passphrase: false,
	};
}

describe('prune', () => {
	it('removes an interrupted create nothing can resume, but not one that is just starting', async () => {
		await updateRegistry(dir, registry => {
			const entry = sourceEntry(registry, source);
			entry.generations.push(partial(1, new Date(Date.now() - 3_600_000)), partial(2, new Date()));
			entry.nextGeneration = 3;
		});
		// Generation 1 left a partial output an hour old and no checkpoint: killed before its first one.
		const stale = path.join(dir, `${generationFileName(source, 1)}.partial`);
		fs.writeFileSync(stale, 'x');
		fs.utimesSync(stale, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
		const report = await prune(dir, {keepLast: 3, keepDays: 0});
		expect(report.removed.map(({generation, reason}) => [generation.generation, reason])).toEqual([[1, 'dead']]);
		expect(fs.existsSync(stale)).toBe(false);
		expect((await readRegistry(dir)).sources[source]!.generations.map(g => g.generation)).toEqual([2]);
	});

	it("removes with a dead create the temp files a kill left of its checkpoint and of its checkpoint's claim", async () => {
		await updateRegistry(dir, registry => {
			const entry = sourceEntry(registry, source);
			entry.generations.push(partial(1, new Date(Date.now() - 3_600_000)));
			entry.nextGeneration = 2;
		});
		const name = generationFileName(source, 1);
		const stale = path.join(dir, `${name}.partial`);
		fs.writeFileSync(stale, 'x');
		fs.utimesSync(stale, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
		// Of a process that is gone (pids are below 2^22 on Linux).
		const leftOver = [`.${name}.checkpoint.json.tmp-99999999-0a1b2c`, `.${name}.checkpoint.json.lock.tmp-99999999-3d4e5f`];
		for (const each of leftOver) fs.writeFileSync(path.join(dir, each), '{}');
		await prune(dir, {keepLast: 3, keepDays: 0});
		expect(fs.readdirSync(dir).filter(each => each.includes('.tmp-'))).toEqual([]);
	});

	it('removes the file of a generation the registry dropped, and only reports one it never knew', async () => {
		await updateRegistry(dir, registry => {
			sourceEntry(registry, source).nextGeneration = 4;
		});
		const dropped = path.join(dir, generationFileName(source, 2));
		const stranger = path.join(dir, generationFileName('/elsewhere/notes', 1));
		fs.writeFileSync(dropped, 'x');
		fs.writeFileSync(stranger, 'y');
		const dry = await prune(dir, {keepLast: 3, keepDays: 0}, {dryRun: true});
		expect([...dry.orphans].sort((a, b) => a.file.localeCompare(b.file))).toEqual([{file: dropped, removed: false, dropped: true}, {file: stranger, removed: false, dropped: false}].sort((a, b) => a.file.localeCompare(b.file)));
		expect(fs.existsSync(dropped)).toBe(true);
		const report = await prune(dir, {keepLast: 3, keepDays: 0});
		expect(report.orphans.find(orphan => orphan.file === dropped)!.removed).toBe(true);
		expect(fs.existsSync(dropped)).toBe(false);
		expect(fs.existsSync(stranger)).toBe(true);
	});
});
