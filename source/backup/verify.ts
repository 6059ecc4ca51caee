/**
 * Verify generations: every ciphertext chunk (and the header) re-hashed against the manifest, on
 * the age worker threads, several chunks at once; with a key, the same single read of each chunk
 * also authenticates every age block (the plaintext is thrown away). The findings are recorded:
 * damaged chunks and status in the registry, each chunk's last result in the manifest.
 */
import {randomInt} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type {DecryptKey} from '../age/engine.js';
import {readHeader} from '../age/header.js';
import {WorkerPool} from '../age/pool.js';
import {payloadKey} from '../age/stream.js';
import {AbortedError, SharedControl} from '../chunker/control.js';
import type {JobEmitter} from '../chunker/emitter.js';
import {chunkAt} from '../chunker/plan.js';
import {getManifest, hashRange, inParallel, readManifests, writeManifests, type GenerationManifest, type ManifestChunk} from './manifest.js';
import {readRegistry, withRegistryLock, writeRegistry, type Generation} from './registry.js';

export type VerifyFinding = {
	source: string;
	generation: number;
	file: string;
	result: 'ok' | 'damaged' | 'missing' | 'no-manifest' | 'no-key' | 'skipped';
	/** Damaged chunks: id and byte range of the age file. */
	chunks: Array<{id: number; start: number; end: number}>;
	/** The chunks checked, when only a sample was (`--sample`); absent when all were. */
	sampled?: number[];
	/** One line on what is wrong, when something is. */
	detail?: string;
	bytes: number;
};

export type VerifyOptions = {
	jobs: number;
	key?: DecryptKey;
	/** Threads to run the chunks on (a run over many generations shares one); else a pool for this one. */
	pool?: WorkerPool;
	/** Check only these chunks (a sample: see sampleChunks); else every one. */
	only?: number[];
	/** Where chunk events go (chunk:start, chunk:done for an intact chunk, chunk:failed for a damaged one), as item `item`. */
	events?: {emitter: JobEmitter; item: number};
	/**
	 * What an interrupted run checked: the first `done` chunks to check, and which of them were
	 * damaged (and why). Those are not read again; the finding is the one a whole run would give.
	 */
	resume?: {done: number; damaged: ReadonlyArray<{id: number; problem: string}>};
	/** Told of each chunk as it is committed (in order): how many are committed, and what this one was found. */
	onCommit?: (done: number, chunk: {id: number; problem?: string}) => void;
};

/** The chunks a sample checks: `percent` of them at random (at least one), always with the last (where a cut shows). */
export function sampleChunks(count: number, percent: number): number[] {
	const wanted = Math.min(count, Math.max(1, Math.ceil((count * percent) / 100)));
	const picked = new Set<number>([count - 1]);
	while (picked.size < wanted) picked.add(randomInt(count));
	return [...picked].sort((a, b) => a - b);
}

type ChunkOutcome = {chunk: ManifestChunk; problem?: string};

/**
 * Hash (and with `payload`, authenticate) the chunks on the pool; events in chunk order, as the
 * runner commits them, so that a view sees "chunks < N are done".
 */
