/**
 * The checkpoint of `cage backup verify`, `DIR/.cage_backups.verify-ID.checkpoint.json`: one per
 * selection (the generations chosen, the kind of key, the sample), so that the same `backup verify`
 * run again, or `cage resume` of the file, continues where an interrupted run stopped. Per
 * generation it keeps how many of its chunks were checked (committed in order), those found
 * damaged, and the finding once the generation is finished.
 *
 * It holds no plaintext, no key and no digest of plaintext: chunk numbers, results, and the
 * fingerprint of each generation file (and a digest of its manifest entry, itself digests of
 * ciphertext) that the chunks were checked in. It is sealed, an HMAC under a random key wrapped to
 * the per-user resume identity, so that an edit (say, a damaged chunk turned into a checked one)
 * is found: a checkpoint that fails its seal, or a generation whose file or manifest changed since,
 * is not trusted, and its chunks are checked again.
 */
import {createHash, randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {sealJson, writerStamp} from '../chunker/checkpoint.js';
import {unwrapSecrets, wrapSecrets} from '../jobs/resume-key.js';
import {writePrivateFile} from '../io/private-file.js';
import type {GenerationManifest} from './manifest.js';
import {BackupError, registryName} from './registry.js';
import type {VerifyFinding} from './verify.js';

export const verifyCheckpointVersion = 1;

/** A generation file as a verify saw it: a change of any of these voids the chunks checked in it. */
export type FileStamp = {size: number; mtimeMs: number; ino: number; dev: number; ctimeMs: number};

/** What a verify has done of one generation. */
export type VerifyTargetProgress = {
	source: string;
	generation: number;
	/** The chunks a sample checks, in order; absent when every chunk is checked. */
	only?: number[];
	/** How many of the chunks to check are checked (they commit in order). */
	chunksDone: number;
	/** Those of them found damaged, and why. */
	damaged: Array<{id: number; problem: string}>;
	/** The generation file and its manifest entry when its chunks were checked. */
	stamp?: FileStamp;
	manifest?: string;
	/** The generation's finding, once it is finished. */
	finding?: VerifyFinding;
};

/** How the verify authenticates: not at all, with identity files (read again on resume), or a passphrase (asked again). */
export type VerifyKeyKind = 'none' | 'identities' | 'passphrase';

export type VerifyCheckpoint = {
	version: typeof verifyCheckpointVersion;
	tool: 'cage';
	kind: 'backup-verify';
	createdAt: string;
	updatedAt: string;
	/** The backup directory. */
	dir: string;
	key: VerifyKeyKind;
	/** Identity FILES (paths), never keys. */
	identityFiles?: string[];
	/** `--sample PERCENT`, when given. */
	sample?: number;
	targets: VerifyTargetProgress[];
	pid?: number;
	pidStart?: string;
	/** The seal's key, age-encrypted to the resume identity (base64). */
	secrets: string;
	seal?: string;
};

const prefix = `${registryName.replace(/\.json$/, '')}.verify-`;
const suffix = '.checkpoint.json';

/** Whether `name` is a verify checkpoint's file name. */
export function isVerifyCheckpointName(name: string): boolean {
	return name.startsWith(prefix) && name.endsWith(suffix);
}

/** The checkpoint of a verify of `targets` in `dir` with this key kind and sample. */
export function verifyCheckpointPath(dir: string, selection: {targets: Array<{source: string; generation: number}>; key: VerifyKeyKind; sample?: number | undefined}): string {
	const id = createHash('sha256')
		.update(JSON.stringify([selection.targets.map(target => [target.source, target.generation]), selection.key, selection.sample ?? null]))
		.digest('hex')
		.slice(0, 12);
	return path.join(dir, `${prefix}${id}${suffix}`);
}

/** The verify checkpoints in `dir`. */
export async function findVerifyCheckpoints(dir: string): Promise<string[]> {
	const names = await fs.readdir(dir).catch(() => [] as string[]);
	return names.filter(name => isVerifyCheckpointName(name)).sort().map(name => path.join(dir, name));
}

/** A digest of a generation's manifest entry: the chunks were checked against these digests. */
export function manifestDigest(manifest: GenerationManifest): string {
	const {size, chunkSize, fileSize, header, chunks} = manifest;
	return createHash('sha256')
		.update(JSON.stringify([size, chunkSize, fileSize, header, chunks.map(chunk => [chunk.id, chunk.start, chunk.end, chunk.sha256])]))
		.digest('hex');
}

/** The stamp of `file` now, or undefined when it is gone. */
export async function stampOf(file: string): Promise<FileStamp | undefined> {
	const stat = await fs.stat(file).catch(() => undefined);
	return stat ? {size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, dev: stat.dev, ctimeMs: stat.ctimeMs} : undefined;
}

export function sameStamp(a: FileStamp | undefined, b: FileStamp | undefined): boolean {
	return a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.dev === b.dev && a.ctimeMs === b.ctimeMs;
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/**
 * Parse a verify checkpoint's text (its seal is checked by `trustVerifyCheckpoint`); errors name
 * `file` and say what to do.
 */
export function parseVerifyCheckpoint(text: string, file: string): VerifyCheckpoint {
	const corrupt = (what: string): never => {
		throw new BackupError(`the verify checkpoint ${file} is corrupt (${what}); delete it and run 'cage backup verify' again (it starts from the first chunk)`);
	};

	let data: unknown;
	try {
		data = JSON.parse(text);
	} catch {
		corrupt('not valid JSON');
	}

	if (!isRecord(data) || data.tool !== 'cage' || data.kind !== 'backup-verify') corrupt('not a cage backup verify checkpoint');
	const record = data as Record<string, unknown>;
	if (typeof record.version !== 'number') corrupt('no version');
	if ((record.version as number) > verifyCheckpointVersion) {
		throw new BackupError(`the verify checkpoint ${file} was written by a newer cage (format ${String(record.version)}; this one reads ${verifyCheckpointVersion}): upgrade cage to resume it, or delete it`);
	}

	if (typeof record.dir !== 'string' || typeof record.secrets !== 'string' || !['none', 'identities', 'passphrase'].includes(record.key as string)) corrupt('no directory, key kind or secrets');
	if (record.identityFiles !== undefined && !(Array.isArray(record.identityFiles) && record.identityFiles.every(each => typeof each === 'string'))) corrupt('identityFiles');
	if (record.sample !== undefined && !(typeof record.sample === 'number' && record.sample > 0 && record.sample <= 100)) corrupt('sample');
	if (!Array.isArray(record.targets)) corrupt('no targets');
	for (const target of record.targets as unknown[]) {
		if (!isRecord(target) || typeof target.source !== 'string' || !isCount(target.generation) || !isCount(target.chunksDone) || !Array.isArray(target.damaged)) corrupt('a target');
		const each = target as VerifyTargetProgress;
		if (each.only !== undefined && !(Array.isArray(each.only) && each.only.every(id => isCount(id)) && each.chunksDone <= each.only.length)) corrupt(`the sample of generation ${each.generation}`);
		if (!each.damaged.every(chunk => isRecord(chunk) && isCount(chunk.id) && typeof chunk.problem === 'string')) corrupt(`the damaged chunks of generation ${each.generation}`);
	}

	return data as VerifyCheckpoint;
}

/** Read the checkpoint at `file`; undefined when there is none. */
export async function readVerifyCheckpoint(file: string): Promise<VerifyCheckpoint | undefined> {
	let text: string;
	try {
		text = await fs.readFile(file, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw error;
	}

	return parseVerifyCheckpoint(text, file);
}

/** Whether `file` holds a backup verify checkpoint (by its content, not its name). */
export async function isVerifyCheckpoint(file: string): Promise<boolean> {
	const text = await fs.readFile(file, 'utf8').catch(() => '');
	try {
		const data = JSON.parse(text) as unknown;
		return isRecord(data) && data.tool === 'cage' && data.kind === 'backup-verify';
	} catch {
		return false;
	}
}

/**
 * Whether the checkpoint's seal holds (its key unwrapped with the resume identity): the reason
 * when it cannot be trusted, else undefined.
 */
export async function distrust(checkpoint: VerifyCheckpoint, file: string): Promise<string | undefined> {
	let key: Buffer;
	try {
		const secrets = await unwrapSecrets(checkpoint.secrets, file);
		key = Buffer.from(secrets.sealKey ?? '', 'base64');
	} catch (error) {
		return (error as Error).message;
	}

	const {seal, ...rest} = checkpoint;
	if (key.length !== 32 || seal !== sealJson(rest, key)) return `${file} does not match its seal (changed outside cage?)`;
	return undefined;
}

/**
 * Writes a verify's checkpoint, sealed, atomically, coalesced: a save while one is being written
 * is folded into the next write (the state is rendered at once, so later changes do not leak in),
 * so saving after every chunk never holds up the chunks.
 */
export class VerifyCheckpointStore {
	readonly path: string;
	readonly #key: Buffer;
	readonly #secrets: string;
	#next: {text: string; written?: () => void} | undefined;
	#loop: Promise<void> | undefined;

	private constructor(file: string, key: Buffer, secrets: string) {
		this.path = file;
		this.#key = key;
		this.#secrets = secrets;
	}

	/** A store with a new seal key (wrapped to the resume identity). */
	static async create(file: string): Promise<VerifyCheckpointStore> {
		const key = randomBytes(32);
		const {wrapped} = await wrapSecrets({sealKey: key.toString('base64')});
		return new VerifyCheckpointStore(file, key, wrapped);
	}

	/**
	 * Save `checkpoint` (its secrets, writer and seal are this store's); resolves once it, or a
	 * later state, is on disk. `written` is called when this very state is written (not when a
	 * later one took its turn).
	 */
	async save(checkpoint: Omit<VerifyCheckpoint, 'secrets' | 'seal' | 'pid' | 'pidStart' | 'updatedAt'>, written?: () => void): Promise<void> {
		const rest: Omit<VerifyCheckpoint, 'seal'> = {...checkpoint, ...writerStamp(), updatedAt: new Date().toISOString(), secrets: this.#secrets};
		this.#next = {text: `${JSON.stringify({...rest, seal: sealJson(rest, this.#key)}, null, '\t')}\n`, ...(written ? {written} : {})};
		this.#loop ??= (async () => {
			try {
				while (this.#next !== undefined) {
					const {text, written: done} = this.#next;
					this.#next = undefined;
					await writePrivateFile(this.path, text, {replace: true});
					done?.();
				}
			} finally {
				this.#loop = undefined;
			}
		})();
		return this.#loop;
	}

	/** Wait for the write in flight, if any (its failure was the saver's to hear). */
	async settled(): Promise<void> {
		await this.#loop?.catch(() => undefined);
	}

	async remove(): Promise<void> {
		await this.settled();
		await fs.rm(this.path, {force: true});
	}
}
