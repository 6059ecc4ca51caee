/**
 * `cage sweep FILE.age -i KEY | -p`: the plaintext of an age file swept as it is decrypted, in one
 * pass and in memory (the stream decrypter authenticates each block before the scanner sees it;
 * nothing is written anywhere). Not resumable: the plaintext is never kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import {PassThrough} from 'node:stream';
import type {DecryptKey} from '../age/engine.js';
import {dearmor, isArmored} from '../age/armor.js';
import {plaintextSizeOfFile, readStart} from '../age/header.js';
import {decryptStream, type StreamJobResult} from '../age/streams.js';
import type {JobEmitter} from '../chunker/emitter.js';
import type {ControlProxy} from '../jobs/control-proxy.js';
import {sweepStream} from './detect.js';
import type {SweepOutcome} from './processor.js';
import type {SweepFormat} from './scanner.js';

export type AgeSweepResult = StreamJobResult & {sweep: SweepOutcome | null};

/** The format an age file's name says (`x.jsonl.age`), else auto. */
export function formatOfAgeName(file: string): SweepFormat | 'auto' {
	const inner = path.extname(file).toLowerCase() === '.age' ? path.basename(file, path.extname(file)) : path.basename(file);
	const extension = path.extname(inner).toLowerCase();
	if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
	if (extension === '.json') return 'json';
	return 'auto';
}

/** Decrypt `file` with `key` and sweep its plaintext on the way. */
export async function sweepAgeFile(
	file: string,
	key: DecryptKey,
	options: {format: SweepFormat | 'auto'; maxDepth: number; emitter: JobEmitter; control: ControlProxy; rate?: number; chunkSize: number},
): Promise<AgeSweepResult> {
	const head = await readStart(file, 64);
	const raw = fs.createReadStream(file, {highWaterMark: 2 ** 20});
	const input = isArmored(head) ? dearmor(raw, file) : raw;
	// Bounded: the decrypter waits while the scanner has a MiB unread.
	const plain = new PassThrough({highWaterMark: 2 ** 20});
	const sweeping = sweepStream(plain, {format: options.format, maxDepth: options.maxDepth});
	// A failed decryption ends the sweep too; its error is the one reported.
	sweeping.catch(() => undefined);
	let result: StreamJobResult;
	try {
		result = await decryptStream(input, plain, key, {
			emitter: options.emitter,
			control: options.control,
			...(options.rate ? {rate: options.rate} : {}),
			chunkSize: options.chunkSize,
			size: await plaintextSizeOfFile(file),
			source: file,
			// The scanner reads a MiB at a time: larger batches would only hold more memory.
			batchBlocks: 16,
		});
	} finally {
		raw.destroy();
	}

	if (result.outcome !== 'completed') {
		plain.destroy();
		return {...result, sweep: null};
	}

	plain.end();
	return {...result, sweep: await sweeping};
}
