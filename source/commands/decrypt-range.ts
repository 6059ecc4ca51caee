/**
 * `cage decrypt FILE.age --offset N [--length L] [-o OUT]`: one plaintext range, from the blocks
 * that cover it, after the last block has authenticated (age/random-access.ts). The output goes
 * to stdout, or to OUT.partial renamed to OUT once complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import type {DecryptKey} from '../age/engine.js';
import {isArmored, armorSniffLength} from '../age/armor.js';
import {isPassphraseHeader, readStart} from '../age/header.js';
import {readIdentityFiles} from '../age/keys.js';
import {AgeReaderAt, resolveRange} from '../age/random-access.js';
import {hasLockedSshIdentity, unlockSshIdentities} from '../age/ssh-identities.js';
import {readHeaderStanzas} from '../age/header-stanzas.js';
import {releaseWarmWorkers} from '../age/warm-workers.js';
import {checkReadableFile, InputError, OutputExistsError} from '../io/files.js';
import {PartialOutput} from '../io/partial-output.js';
import {partialPath} from '../jobs/locate.js';
import {parseSize, SizeError} from '../size.js';
import type {Io} from './command.js';
import {exitCodes, UsageError} from './command.js';
import {readPassphrase} from './passphrase.js';

/** The flags of `cage decrypt` a range reads. */
export type RangeFlags = {
	offset?: string | undefined;
	length?: string | undefined;
	output?: string | undefined;
	force?: boolean | undefined;
	passphrase?: boolean | undefined;
	identity?: string[] | undefined;
	recursive?: boolean | undefined;
	outputDir?: string | undefined;
	chunkSize?: string | undefined;
};

/** A size flag that may be negative (`--offset -1MiB`: a mebibyte before the end). */
function signedSize(name: string, value: string): number {
	// `--offset -1KiB` reaches here as '' (the parser takes -1KiB for short flags): say how to write it.
	if (value.trim() === '') throw new UsageError(`--${name} needs a value; write a negative one with '=', as --${name}=-1KiB`);
	const negative = value.trimStart().startsWith('-');
	try {
		const bytes = parseSize(negative ? value.trimStart().slice(1) : value);
		return negative ? -bytes : bytes;
	} catch (error) {
		if (error instanceof SizeError) throw new UsageError(`--${name}: ${error.message}`);
		throw error;
	}
}

/** The header's stanzas, so that only an encrypted SSH key the file is for asks its passphrase (null: ask for all). */
function stanzasOf(head: Buffer, file: string): Array<{args: string[]}> | null {
	try {
		return readHeaderStanzas(head, file)?.stanzas ?? null;
	} catch {
		// Not an age header: opening the file says why.
		return [];
	}
}

/** Write everything to a stream, waiting when it asks to. */
async function writeTo(stream: NodeJS.WritableStream, bytes: Buffer): Promise<void> {
	if (stream.write(bytes)) return;
	await new Promise<void>((resolve, reject) => {
		const onDrain = () => {
			stream.off('error', onError);
			resolve();
		};

		const onError = (error: Error) => {
			stream.off('drain', onDrain);
			reject(error);
		};

		stream.once('drain', onDrain);
		stream.once('error', onError);
	});
}

/** Decrypt the range the flags name; returns the exit code. */
export async function decryptRangeCommand(inputs: string[], flags: RangeFlags, io: Io): Promise<number> {
	if (inputs.length !== 1 || inputs[0] === '-') throw new UsageError('--offset/--length read one age FILE by position: name it (not stdin, not several files)');
	if (flags.recursive || flags.outputDir !== undefined) throw new UsageError('--offset/--length read one file: --recursive and --output-dir do not apply');
	if (flags.chunkSize !== undefined) throw new UsageError('--chunk-size does not apply to --offset/--length: only the 64 KiB blocks of the range are read');
	const identityFiles = flags.identity ?? [];
	if (flags.passphrase && identityFiles.length > 0) throw new UsageError('-p cannot be combined with -i');
	const offset = flags.offset === undefined ? 0 : signedSize('offset', flags.offset);
	const length = flags.length === undefined ? undefined : signedSize('length', flags.length);
	if (length !== undefined && length < 0) throw new UsageError(`--length must not be negative (got '${flags.length}')`);
	const file = inputs[0]!;
	await checkReadableFile(file);
	// Nothing here runs on the cipher workers.
	releaseWarmWorkers();
	const head = await readStart(file, Math.max(armorSniffLength, 64 * 1024));
	if (isArmored(head)) throw new InputError(`${file} is armored (PEM): its blocks are not at fixed offsets, so a range cannot be read by position; decrypt it whole`);
	const passphrase = Boolean(flags.passphrase) || (identityFiles.length === 0 && isPassphraseHeader(head));
	if (!passphrase && identityFiles.length === 0) throw new UsageError('missing identities: give -i IDENTITY_FILE (or -p)');
	let key: DecryptKey;
	if (passphrase) {
		key = {passphrase: await readPassphrase({confirm: false})};
	} else {
		const identities = await readIdentityFiles(identityFiles);
		if (hasLockedSshIdentity(identities)) await unlockSshIdentities(identities, stanzasOf(head, file));
		key = {identities};
	}

	const output = flags.output === undefined || flags.output === '-' ? null : path.resolve(flags.output);
	if (output !== null) refuseOutput(file, output, Boolean(flags.force));
	const reader = await AgeReaderAt.open(file, key);
	try {
		const {start, end} = resolveRange(reader.size, offset, length, file);
		if (output === null) {
			await reader.read(start, end, async bytes => writeTo(io.stdout, bytes));
			return exitCodes.ok;
		}

		await writeFile(output, async sink => reader.read(start, end, sink));
		return exitCodes.ok;
	} finally {
		await reader.close();
	}
}

/** The output must not be the input, a directory, or (without --force) a file already there. */
function refuseOutput(input: string, output: string, force: boolean): void {
	const there = fs.statSync(output, {throwIfNoEntry: false});
	const source = fs.statSync(input);
	if (there && there.dev === source.dev && there.ino === source.ino) throw new InputError(`the input and the output are the same file (${output}); choose another -o`);
	if (there?.isDirectory()) throw new InputError(`${output} is a directory; the output must be a file (-o FILE)`);
	if (there && !force) throw new OutputExistsError(`${output} already exists; pass --force to overwrite it`);
}

/** Write OUTPUT.partial (io/partial-output.ts: created exclusively, 0600), sync it and put it in place only if it is still ours. */
async function writeFile(output: string, fill: (sink: (bytes: Buffer) => Promise<void>) => Promise<void>): Promise<void> {
	const {partial, file: out} = await PartialOutput.create(partialPath(output), output);
	let committed = false;
	try {
		let position = 0;
		await fill(async bytes => {
			await out.write(bytes, 0, bytes.length, position);
			position += bytes.length;
		});
		await out.sync();
		await out.close();
		await partial.commit();
		committed = true;
	} finally {
		if (!committed) {
			await out.close().catch(() => undefined);
			// Never leave plaintext of a range that failed half way.
			await partial.discard();
		}
	}
}