async function checkChunks(file: string, manifest: GenerationManifest, chunks: ManifestChunk[], pool: WorkerPool, payload: Buffer | undefined, options: VerifyOptions): Promise<ChunkOutcome[]> {
	const {events} = options;
	const outcomes: Array<ChunkOutcome | undefined> = [];
	// What an interrupted run found: committed already (a damaged one is shown failed again).
	const before = new Map((options.resume?.damaged ?? []).map(chunk => [chunk.id, chunk.problem]));
	const done = Math.min(options.resume?.done ?? 0, chunks.length);
	let bytesDone = 0;
	for (const [index, chunk] of chunks.slice(0, done).entries()) {
		const problem = before.get(chunk.id);
		outcomes[index] = {chunk, ...(problem === undefined ? {} : {problem})};
		if (problem === undefined) bytesDone += chunk.end - chunk.start;
		else events?.emitter.send({type: 'chunk:failed', chunk: chunk.id, start: chunk.start, size: chunk.end - chunk.start, attempt: 1, item: events.item, willRetry: false, error: `${problem} (found before the interruption)`, code: 'EDAMAGED'});
	}

	let emitted = done;
	const startedAt = new Map<number, number>();
	const emitReady = () => {
		while (outcomes[emitted] !== undefined) {
			const {chunk, problem} = outcomes[emitted]!;
			const size = chunk.end - chunk.start;
			if (events) {
				const common = {chunk: chunk.id, start: chunk.start, size, attempt: 1, item: events.item};
				if (problem === undefined) {
					bytesDone += size;
					events.emitter.send({type: 'chunk:done', ...common, durationMs: Math.round(performance.now() - startedAt.get(chunk.id)!), bytesDone});
				} else {
					events.emitter.send({type: 'chunk:failed', ...common, willRetry: false, error: problem, code: 'EDAMAGED'});
				}
			}

			emitted++;
			options.onCommit?.(emitted, {id: chunk.id, ...(problem === undefined ? {} : {problem})});
		}
	};

	const tasks = chunks.map((chunk, index) => ({chunk, index})).slice(done);
	await inParallel(tasks, options.jobs, async ({chunk, index}) => {
		startedAt.set(chunk.id, performance.now());
		events?.emitter.send({type: 'chunk:start', chunk: chunk.id, start: chunk.start, size: chunk.end - chunk.start, attempt: 1, item: events.item});
		const plan = chunkAt(manifest.size, manifest.chunkSize, chunk.id);
		const task = payload
			? {op: 'authenticate' as const, sha256: true, key: payload, plainStart: plan.start, plainEnd: plan.end, plainTotal: manifest.size, inOffset: manifest.header.end}
			: // plainTotal: the bytes of the file, so that a large generation's chunks run on the worker threads.
				{op: 'sha256' as const, key: new Uint8Array(32), plainStart: chunk.start, plainEnd: chunk.end, plainTotal: manifest.fileSize, inOffset: 0};
		let problem: string | undefined;
		try {
			const {digest} = await pool.run({...task, input: file, output: '', outOffset: 0});
			if (digest !== chunk.sha256) problem = 'its ciphertext differs from the manifest';
		} catch (error) {
			const {code} = error as NodeJS.ErrnoException;
			if (error instanceof AbortedError || (error as Error).name === 'AbortedError') throw error;
			if (code === 'EAUTH') problem = (error as Error).message;
			else if (code === 'ESHRANK') problem = 'the file ends before it';
			else throw error;
		}

		outcomes[index] = {chunk, ...(problem === undefined ? {} : {problem})};
		emitReady();
	});
	return outcomes as ChunkOutcome[];
}

/** The payload key, or why the key does not open this generation (its message names `file`). */
export async function openWith(file: string, key: DecryptKey): Promise<Buffer | Error> {
	const handle = await fs.open(file, 'r');
	try {
		const header = await readHeader(async (buffer, offset, length, position) => (await handle.read(buffer, offset, length, position)).bytesRead, key.passphrase === undefined ? {identities: key.identities} : {passphrase: key.passphrase}, file);
		return payloadKey(header.fileKey, header.nonce);
	} catch (error) {
		return error as Error;
	} finally {
		await handle.close();
	}
}

