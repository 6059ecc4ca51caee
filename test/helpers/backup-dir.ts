/**
 * What must hold of a backup directory at any instant, even right after a kill -9: the registry
 * is whole (the real parser reads it), every generation it lists as there has its file and a
 * manifest that agrees with the file, and every generation file on disk is one it lists.
 */
import fs from 'node:fs';
import path from 'node:path';
import {expect} from 'vitest';
import {parseRegistry, parseGenerationFileName, type Registry} from '../../source/backup/registry.js';
import type {Manifests} from '../../source/backup/manifest.js';

/** Files cage itself keeps in a backup directory (besides generation files). */
const metadata = /^\.cage_backups(\.json(\.prev|\.lock(\.takeover)?)?|\.chunks\.json(\.prev)?|\.verify-[\da-f]+\.checkpoint\.json(\.lock)?)$/;
/** A kill -9 inside an atomic write leaves its temp file (NAME.tmp-PID-…): junk, never data; the next prune removes it. */
const temporary = /^\..*\.tmp-\d+-[\da-f]+$/;

export type DirState = {registry: Registry | undefined; manifests: Manifests | undefined; names: string[]};

/** Check the directory's invariants (see above); `what` names the moment in failures. Returns what is there. */
export function checkBackupDir(dir: string, what: string, {temporaries = true} = {}): DirState {
	const names = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
	const registryFile = path.join(dir, '.cage_backups.json');
	const registry = fs.existsSync(registryFile) ? parseRegistry(fs.readFileSync(registryFile, 'utf8'), registryFile) : undefined;
	const manifestFile = path.join(dir, '.cage_backups.chunks.json');
	const manifests = fs.existsSync(manifestFile) ? (JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifests) : undefined;
	const named = new Set<string>();
	for (const [source, entry] of Object.entries(registry?.sources ?? {})) {
		for (const generation of entry.generations) {
			named.add(generation.file);
			if (generation.status !== 'complete' && generation.status !== 'damaged') continue;
			// Listed as there: its file is there, and its manifest agrees with it.
			const file = path.join(dir, generation.file);
			expect(fs.existsSync(file), `${what}: generation ${generation.generation} is ${generation.status}, but ${file} is gone`).toBe(true);
			const manifest = manifests?.generations[source]?.[String(generation.generation)];
			expect(manifest, `${what}: generation ${generation.generation} is ${generation.status} without a manifest`).toBeDefined();
			expect(fs.statSync(file).size, `${what}: generation ${generation.generation}'s file size`).toBe(manifest!.fileSize);
			expect(generation.fileSize).toBe(manifest!.fileSize);
		}
	}

	for (const name of names) {
		// A generation's file, partial output, checkpoint, or the claim on its checkpoint.
		const parsed = parseGenerationFileName(name.replace(/\.lock(\.takeover)?$/, ''));
		if (parsed) {
			expect(named.has(parsed.base), `${what}: ${name} is on disk, and the registry names no such generation`).toBe(true);
			continue;
		}

		const allowed = metadata.test(name) || (temporaries && temporary.test(name));
		expect(allowed, `${what}: ${name} is in the backup directory`).toBe(true);
	}

	return {registry, manifests, names};
}

/** The generations of the only source of `state`: number and status. */
export function generationsOf(state: DirState): Array<[number, string]> {
	const entries = Object.values(state.registry?.sources ?? {});
	return entries.flatMap(entry => entry.generations.map(g => [g.generation, g.status] as [number, string]));
}
