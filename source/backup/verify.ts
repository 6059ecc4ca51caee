/**
 * Verify generations: without a key, re-hash every ciphertext range against the manifest (header
 * and chunks, several at once); with identities, also authenticate every age block by decrypting
 * into a sink that discards the plaintext. The findings are recorded: damaged chunks and status
 * in the registry, each chunk's last result in the manifest.
 */
import path from 'node:path';
import type {DecryptKey} from '../age/engine.js';
import {readHeader} from '../age/header.js';
import {WorkerPool} from '../age/pool.js';
import {payloadKey, plaintextSizeOf} from '../age/stream.js';
import {SharedControl} from '../chunker/control.js';
import {planChunks} from '../chunker/plan.js';
import {FileInput} from '../io/files.js';
import {checkAgainstManifest, getManifest, readManifests, writeManifests, type GenerationManifest} from './manifest.js';
import {readRegistry, withRegistryLock, writeRegistry, type Generation} from './registry.js';

export type VerifyFinding = {
	source: string;
	generation: number;
	file: string;
	result: 'ok' | 'damaged' | 'missing' | 'no-manifest' | 'no-key' | 'skipped';
	/** Damaged chunks: id and byte range of the age file. */
	chunks: Array<{id: number; start: number; end: number}>;
	/** One line on what is wrong, when something is. */
	detail?: string;
	bytes: number;
};

/**
 * Authenticate every block of `file` with `key`, chunk by chunk on the age worker threads (the
 * engine's `verify-decrypt` task with nothing to compare against: each block is decrypted and its
 * tag checked, the plaintext thrown away). Returns the chunks that fail, by the manifest's plan.
 */
async function authenticate(file: string, key: DecryptKey, manifest: GenerationManifest, jobs: number): Promise<Array<{chunk: number; error: Error}>> {
	const input = await FileInput.open(file);
	let header;
	try {
		header = await readHeader(async (buffer, offset, length, position) => input.read(buffer, offset, length, position), key.passphrase === undefined ? {identities: key.identities} : {passphrase: key.passphrase}, file);
	} finally {
		await input.close();
	}

	const size = plaintextSizeOf(input.size - header.payloadOffset, file);
	const payload = payloadKey(header.fileKey, header.nonce);
	const chunks = planChunks(size, manifest.chunkSize);
	const pool = new WorkerPool(Math.min(jobs, chunks.length), new SharedControl());
	try {
		const results = await Promise.all(
			chunks.map(async chunk =>
				pool
					.run({op: 'verify-decrypt', input: file, output: '/dev/null', key: payload, plainStart: chunk.start, plainEnd: chunk.end, plainTotal: size, inOffset: header.payloadOffset, outOffset: 0})
					.then(
						() => undefined,
						(error: unknown) => ({chunk: chunk.id, error: error as Error}),
					),
			),
		);
		return results.filter(result => result !== undefined);
	} finally {
		await pool.close();
	}
}

/** Verify one generation and return what was found (nothing is recorded yet). */
export async function verifyGeneration(dir: string, source: string, generation: Generation, manifest: GenerationManifest | undefined, options: {jobs: number; key?: DecryptKey}): Promise<VerifyFinding> {
	const file = path.join(dir, generation.file);
	const base = {source, generation: generation.generation, file, chunks: [], bytes: 0};
	if (generation.status === 'partial' || generation.status === 'pruning') return {...base, result: 'skipped', detail: generation.status === 'partial' ? 'still being written (or interrupted): resume it first' : 'being pruned'};
	if (!manifest) return {...base, result: 'no-manifest', detail: `no manifest in ${dir}; it cannot be checked chunk by chunk`};
	// With a key, the blocks are authenticated on the worker threads while the main thread re-hashes.
	const authenticating = options.key ? authenticate(file, options.key, manifest, options.jobs).catch((error: unknown) => error as Error) : undefined;
	const check = await checkAgainstManifest(file, manifest, options.jobs);
	const auth = await authenticating;
	if (check.missing) return {...base, result: 'missing', detail: `${file} is gone`};
	const chunks = check.damaged.map(({id, start, end}) => ({id, start, end}));
	const problems: string[] = [];
	if (check.sizeDiffers !== undefined) problems.push(`the file is ${check.sizeDiffers} bytes, the manifest says ${manifest.fileSize}`);
	if (check.headerDamaged) problems.push(`its header (bytes [0, ${manifest.header.end})) differs from the manifest`);
	// A damaged header can open with no key (or not parse): the manifest's finding says it all.
	if (auth !== undefined && !check.headerDamaged) {
		if (auth instanceof Error) {
			// The key opens no recipient of this generation: nothing is known about its blocks.
			if ((auth as {code?: string}).code === 'ENOMATCH') return {...base, result: 'no-key', chunks, bytes: check.bytes, detail: auth.message};
			problems.push(auth.message);
		} else {
			for (const {chunk, error} of auth) {
				const found = manifest.chunks[chunk];
				if (found && !chunks.some(each => each.id === chunk)) chunks.push({id: found.id, start: found.start, end: found.end});
				problems.push(`chunk ${chunk}: ${error.message}`);
			}
		}
	}

	chunks.sort((a, b) => a.id - b.id);
	const damaged = chunks.length > 0 || problems.length > 0;
	return {...base, result: damaged ? 'damaged' : 'ok', chunks, bytes: check.bytes, ...(problems.length > 0 ? {detail: problems.join('; ')} : {})};
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
			generation.status = finding.result === 'ok' ? 'complete' : (finding.result as 'damaged' | 'missing');
			generation.verifiedAt = now;
			if (finding.result === 'damaged') generation.damagedChunks = finding.chunks.map(chunk => chunk.id);
			else delete generation.damagedChunks;
			const manifest = getManifest(manifests, finding.source, finding.generation);
			if (manifest && finding.result !== 'missing') {
				const bad = new Set(finding.chunks.map(chunk => chunk.id));
				for (const chunk of manifest.chunks) chunk.lastVerify = bad.has(chunk.id) ? 'damaged' : 'ok';
				manifest.verifiedAt = now;
			}
		}

		await writeManifests(dir, manifests);
		await writeRegistry(dir, registry);
	});
}
