/**
 * The life of a generation in the registry: started (`partial`, before any byte is encrypted, so
 * every generation file has an entry), finished (its manifest recorded, `complete`), or found
 * dead (an interrupted job that nothing can resume).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {CheckpointStore, fingerprint, fingerprintChanges, readWriterRecord, runningWriter, writerStamp, type SourceFingerprint} from '../chunker/checkpoint.js';
import {faultPause} from '../io/fault.js';
import {claimPath} from '../jobs/claim.js';
import {outputCheckpointPath, partialPath} from '../jobs/locate.js';
import {buildManifest, readManifests, setManifest, writeManifests} from './manifest.js';
import type {RetentionPolicy} from './retention.js';
import {generationFileName, parseGenerationFileName, readRegistry, registryPath, sourceEntry, withRegistryLock, writeRegistry, type Generation, type Registry} from './registry.js';

/** Same file, same contents as far as a fingerprint tells (size, mtime, inode, change time). */
export function sameFingerprint(a: SourceFingerprint, b: SourceFingerprint): boolean {
	return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.dev === b.dev && (a.ctimeMs === undefined || b.ctimeMs === undefined || a.ctimeMs === b.ctimeMs);
}

export type StartResult = {kind: 'unchanged'; newest: Generation} | {kind: 'running'; generation: Generation} | {kind: 'started'; generation: Generation; path: string};

/**
 * Register a new generation of `source` as `partial`, or report the source unchanged since its
 * newest complete generation, or being backed up as it is now by another cage process (unless
 * `force`). Its number is past every number the registry had and every generation file of the
 * source on disk (a registry put back from `.prev` may not know the newest), so none is reused.
 */
export async function startGeneration(
	dir: string,
	source: string,
	who: {recipients: string[]; passphrase: boolean},
	chunkSize: number,
	{force = false, retention}: {force?: boolean; retention?: RetentionPolicy} = {},
): Promise<StartResult> {
	return withRegistryLock(dir, async () => {
		const registry = await readRegistry(dir);
		const entry = sourceEntry(registry, source);
		const now = await fingerprint(source);
		const newest = [...entry.generations].filter(g => g.status === 'complete').sort((a, b) => b.generation - a.generation)[0];
		if (!force && newest && sameFingerprint(newest.source, now)) return {kind: 'unchanged', newest};
		if (!force) {
			for (const generation of entry.generations) {
				if (generation.status === 'partial' && sameFingerprint(generation.source, now) && (await partialState(dir, generation)) === 'running') return {kind: 'running', generation};
			}
		}

		for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
			const parsed = parseGenerationFileName(name.replace(/\.lock$/, ''));
			if (parsed?.id === entry.id) entry.nextGeneration = Math.max(entry.nextGeneration, parsed.generation + 1);
		}

		const number = entry.nextGeneration++;
		const generation: Generation = {
			generation: number,
			file: generationFileName(source, number),
			createdAt: new Date().toISOString(),
			status: 'partial',
			source: now,
			size: now.size,
			chunkSize,
			recipients: who.recipients,
			passphrase: who.passphrase,
			writer: writerStamp(),
			...(retention ? {retention} : {}),
		};
		entry.generations.push(generation);
		await writeRegistry(dir, registry);
		return {kind: 'started', generation, path: path.join(dir, generation.file)};
	});
}

/** Record the manifest of a generation whose file is complete, and mark it `complete`. */
export async function finishGeneration(dir: string, source: string, number: number, jobs: number): Promise<Generation> {
	const file = await withRegistryLock(dir, async () => {
		const registry = await readRegistry(dir);
		const generation = registry.sources[source]?.generations.find(g => g.generation === number);
		if (!generation) throw new Error(`generation ${number} of ${source} is no longer in the registry of ${dir}`);
		return path.join(dir, generation.file);
	});
	// The extra read happens outside the lock: other processes' creates are not held up by it.
	const probe = await readRegistry(dir);
	const generation = probe.sources[source]!.generations.find(g => g.generation === number)!;
	const manifest = await buildManifest(file, generation.size, generation.chunkSize, jobs);
	return withRegistryLock(dir, async () => {
		const registry = await readRegistry(dir);
		const manifests = await readManifests(dir);
		const found = registry.sources[source]?.generations.find(g => g.generation === number);
		if (!found) throw new Error(`generation ${number} of ${source} is no longer in the registry of ${dir}`);
		setManifest(manifests, source, number, manifest);
		await faultPause('slow-manifest', 3000);
		// Manifest first: a crash between the two writes leaves a partial generation with a manifest, never a complete one without.
		await writeManifests(dir, manifests);
		found.status = 'complete';
		found.fileSize = manifest.fileSize;
		delete found.writer;
		delete found.retention;
		await writeRegistry(dir, registry);
		return found;
	});
}

