/**
 * Prune, journaled: under the directory's lock, the generations to delete are first marked
 * `pruning` in the registry (written), then their files are deleted, then their entries and
 * manifests are dropped. A crash (`kill -9`, a full disk) at any moment leaves only entries marked
 * `pruning` — the journal, finished by the next prune — never a live entry pointing at a deleted
 * file; and since a generation is registered before its file is created, never an unregistered file.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {removeStaleTemporaries} from '../chunker/checkpoint.js';
import {faultPause, faultPoint} from '../io/fault.js';
import {syncDirectory} from '../io/files.js';
import {claimPath} from '../jobs/claim.js';
import {outputCheckpointPath, partialPath} from '../jobs/locate.js';
import {partialState} from './generations.js';
import {readManifests, setManifest, writeManifests} from './manifest.js';
import {expiredGenerations, type RetentionPolicy} from './retention.js';
import {parseGenerationFileName, readRegistry, registryName, withRegistryLock, writeRegistry, type Generation} from './registry.js';
import {manifestName} from './manifest.js';

export type PruneReport = {
	/** Generations deleted (or, in a dry run, that would be). */
	removed: Array<{source: string; generation: Generation; reason: 'retention' | 'journal' | 'dead'}>;
	/** Files no registry entry names: removed (`dropped`) when they belong to a generation the registry dropped, else left and reported. */
	orphans: Array<{file: string; removed: boolean; dropped: boolean}>;
};

/** Apply `policy` to every source of `dir` (or only `source`). */
export async function prune(dir: string, policy: RetentionPolicy, {dryRun = false, source: only}: {dryRun?: boolean; source?: string} = {}): Promise<PruneReport> {
	return withRegistryLock(dir, async () => {
		const registry = await readRegistry(dir);
		const report: PruneReport = {removed: [], orphans: []};
		// What a kill -9 inside an atomic write of the registry or manifests left (NAME.tmp-PID-…, of a dead process).
		if (!dryRun) for (const name of metadataNames) await removeStaleTemporaries(path.join(dir, name));
		for (const [source, entry] of Object.entries(registry.sources)) {
			if (only !== undefined && source !== only) continue;
			for (const generation of expiredGenerations(entry.generations, policy)) {
				report.removed.push({source, generation, reason: generation.status === 'pruning' ? 'journal' : 'retention'});
			}

			for (const generation of entry.generations) {
				// An interrupted create nothing can resume (killed before its first checkpoint).
				if (generation.status === 'partial' && (await partialState(dir, generation)) === 'dead') report.removed.push({source, generation, reason: 'dead'});
			}
		}

		// Files of the directory that no entry names.
		const named = new Set(Object.values(registry.sources).flatMap(entry => entry.generations.map(g => g.file)));
		const ids = new Map(Object.values(registry.sources).map(entry => [entry.id, entry.nextGeneration]));
		const names = await fs.readdir(dir);
		for (const name of names) {
			// A generation's file, partial output or checkpoint, or the claim on its checkpoint.
			const parsed = parseGenerationFileName(name.replace(/\.lock$/, ''));
			if (!parsed || named.has(parsed.base)) continue;
			// A generation the registry dropped (numbers are never reused): its file is left over.
			const dropped = ids.has(parsed.id) && parsed.generation < ids.get(parsed.id)!;
			if (only !== undefined && !dropped) continue;
			report.orphans.push({file: path.join(dir, name), removed: dropped && !dryRun, dropped});
		}

		if (dryRun) return report;
		if (report.removed.length > 0) {
			// 1. The journal: every generation about to be deleted is marked, before any file goes.
			for (const {generation} of report.removed) generation.status = 'pruning';
			await faultPause('slow-prune', 15);
			await writeRegistry(dir, registry);
			faultPoint('backup-prune-journaled');
			// 2. The files.
			for (const {generation} of report.removed) {
				const file = path.join(dir, generation.file);
				const checkpoint = outputCheckpointPath(file);
				// With what a killed job of it left: the claim on its checkpoint, a checkpoint's temp file.
				for (const each of [file, partialPath(file), checkpoint, claimPath(checkpoint)]) {
					await faultPause('slow-prune', 15);
					await fs.rm(each, {force: true});
				}

				// A checkpoint's temp file, and the claim's (a kill while the job made its claim).
				await removeStaleTemporaries(checkpoint);
				await removeStaleTemporaries(claimPath(checkpoint));
			}

			await syncDirectory(dir);
			faultPoint('backup-prune-deleted');
			await faultPause('slow-prune', 15);
			// 3. The entries and their manifests.
			const manifests = await readManifests(dir);
			for (const {source, generation} of report.removed) {
				const entry = registry.sources[source]!;
				entry.generations = entry.generations.filter(g => g !== generation);
				setManifest(manifests, source, generation.generation, undefined);
			}

			await writeManifests(dir, manifests);
			await faultPause('slow-prune', 15);
			await writeRegistry(dir, registry);
		}

		for (const orphan of report.orphans) {
			if (!orphan.removed) continue;
			await faultPause('slow-prune', 15);
			await fs.rm(orphan.file, {force: true});
		}
		return report;
	});
}

/** Names cage keeps in a backup directory besides generation files. */
export const metadataNames = [registryName, `${registryName}.prev`, `${registryName}.lock`, manifestName, `${manifestName}.prev`];
