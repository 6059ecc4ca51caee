/**
 * Chunk manifests, `DIR/.cage_backups.chunks.json`: per generation, the chunk plan and one
 * SHA-256 per chunk of the **ciphertext** bytes the chunk occupies in the age file, plus one of
 * the header (header and payload nonce). Unkeyed, so anyone can check a backup without a key and
 * name the damaged chunk; a digest of ciphertext reveals nothing of the plaintext. No digest of
 * plaintext is stored.
 */
import {createHash} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {chunkCount, chunkAt} from '../chunker/plan.js';
import {blockRange, ciphertextPayloadSize} from '../age/stream.js';
import {writePrivateFile} from '../io/private-file.js';
import {BackupError, recoveryHint} from './registry.js';

export const manifestVersion = 1;
export const manifestName = '.cage_backups.chunks.json';

/** A byte range of the age file, end exclusive, with the SHA-256 of its bytes. */
export type ManifestChunk = {id: number; start: number; end: number; sha256: string; lastVerify?: 'ok' | 'damaged'};

export type GenerationManifest = {
	/** Plaintext bytes and chunk size: the plan. Chunk i covers plaintext [i*chunkSize, …). */
	size: number;
	chunkSize: number;
	fileSize: number;
	header: {start: 0; end: number; sha256: string};
	chunks: ManifestChunk[];
	verifiedAt?: string;
};

export type Manifests = {version: number; tool: 'cage'; kind: 'backup-manifests'; generations: Record<string, Record<string, GenerationManifest>>};

export function manifestPath(dir: string): string {
	return path.join(dir, manifestName);
}