/** What is on disk for a partial generation. */
export type PartialState = 'running' | 'resumable' | 'finished' | 'dead';

/**
 * Whether a `partial` generation is being written now, can be resumed, was finished (by `cage
 * resume`) or is dead: its writer is gone and it cannot be resumed (killed before its first
 * checkpoint, or its source changed since it began).
 */
export async function partialState(dir: string, generation: Generation): Promise<PartialState> {
	const output = path.join(dir, generation.file);
	const checkpoint = outputCheckpointPath(output);
	for (const record of [claimPath(checkpoint), checkpoint]) {
		if (runningWriter(readWriterRecord(record)) !== undefined) return 'running';
	}

	// The create that registered it, between registering and claiming its output (or running still).
	if (generation.writer && runningWriter(generation.writer) !== undefined) return 'running';
	const has = async (file: string) => fs.stat(file).then(() => true, () => false);
	if (await has(checkpoint)) return (await resumableSource(checkpoint)) ? 'resumable' : 'dead';
	if (await has(output)) return 'finished';
	// Its writer is known and gone, and it left no checkpoint: nothing can finish it.
	if (generation.writer) return 'dead';
	// A registry of an older cage names no writer: a young entry may be a job starting.
	const partial = await fs.stat(partialPath(output)).catch(() => undefined);
	if (partial) return Date.now() - partial.mtimeMs < 60_000 ? 'running' : 'dead';
	return Date.now() - Date.parse(generation.createdAt) < startGraceMs ? 'running' : 'dead';
}

/**
 * Whether the checkpoint's source is still the file it was made from (so a resume can go on). A
 * checkpoint that cannot be read is left for the resume to say what is wrong with it.
 */
async function resumableSource(checkpoint: string): Promise<boolean> {
	let source: SourceFingerprint;
	try {
		({source} = await new CheckpointStore(checkpoint).read());
	} catch {
		return true;
	}

	const now = await fingerprint(source.path).catch(() => undefined);
	return now !== undefined && fingerprintChanges(source, now).length === 0;
}

/** How long a registered generation with nothing on disk yet counts as starting. */
const startGraceMs = 5 * 60 * 1000;

/** The registry's partial generations, each with its state. */
export async function partialGenerations(dir: string, registry: Registry, only?: string): Promise<Array<{source: string; generation: Generation; state: PartialState}>> {
	const found = [];
	for (const [source, entry] of Object.entries(registry.sources)) {
		if (only !== undefined && source !== only) continue;
		for (const generation of entry.generations) {
			if (generation.status === 'partial') found.push({source, generation, state: await partialState(dir, generation)});
		}
	}

	return found;
}

/**
 * The partial generation whose age file `output` is, when it is one (a `cage resume` of it has
 * just finished the file): its directory, source and generation. Else undefined.
 */
export async function generationOfOutput(output: string): Promise<{dir: string; source: string; generation: Generation} | undefined> {
	const dir = path.dirname(output);
	const parsed = parseGenerationFileName(path.basename(output));
	if (!parsed || parsed.base !== path.basename(output)) return undefined;
	const exists = await fs.stat(registryPath(dir)).then(() => true, () => false);
	if (!exists) return undefined;
	const registry = await readRegistry(dir);
	for (const [source, entry] of Object.entries(registry.sources)) {
		if (entry.id !== parsed.id) continue;
		const generation = entry.generations.find(g => g.generation === parsed.generation && g.file === parsed.base && g.status === 'partial');
		if (generation) return {dir, source, generation};
	}

	return undefined;
}
