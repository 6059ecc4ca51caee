/**
 * `cage encrypt FILE --split SIZE --boundaries jsonl|json -o PREFIX`: independently decryptable
 * age files PREFIX.000.age, PREFIX.001.age, … whose plaintexts are whole records (parts of a
 * top-level array are arrays of their own), and PREFIX.manifest.json listing them. Each part is
 * encrypted by the stream encrypter, with its own file key; nothing but ciphertext is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import {Readable} from 'node:stream';
import {finished} from 'node:stream/promises';
import type {EncryptTarget} from '../age/engine.js';
import {encryptStream} from '../age/streams.js';
import {JobEmitter} from '../chunker/emitter.js';
import {FileInput} from '../io/files.js';
import {ControlProxy} from '../jobs/control-proxy.js';
import {formatBytes} from '../size.js';
import type {Boundaries, SplitPart} from '../sweep/boundaries.js';
import {oversizedLine, planFileParts} from './chunk-plan-boundaries.js';
import type {Io} from './command.js';
import {exitCodes, UsageError} from './command.js';

/** The manifest of a split (no plaintext, no digest of it: names, ranges and counts). */
export type SplitManifest = {
	version: 1;
	tool: 'cage';
	kind: 'split';
	source: string;
	size: number;
	splitSize: number;
	boundaries: Boundaries;
	shape: 'lines' | 'array' | 'values';
	/** How the plaintexts give back the file: concatenated, or (array) with each part's added '[' / ']' removed and ',' between parts. */
	join: 'concatenate' | 'array';
	parts: Array<{file: string; start: number; end: number; records: number; prefix: string; suffix: string; plaintextBytes: number}>;
	oversizedRecords: number;
};

/** The names of a split's files. */
export function splitNames(prefix: string, count: number): {parts: string[]; manifest: string} {
	const digits = Math.max(3, String(count - 1).length);
	return {parts: Array.from({length: count}, (_, index) => `${prefix}.${String(index).padStart(digits, '0')}.age`), manifest: `${prefix}.manifest.json`};
}

async function * partBytes(input: FileInput, part: SplitPart): AsyncGenerator<Uint8Array> {
	if (part.prefix) yield Buffer.from(part.prefix);
	const block = 2 ** 20;
	for (let position = part.start; position < part.end; ) {
		const buffer = Buffer.allocUnsafe(Math.min(block, part.end - position));
		const got = await input.read(buffer, 0, buffer.length, position);
		if (got === 0) throw new Error(`${input.path ?? 'the input'} shrank while being split (at byte ${position})`);
		position += got;
		yield buffer.subarray(0, got);
	}

	if (part.suffix) yield Buffer.from(part.suffix);
}

/** Encrypt one part to `file` (created, never replaced unless `force`), flushed to disk. */
async function encryptPart(input: FileInput, part: SplitPart, file: string, target: EncryptTarget, force: boolean, written: string[]): Promise<void> {
	const output = fs.createWriteStream(file, {flags: force ? 'w' : 'wx', mode: 0o600});
	const opened = new Promise<void>((resolve, reject) => {
		output.once('open', () => resolve());
		output.once('error', reject);
	});
	await opened;
	written.push(file);
	const result = await encryptStream(Readable.from(partBytes(input, part)), output, target, {
		emitter: new JobEmitter(),
		control: new ControlProxy(),
		chunkSize: Math.max(1, part.end - part.start),
		size: part.end - part.start + part.prefix.length + part.suffix.length,
		source: input.path,
		output: file,
	});
	output.end();
	await finished(output);
	if (result.outcome !== 'completed') throw result.error ?? new Error(`encrypting ${file} did not complete`);
	const fd = fs.openSync(file, 'r');
	try {
		fs.fsyncSync(fd);
	} finally {
		fs.closeSync(fd);
	}
}

export async function encryptSplit(options: {file: string; prefix: string; splitSize: number; boundaries: Boundaries; target: EncryptTarget; force: boolean; io: Io}): Promise<number> {
	const {file, prefix, splitSize, boundaries, io} = options;
	const {size, plan} = await planFileParts(file, boundaries, splitSize);
	const names = splitNames(prefix, plan.parts.length);
	if (!options.force) {
		const existing = [...names.parts, names.manifest].find(name => fs.existsSync(name));
		if (existing) throw new UsageError(`${existing} exists; use --force to replace it`);
	}

	const warning = oversizedLine(plan, splitSize);
	if (warning) io.stderr.write(`cage encrypt: warning: ${warning}\n`);
	const input = await FileInput.open(file);
	const written: string[] = [];
	try {
		if (input.size !== size) throw new Error(`${file} changed size while being split`);
		for (const [index, part] of plan.parts.entries()) {
			const name = names.parts[index]!;
			await encryptPart(input, part, name, options.target, options.force, written);
		}

		const manifest: SplitManifest = {
			version: 1,
			tool: 'cage',
			kind: 'split',
			source: path.basename(file),
			size,
			splitSize,
			boundaries,
			shape: plan.shape,
			join: plan.shape === 'array' && plan.parts.length > 1 ? 'array' : 'concatenate',
			parts: plan.parts.map((part, index) => ({
				file: path.basename(names.parts[index]!),
				start: part.start,
				end: part.end,
				records: part.records,
				prefix: part.prefix,
				suffix: part.suffix,
				plaintextBytes: part.end - part.start + part.prefix.length + part.suffix.length,
			})),
			oversizedRecords: plan.oversizedCount,
		};
		fs.writeFileSync(names.manifest, `${JSON.stringify(manifest, null, 2)}\n`, {flag: options.force ? 'w' : 'wx', mode: 0o644});
		written.push(names.manifest);
	} catch (error) {
		// Half a split is no split: what this run wrote goes.
		for (const name of written) fs.rmSync(name, {force: true});
		throw error;
	} finally {
		await input.close();
	}

	io.stdout.write(`${names.parts.length} part(s) of about ${formatBytes(splitSize)} cut at ${boundaries} record boundaries: ${names.parts[0]!}${names.parts.length > 1 ? ` … ${names.parts.at(-1)!}` : ''}; manifest ${names.manifest}\n`);
	return exitCodes.ok;
}
