/**
 * The backup registry, `DIR/.cage_backups.json`: per source file (absolute path) its numbered
 * generations. Versioned JSON, written atomically (temp file, fsync, rename), the version it
 * replaces kept as `.cage_backups.json.prev`, and read-modify-written only under a lock
 * (`.cage_backups.json.lock`, claimed exclusively; a stale one is taken over), so several cage
 * processes can back up into one directory at once. A registry that does not parse is refused,
 * naming the file and how to recover from `.prev`: it is never silently rewritten.
 */
import {createHash} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type {SourceFingerprint} from '../chunker/checkpoint.js';
import {claim} from '../jobs/claim.js';
import {writePrivateFile} from '../io/private-file.js';

/** The registry format this build writes and reads. */
export const registryVersion = 1;
export const registryName = '.cage_backups.json';

/** complete: written and its manifest recorded; partial: being written (or interrupted); damaged: a verify found damage; missing: its file is gone; pruning: journaled for deletion. */
export type GenerationStatus = 'complete' | 'partial' | 'damaged' | 'missing' | 'pruning';

/** One generation: an encrypted copy of the source as it was at `createdAt`. */
export type Generation = {
	generation: number;
	/** The age file's name in the backup directory. */
	file: string;
	createdAt: string;
	status: GenerationStatus;
	/** The source when the generation was started. */
	source: SourceFingerprint;
	/** Plaintext bytes. */
	size: number;
	/** Bytes of the age file, once complete. */
	fileSize?: number;
	chunkSize: number;
	/** Public recipients (age1…); empty for a passphrase. */
	recipients: string[];
	passphrase: boolean;
	/**
	 * The process that registered the generation and is writing it (while `partial`): when it is
	 * gone and nothing can resume the generation, the generation is dead.
	 */
	writer?: {pid: number; pidStart?: string};
	/** The retention the create that began it applies once it is finished (while `partial`): a resume applies the same. */
	retention?: {keepLast: number; keepDays: number};
	/** Chunks the last verify found damaged. */
	damagedChunks?: number[];
	verifiedAt?: string;
};

/** A source's generations; `nextGeneration` only grows, so a number is never reused. */
export type SourceEntry = {id: string; nextGeneration: number; generations: Generation[]};

export type Registry = {version: number; tool: 'cage'; kind: 'backup-registry'; updatedAt: string; sources: Record<string, SourceEntry>};

/** A backup problem the user can act on (one line: what and what to do). */
export class BackupError extends Error {
	override name = 'BackupError';
}

export function registryPath(dir: string): string {
	return path.join(dir, registryName);
}

export function emptyRegistry(): Registry {
	return {version: registryVersion, tool: 'cage', kind: 'backup-registry', updatedAt: new Date().toISOString(), sources: {}};
}

/** A short, stable id of a source path: generation files of two sources named alike differ by it. */
export function sourceId(source: string): string {
	return createHash('sha256').update(source).digest('hex').slice(0, 8);
}

/** The file name of generation `n` of `source`: `NAME.ID.gN.age`. */
export function generationFileName(source: string, n: number): string {
	return `${path.basename(source)}.${sourceId(source)}.g${n}.age`;
}

/** Parse a generation file name (also its `.partial` and `.checkpoint.json`): id and number. */
export function parseGenerationFileName(name: string): {id: string; generation: number; base: string} | undefined {
	const match = /^(.*)\.([\da-f]{8})\.g(\d+)\.age(\.partial|\.checkpoint\.json)?$/.exec(name);
	if (!match) return undefined;
	return {id: match[2]!, generation: Number(match[3]), base: `${match[1]!}.${match[2]!}.g${match[3]!}.age`};
}

const statuses: readonly GenerationStatus[] = ['complete', 'partial', 'damaged', 'missing', 'pruning'];

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How to recover from a corrupt metadata file `file` of a backup directory (with its `.prev`, when there is one). */
export function recoveryHint(file: string, prev: boolean): string {
	const dir = path.dirname(file);
	const keep = `set it aside ('mv ${file} ${file}.damaged')`;
	return prev
		? `its previous version is kept as ${file}.prev: ${keep}, put that back ('cp ${file}.prev ${file}'), then 'cage backup list --to ${dir}' and 'cage backup prune --dry-run --to ${dir}' show what it knows and what it does not`
		: `no previous version (${file}.prev) is kept: restore it from a copy of ${dir}; its generation files are ordinary age files, which 'age -d' decrypts`;
}

