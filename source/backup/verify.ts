/**
 * Verify generations: without a key, re-hash every ciphertext range against the manifest (header
 * and chunks, several at once); with identities, also authenticate every age block by decrypting
 * into a sink that discards the plaintext. The findings are recorded: damaged chunks and status
 * in the registry, each chunk's last result in the manifest.
 */
import fs from 'node:fs';
import path from 'node:path';
import {Writable} from 'node:stream';
import {JobEmitter} from '../chunker/emitter.js';
import {ControlProxy} from '../jobs/control-proxy.js';
import {decryptStream} from '../age/streams.js';
import type {DecryptKey} from '../age/engine.js';
import {blockSize} from '../age/stream.js';
import {checkAgainstManifest, getManifest, readManifests, writeManifests, type GenerationManifest} from './manifest.js';
import {readRegistry, withRegistryLock, writeRegistry, type Generation} from './registry.js';

export type VerifyFinding = {
	source: string;
	generation: number;
	file: string;
	result: 'ok' | 'damaged' | 'missing' | 'no-manifest' | 'skipped';
	/** Damaged chunks: id and byte range of the age file. */
	chunks: Array<{id: number; start: number; end: number}>;
	/** One line on what is wrong, when something is. */
	detail?: string;
	bytes: number;
};

/** A sink for plaintext that must never be kept. */
function discard(): Writable {
	return new Writable({
		write(_chunk, _encoding, callback) {
			callback();
		},
	});
}

/** Authenticate every block of `file` with `key`; the damaged chunk (by the manifest's plan), or undefined when all pass. */
async function authenticate(file: string, key: DecryptKey, manifest: GenerationManifest): Promise<{chunk?: number; error?: Error}> {
	const result = await decryptStream(fs.createReadStream(file, {highWaterMark: 1024 * 1024}), discard(), key, {
		emitter: new JobEmitter(),
		control: new ControlProxy(),
		chunkSize: manifest.chunkSize,
		size: manifest.size,
		source: file,
		output: path.join(path.dirname(file), '(nowhere)'),
	});
	if (result.outcome === 'completed') return {};
	const error = result.error ?? new Error('decryption did not complete');
	const counter = (error as {counter?: number}).counter;
	return counter === undefined ? {error} : {chunk: Math.floor((counter * blockSize) / manifest.chunkSize), error};
}

/** Verify one generation and return what was found (nothing is recorded yet). */
export async function verifyGeneration(dir: string, source: string, generation: Generation, manifest: GenerationManifest | undefined, options: {jobs: number; key?: DecryptKey}): Promise<VerifyFinding> {
	const file = path.join(dir, generation.file);
	const base = {source, generation: generation.generation, file, chunks: [], bytes: 0};
	if (generation.status === 'partial' || generation.status === 'pruning') return {...base, result: 'skipped', detail: generation.status === 'partial' ? 'still being written (or interrupted): resume it first' : 'being pruned'};
	if (!manifest) return {...base, result: 'no-manifest', detail: `no manifest in ${dir}; it cannot be checked chunk by chunk`};
	const check = await checkAgainstManifest(file, manifest, options.jobs);
	if (check.missing) return {...base, result: 'missing', detail: `${file} is gone`};
	const chunks = check.damaged.map(({id, start, end}) => ({id, start, end}));
	const problems: string[] = [];
	if (check.sizeDiffers !== undefined) problems.push(`the file is ${check.sizeDiffers} bytes, the manifest says ${manifest.fileSize}`);
	if (check.headerDamaged) problems.push(`its header (bytes [0, ${manifest.header.end})) differs from the manifest`);
	if (options.key && !check.headerDamaged) {
		const auth = await authenticate(file, options.key, manifest);
		if (auth.error) {
			if ((auth.error as {code?: string}).code === 'ENOMATCH') return {...base, result: 'damaged', chunks, bytes: check.bytes, detail: `the key given opens no recipient of ${file}`};
			if (auth.chunk !== undefined && !chunks.some(chunk => chunk.id === auth.chunk)) {
				const found = manifest.chunks[auth.chunk];
				if (found) chunks.push({id: found.id, start: found.start, end: found.end});
			}

			problems.push(`authentication failed: ${auth.error.message}`);
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
