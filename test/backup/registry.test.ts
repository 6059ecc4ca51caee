import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {parseGenerationFileName, generationFileName, readRegistry, registryPath, sourceEntry, updateRegistry} from '../../source/backup/registry.js';
import {cipherPlan} from '../../source/backup/manifest.js';
import {ciphertextPayloadSize} from '../../source/age/stream.js';

let dir: string;
beforeEach(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-registry-'));
});
afterEach(() => fs.rmSync(dir, {recursive: true, force: true}));

describe('registry', () => {
	it('is written 0600 with the version it replaces kept as .prev', async () => {
		await updateRegistry(dir, registry => {
			sourceEntry(registry, '/data/a').nextGeneration = 2;
		});
		await updateRegistry(dir, registry => {
			sourceEntry(registry, '/data/b');
		});
		const file = registryPath(dir);
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		expect(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).sources)).toEqual(['/data/a', '/data/b']);
		expect(Object.keys(JSON.parse(fs.readFileSync(`${file}.prev`, 'utf8')).sources)).toEqual(['/data/a']);
		expect(fs.existsSync(`${file}.lock`)).toBe(false);
	});

	it('refuses a corrupt registry, naming it and its .prev, and leaves it as it was', async () => {
		fs.writeFileSync(registryPath(dir), '{"tool":"cage","kind":"backup-registry","version":1,"sources":');
		await expect(readRegistry(dir)).rejects.toThrow(`the backup registry ${registryPath(dir)} is corrupt (not valid JSON)`);
		await expect(updateRegistry(dir, () => undefined)).rejects.toThrow(`${registryPath(dir)}.prev`);
		expect(fs.readFileSync(registryPath(dir), 'utf8')).toContain('"sources":');
		expect(fs.readFileSync(registryPath(dir), 'utf8').endsWith('"sources":')).toBe(true);
	});

	it('refuses a registry from a newer cage', async () => {
		fs.writeFileSync(registryPath(dir), JSON.stringify({tool: 'cage', kind: 'backup-registry', version: 2, sources: {}}));
		await expect(readRegistry(dir)).rejects.toThrow('written by a newer cage (format 2');
	});

	it('refuses a generation numbered at or past nextGeneration (numbers are never reused)', async () => {
		const generation = {generation: 3, file: 'a.12345678.g3.age', createdAt: 'x', status: 'complete'};
		fs.writeFileSync(registryPath(dir), JSON.stringify({tool: 'cage', kind: 'backup-registry', version: 1, sources: {'/a': {id: 'x', nextGeneration: 3, generations: [generation]}}}));
		await expect(readRegistry(dir)).rejects.toThrow('generation 3 of /a is not below nextGeneration');
	});

	it('names generation files so that they parse back, with their partial and checkpoint', () => {
		const name = generationFileName('/srv/db.dump', 12);
		expect(name).toMatch(/^db\.dump\.[\da-f]{8}\.g12\.age$/);
		for (const each of [name, `${name}.partial`, `${name}.checkpoint.json`]) expect(parseGenerationFileName(each)).toMatchObject({generation: 12, base: name});
		expect(parseGenerationFileName('db.dump')).toBeUndefined();
	});
});

describe('cipherPlan', () => {
	it('covers the age file after the header exactly, chunk after chunk', () => {
		const size = 5 * 65_536 + 100;
		const plan = cipherPlan(size, 2 * 65_536, 200);
		expect(plan.map(chunk => chunk.id)).toEqual([0, 1, 2]);
		expect(plan[0]!.start).toBe(200);
		for (let i = 1; i < plan.length; i++) expect(plan[i]!.start).toBe(plan[i - 1]!.end);
		expect(plan.at(-1)!.end).toBe(200 + ciphertextPayloadSize(size));
	});
});