/** Validate registry text; errors name `file` and say how to recover (`prev`: whether `file.prev` exists). */
export function parseRegistry(text: string, file: string, {prev = true}: {prev?: boolean} = {}): Registry {
	const corrupt = (what: string): never => {
		throw new BackupError(`the backup registry ${file} is corrupt (${what}); it was not changed. To recover, ${recoveryHint(file, prev)}`);
	};

	let data: unknown;
	try {
		data = JSON.parse(text);
	} catch {
		corrupt('not valid JSON');
	}

	if (!isRecord(data) || data.tool !== 'cage' || data.kind !== 'backup-registry') corrupt('not a cage backup registry');
	const record = data as Record<string, unknown>;
	if (typeof record.version !== 'number' || !Number.isInteger(record.version)) corrupt('no version');
	if ((record.version as number) > registryVersion) {
		throw new BackupError(`the backup registry ${file} was written by a newer cage (format ${String(record.version)}; this one reads ${registryVersion}): upgrade cage to use it`);
	}

	if (!isRecord(record.sources)) corrupt('no sources');
	for (const [source, entry] of Object.entries(record.sources as Record<string, unknown>)) {
		if (!isRecord(entry) || typeof entry.id !== 'string' || !Number.isInteger(entry.nextGeneration) || !Array.isArray(entry.generations)) corrupt(`source ${source}`);
		const e = entry as SourceEntry;
		for (const g of e.generations as unknown[]) {
			if (!isRecord(g) || !Number.isInteger(g.generation) || typeof g.file !== 'string' || !statuses.includes(g.status as GenerationStatus) || typeof g.createdAt !== 'string') {
				corrupt(`a generation of ${source}`);
			}

			if ((g as Generation).generation >= e.nextGeneration) corrupt(`generation ${String((g as Generation).generation)} of ${source} is not below nextGeneration`);
			if (path.basename((g as Generation).file) !== (g as Generation).file) corrupt(`generation ${String((g as Generation).generation)} of ${source} names a file outside the directory`);
		}
	}

	return data as Registry;
}

/** Read the registry of `dir`; an absent one is empty. */
export async function readRegistry(dir: string): Promise<Registry> {
	const file = registryPath(dir);
	let text: string;
	try {
		text = await fs.readFile(file, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyRegistry();
		throw error;
	}

	const prev = async () => fs.stat(`${file}.prev`).then(() => true, () => false);
	try {
		return parseRegistry(text, file);
	} catch (error) {
		if (error instanceof BackupError && !(await prev())) return parseRegistry(text, file, {prev: false});
		throw error;
	}
}

/** Write the registry (0600, atomically), keeping the version it replaces as `.prev`. */
export async function writeRegistry(dir: string, registry: Registry): Promise<void> {
	const file = registryPath(dir);
	const current = await fs.readFile(file, 'utf8').catch(() => undefined);
	if (current !== undefined) await writePrivateFile(`${file}.prev`, current, {replace: true});
	await writePrivateFile(file, `${JSON.stringify({...registry, updatedAt: new Date().toISOString()}, null, '\t')}\n`, {replace: true});
}

/**
 * Run `fn` holding the directory's lock: other cage processes wait (up to `waitMs`) rather than
 * fail, as the lock is held only for a read-modify-write (and a prune's deletions), never while a
 * generation is being encrypted.
 */
export async function withRegistryLock<T>(dir: string, fn: () => Promise<T>, {waitMs = 60_000} = {}): Promise<T> {
	const lock = `${registryPath(dir)}.lock`;
	const deadline = Date.now() + waitMs;
	let held: Awaited<ReturnType<typeof claim>> | undefined;
	let delay = 10;
	while (!held) {
		try {
			held = await claim(lock, pid => Object.assign(new BackupError(`the backup directory ${dir} is locked by cage process ${pid ?? '(starting)'}; wait for it to finish, or stop it`), {busy: true}));
		} catch (error) {
			if (!(error as {busy?: boolean}).busy || Date.now() > deadline) throw error;
			await new Promise(resolve => setTimeout(resolve, delay));
			delay = Math.min(200, delay * 2);
		}
	}

	try {
		return await fn();
	} finally {
		await held.release();
	}
}

/** Read, change and write the registry under the lock; `change` returns what the caller needs. */
export async function updateRegistry<T>(dir: string, change: (registry: Registry) => T | Promise<T>): Promise<T> {
	return withRegistryLock(dir, async () => {
		const registry = await readRegistry(dir);
		const result = await change(registry);
		await writeRegistry(dir, registry);
		return result;
	});
}

/** The entry of `source`, created when absent. */
export function sourceEntry(registry: Registry, source: string): SourceEntry {
	registry.sources[source] ??= {id: sourceId(source), nextGeneration: 1, generations: []};
	return registry.sources[source];
}

/** Find a source by the path the user typed (resolved), else by its base name when that is unique. */
export function findSource(registry: Registry, given: string, dir: string): string {
	const resolved = path.resolve(given);
	if (registry.sources[resolved]) return resolved;
	const byName = Object.keys(registry.sources).filter(source => path.basename(source) === path.basename(given));
	if (byName.length === 1 && !given.includes('/')) return byName[0]!;
	throw new BackupError(`${given} has no backups in ${dir}${byName.length > 1 ? ` (several sources are named ${path.basename(given)}: give the full path)` : ''}; 'cage backup list --to ${dir}' shows what is there`);
}

/** Generation `n` of a source, or the newest complete one. */
export function findGeneration(entry: SourceEntry, source: string, n: number | undefined, {complete = true} = {}): Generation {
	if (n !== undefined) {
		const found = entry.generations.find(g => g.generation === n);
		if (!found) throw new BackupError(`${source} has no generation ${n} (it has ${entry.generations.map(g => g.generation).join(', ') || 'none'})`);
		return found;
	}

	const newest = [...entry.generations].filter(g => !complete || g.status === 'complete').sort((a, b) => b.generation - a.generation)[0];
	if (!newest) throw new BackupError(`${source} has no complete generation; 'cage backup list ${source}' shows its generations`);
	return newest;
}