/** Verify one generation and return what was found (nothing is recorded yet). */
export async function verifyGeneration(dir: string, source: string, generation: Generation, manifest: GenerationManifest | undefined, options: VerifyOptions): Promise<VerifyFinding> {
	const file = path.join(dir, generation.file);
	const base = {source, generation: generation.generation, file, chunks: [], bytes: 0};
	if (generation.status === 'partial' || generation.status === 'pruning') return {...base, result: 'skipped', detail: generation.status === 'partial' ? 'still being written (or interrupted): resume it first' : 'being pruned'};
	if (!manifest) return {...base, result: 'no-manifest', detail: `no manifest in ${dir}; it cannot be checked chunk by chunk`};
	let handle: fs.FileHandle;
	try {
		handle = await fs.open(file, 'r');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {...base, result: 'missing', detail: `${file} is gone`};
		throw error;
	}

	let fileSize: number;
	let headerDigest: string | undefined;
	try {
		fileSize = (await handle.stat()).size;
		headerDigest = await hashRange(handle, 0, manifest.header.end);
	} finally {
		await handle.close();
	}

	const problems: string[] = [];
	if (fileSize !== manifest.fileSize) problems.push(`the file is ${fileSize} bytes, the manifest says ${manifest.fileSize}`);
	const headerDamaged = headerDigest !== manifest.header.sha256;
	if (headerDamaged) problems.push(`its header (bytes [0, ${manifest.header.end})) differs from the manifest`);
	// A damaged header can open with no key (or not parse): the manifest's finding says it all.
	const opened = options.key && !headerDamaged ? await openWith(file, options.key) : undefined;
	if (opened instanceof Error && (opened as {code?: string}).code !== 'ENOMATCH') problems.push(opened.message);
	const payload = opened instanceof Buffer ? opened : undefined;
	const sampled = options.only?.map(id => manifest.chunks[id]).filter(chunk => chunk !== undefined);
	const pool = options.pool ?? new WorkerPool(Math.min(options.jobs, manifest.chunks.length), new SharedControl());
	let outcomes: ChunkOutcome[];
	try {
		outcomes = await checkChunks(file, manifest, sampled ?? manifest.chunks, pool, payload, options);
	} finally {
		if (pool !== options.pool) await pool.close();
	}

	const damaged = outcomes.filter(outcome => outcome.problem !== undefined);
	// A digest that differs is said by naming the chunk; a failed block or a cut says more.
	for (const {chunk, problem} of damaged) if (problem !== 'its ciphertext differs from the manifest') problems.push(`chunk ${chunk.id}: ${problem!}`);
	const chunks = damaged.map(({chunk}) => ({id: chunk.id, start: chunk.start, end: chunk.end}));
	const bytes = outcomes.reduce((sum, {chunk}) => sum + chunk.end - chunk.start, manifest.header.end);
	const extra = sampled ? {sampled: sampled.map(chunk => chunk.id)} : {};
	if (opened instanceof Error && (opened as {code?: string}).code === 'ENOMATCH' && problems.length === 0) {
		// The key opens no recipient of this generation: its ciphertext matches, its blocks are not known.
		return {...base, result: 'no-key', chunks, bytes, ...extra, detail: opened.message};
	}

	const bad = chunks.length > 0 || problems.length > 0;
	return {...base, result: bad ? 'damaged' : 'ok', chunks, bytes, ...extra, ...(problems.length > 0 ? {detail: problems.join('; ')} : {})};
}

/** Record findings: status and damaged chunks in the registry, each chunk's last result in the manifest. */
export async function recordFindings(dir: string, findings: VerifyFinding[]): Promise<void> {
	const recorded = findings.filter(finding => ['ok', 'damaged', 'missing'].includes(finding.result));
	if (recorded.length === 0) return;
	await withRegistryLock(dir, async () => {
		const registry = await readRegistry(dir);
		const manifests = await readManifests(dir);
		const now = new Date().toISOString();
		for (const finding of recorded) {
			const generation = registry.sources[finding.source]?.generations.find(g => g.generation === finding.generation);
			// Pruned meanwhile, or being pruned: nothing to record.
			if (!generation || generation.status === 'pruning' || generation.status === 'partial') continue;
			// A sample says nothing of the chunks it did not check: those found damaged before stay so.
			const checked = finding.sampled ? new Set(finding.sampled) : undefined;
			const unchecked = checked ? (generation.damagedChunks ?? []).filter(id => !checked.has(id)) : [];
			const damagedChunks = [...new Set([...unchecked, ...finding.chunks.map(chunk => chunk.id)])].sort((a, b) => a - b);
			generation.status = finding.result === 'missing' ? 'missing' : finding.result === 'damaged' || damagedChunks.length > 0 ? 'damaged' : 'complete';
			generation.verifiedAt = now;
			if (generation.status === 'damaged') generation.damagedChunks = damagedChunks;
			else delete generation.damagedChunks;
			const manifest = getManifest(manifests, finding.source, finding.generation);
			if (manifest && finding.result !== 'missing') {
				const bad = new Set(finding.chunks.map(chunk => chunk.id));
				for (const chunk of manifest.chunks) if (!checked || checked.has(chunk.id)) chunk.lastVerify = bad.has(chunk.id) ? 'damaged' : 'ok';
				manifest.verifiedAt = now;
			}
		}

		await writeManifests(dir, manifests);
		await writeRegistry(dir, registry);
	});
}
