/**
 * The two ways in that are not a chunked job: telling JSON from JSON Lines (`--format auto`), and
 * sweeping a stream (`cage sweep -`) in one pass; and telling an age file (age-input.ts sweeps it),
 * without loading the age library.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {isArmored} from '../age/armor.js';
import {JsonScanner, type SweepFormat} from './scanner.js';
import type {SweepOutcome} from './processor.js';

/** Bytes `--format auto` looks at when the name does not tell. */
const sniffBytes = 2 ** 20;

/** JSON Lines when at least two whole lines of `head` hold one value each and none is bad. */
export function looksLikeJsonLines(head: Uint8Array, complete: boolean): boolean {
	const end = complete ? head.length : head.lastIndexOf(0x0a) + 1;
	if (end <= 0) return false;
	const scanner = new JsonScanner({format: 'jsonl'});
	scanner.scan(head, 0, end);
	scanner.finish();
	return scanner.counts.records >= 2 && scanner.counts.bad === 0;
}

/** The format of `file`: by its extension (.json, .jsonl, .ndjson), else by its first lines. */
export async function detectFormat(file: string): Promise<SweepFormat> {
	const extension = path.extname(file).toLowerCase();
	if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
	if (extension === '.json') return 'json';
	const handle = await fs.open(file, 'r');
	try {
		const head = new Uint8Array(sniffBytes);
		const {bytesRead} = await handle.read(head, 0, sniffBytes, 0);
		return looksLikeJsonLines(head.subarray(0, bytesRead), bytesRead < sniffBytes) ? 'jsonl' : 'json';
	} finally {
		await handle.close();
	}
}

/** Sweep a stream in one pass; `auto` decides on its first MiB. */
export async function sweepStream(stream: AsyncIterable<Uint8Array | string>, options: {format: SweepFormat | 'auto'; maxDepth: number}): Promise<SweepOutcome> {
	let scanner: JsonScanner | undefined;
	let held: Uint8Array[] = [];
	let heldBytes = 0;
	let bytes = 0;
	const start = (format: SweepFormat) => {
		scanner = new JsonScanner({format, maxDepth: options.maxDepth});
		for (const part of held) scanner.scan(part);
		held = [];
	};

	if (options.format !== 'auto') start(options.format);
	for await (const piece of stream) {
		const part = typeof piece === 'string' ? Buffer.from(piece) : piece;
		bytes += part.length;
		if (scanner) {
			scanner.scan(part);
			continue;
		}

		held.push(part);
		heldBytes += part.length;
		if (heldBytes >= sniffBytes) start(looksLikeJsonLines(Buffer.concat(held), false) ? 'jsonl' : 'json');
	}

	if (!scanner) start(looksLikeJsonLines(Buffer.concat(held), true) ? 'jsonl' : 'json');
	scanner!.finish();
	const done = scanner!;
	return {format: done.format, bytes, error: done.error, counts: done.format === 'jsonl' ? done.counts : null, lineErrors: done.lineErrors, stats: done.stats};
}

/** Whether `file` starts as an age file (binary or armored); false when it cannot be read. */
export async function looksLikeAge(file: string): Promise<boolean> {
	let handle: fs.FileHandle | undefined;
	try {
		handle = await fs.open(file, 'r');
		const head = Buffer.alloc(64);
		const {bytesRead} = await handle.read(head, 0, head.length, 0);
		const start = head.subarray(0, bytesRead);
		return start.toString('latin1').startsWith('age-encryption.org/') || isArmored(start);
	} catch {
		return false;
	} finally {
		await handle?.close();
	}
}