export async function readManifests(dir: string): Promise<Manifests> {
	const file = manifestPath(dir);
	let text: string;
	try {
		text = await fs.readFile(file, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {version: manifestVersion, tool: 'cage', kind: 'backup-manifests', generations: {}};
		throw error;
	}

	const corrupt = async (what: string): Promise<never> => {
		const prev = await fs.stat(`${file}.prev`).then(() => true, () => false);
		throw new BackupError(`the chunk manifests ${file} are corrupt (${what}); they were not changed. To recover, ${recoveryHint(file, prev)}`);
	};

	let data: Manifests | undefined;
	try {
		data = JSON.parse(text) as Manifests;
	} catch {
		await corrupt('not valid JSON');
	}

	if (data?.tool !== 'cage' || data.kind !== 'backup-manifests' || typeof data.generations !== 'object' || data.generations === null) return corrupt('not cage chunk manifests');
	if (data.version > manifestVersion) throw new BackupError(`the chunk manifests ${file} were written by a newer cage (format ${data.version}); upgrade cage`);
	return data;
}

/** Write the manifests (under the registry lock: the caller holds it), keeping the version they replace as `.prev`, as the registry does. */
export async function writeManifests(dir: string, manifests: Manifests): Promise<void> {
	const file = manifestPath(dir);
	const current = await fs.readFile(file, 'utf8').catch(() => undefined);
	if (current !== undefined) await writePrivateFile(`${file}.prev`, current, {replace: true});
	await writePrivateFile(file, `${JSON.stringify(manifests)}\n`, {replace: true});
}

export function getManifest(manifests: Manifests, source: string, generation: number): GenerationManifest | undefined {
	return manifests.generations[source]?.[String(generation)];
}

export function setManifest(manifests: Manifests, source: string, generation: number, manifest: GenerationManifest | undefined): void {
	const bySource = (manifests.generations[source] ??= {});
	if (manifest) bySource[String(generation)] = manifest;
	else delete bySource[String(generation)];
	if (Object.keys(bySource).length === 0) delete manifests.generations[source];
}

/**
 * The ciphertext ranges of the age file of a `size`-byte plaintext encrypted in `chunkSize`
 * chunks, whose header and nonce take `prefix` bytes: exactly the bytes each chunk's job wrote.
 */
export function cipherPlan(size: number, chunkSize: number, prefix: number): Array<{id: number; start: number; end: number}> {
	const ranges = [];
	for (let id = 0; id < chunkCount(size, chunkSize); id++) {
		const chunk = chunkAt(size, chunkSize, id);
		const range = blockRange(chunk.start, chunk.end, size);
		ranges.push({id, start: prefix + range.cipherStart, end: prefix + range.cipherEnd});
	}

	return ranges;
}

const readBlock = 1024 * 1024;

/** SHA-256 of bytes [start, end) of an open file, read 1 MiB at a time. `undefined` when the file ends before `end`. */
export async function hashRange(handle: fs.FileHandle, start: number, end: number, buffer = Buffer.allocUnsafe(readBlock)): Promise<string | undefined> {
	const hash = createHash('sha256');
	let at = start;
	while (at < end) {
		const {bytesRead} = await handle.read(buffer, 0, Math.min(buffer.length, end - at), at);
		if (bytesRead === 0) return undefined;
		hash.update(buffer.subarray(0, bytesRead));
		at += bytesRead;
	}

	return hash.digest('hex');
}

/**
 * Run `work` over `items`, at most `jobs` at once, results in order. After a failure no item is
 * started, and the first error is thrown only once the items in flight have settled: nothing of
 * the run goes on behind the caller's back (a verify saves its checkpoint after it).
 */
export async function inParallel<T, R>(items: T[], jobs: number, work: (item: T) => Promise<R>): Promise<R[]> {
	const results = new Array<R>(items.length);
	let next = 0;
	let failed = false;
	let first: unknown;
	await Promise.all(
		Array.from({length: Math.max(1, Math.min(jobs, items.length))}, async () => {
			while (!failed && next < items.length) {
				const index = next++;
				try {
					results[index] = await work(items[index]!);
				} catch (error) {
					if (!failed) first = error;
					failed = true;
				}
			}
		}),
	);
	if (failed) throw first;
	return results;
}

/**
 * The manifest of a finished generation file: one extra read of it, chunk ranges hashed `jobs` at
 * a time (bounded memory: 1 MiB per range in flight).
 */
export async function buildManifest(file: string, size: number, chunkSize: number, jobs: number): Promise<GenerationManifest> {
	const handle = await fs.open(file, 'r');
	try {
		const fileSize = (await handle.stat()).size;
		const prefix = fileSize - ciphertextPayloadSize(size);
		if (prefix <= 16) throw new BackupError(`${file} is ${fileSize} bytes, too short for an age file of ${size} bytes of plaintext`);
		const ranges = cipherPlan(size, chunkSize, prefix);
		const [header, ...digests] = await inParallel([{id: -1, start: 0, end: prefix}, ...ranges], jobs, async range => hashRange(handle, range.start, range.end));
		if (header === undefined || digests.includes(undefined)) throw new BackupError(`${file} ended while its manifest was computed`);
		return {size, chunkSize, fileSize, header: {start: 0, end: prefix, sha256: header}, chunks: ranges.map((range, index) => ({...range, sha256: digests[index]!}))};
	} finally {
		await handle.close();
	}
}

/** What checking a generation file against its manifest found. */
export type ManifestCheck = {missing: boolean; sizeDiffers?: number; headerDamaged: boolean; damaged: ManifestChunk[]; bytes: number};

/** Re-hash every range of `file` against `manifest`, `jobs` at a time. */
export async function checkAgainstManifest(file: string, manifest: GenerationManifest, jobs: number): Promise<ManifestCheck> {
	let handle: fs.FileHandle;
	try {
		handle = await fs.open(file, 'r');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {missing: true, headerDamaged: false, damaged: [], bytes: 0};
		throw error;
	}

	try {
		const fileSize = (await handle.stat()).size;
		const ranges = [manifest.header, ...manifest.chunks];
		const digests = await inParallel(ranges, jobs, async range => hashRange(handle, range.start, range.end));
		const headerDamaged = digests[0] !== manifest.header.sha256;
		const damaged = manifest.chunks.filter((chunk, index) => digests[index + 1] !== chunk.sha256);
		return {missing: false, ...(fileSize === manifest.fileSize ? {} : {sizeDiffers: fileSize}), headerDamaged, damaged, bytes: Math.min(fileSize, manifest.fileSize)};
	} finally {
		await handle.close();
	}
}
