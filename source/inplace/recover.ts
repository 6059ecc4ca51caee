/**
 * `cage unlock --recover`: the plaintext of a file rebuilt from whatever a lock or unlock left,
 * with the user's own identity only (no resume identity, no checkpoint key), and proved as it is
 * rebuilt. It reads the job's files and writes nothing beside them: the job itself is finished by
 * `cage resume`. What it finds:
 * - a --low-space lock under way (FILE.age.low-space.json): FILE's prefix, as the lock left it
 *   (its own bytes, never written by cage), then FILE.age.partial's finished tail, every block of
 *   it authenticated, the final one included;
 * - a --low-space unlock under way (FILE.low-space.json): FILE.age's prefix, every block
 *   authenticated, then FILE.partial's finished tail, each chunk encrypted again and its tags
 *   compared with those the state recorded from the ciphertext before it was cut;
 * - otherwise a whole FILE.age (decrypted and authenticated), or a whole FILE (nothing to do).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {readFileHeader, type DecryptKey} from '../age/engine.js';
import {AgeFormatError, StreamAuthError} from '../age/errors.js';
import {blockRange, blockSize, blockSpans, ciphertextPayloadSize, decryptRange, encryptedBlockSize, encryptRange, payloadKey, plaintextSizeOf} from '../age/stream.js';
import {chunkAt, chunkCount} from '../chunker/plan.js';
import {exists, FileInput, InputError} from '../io/files.js';
import {outputCheckpointPath, partialPath} from '../jobs/locate.js';
import {lowSpaceStatePath, readLockState, type LowSpaceState} from './low-space.js';
import {readUnlockState, unlockProgress, type LowSpaceUnlockState} from './low-space-unlock.js';
import {hashTags, proofOf} from './read-back.js';

/** Where the rebuilt plaintext goes, in order. */
export type RecoverySink = {write(bytes: Buffer): Promise<void>};

/** One part of the rebuilt file: which file held it, which bytes, and how it was proved. */
export type RecoveredPart = {file: string; start: number; end: number; proof: string};

/** What --recover found, before anything is written. */
export type Recovery = {
	/** One line: the state the files are in. */
	state: string;
	/** The plaintext's size. */
	size: number;
	/** Where each part of the plaintext is. */
	parts: RecoveredPart[];
	/** What the user does once the file is rebuilt, when `cage resume` cannot finish the job. */
	finish?: (rebuilt: string) => string;
	/** Nothing to rebuild: the file is whole where it lies. */
	whole?: string;
	/** Rebuild the plaintext into `sink`, proving each part first (throws on the first that fails). */
	write(sink: RecoverySink): Promise<void>;
};

/** Plaintext bytes per piece read and written. */
const pieceBlocks = 128;

/** Copy bytes [start, end) of `file` as they are. */
async function copyRange(file: string, start: number, end: number, sink: RecoverySink): Promise<void> {
	const input = await FileInput.open(file);
	try {
		const buffer = Buffer.allocUnsafe(pieceBlocks * blockSize);
		for (let position = start; position < end; ) {
			const length = await input.read(buffer, 0, Math.min(buffer.length, end - position), position);
			if (length === 0) throw new InputError(`${file} ended at byte ${position}, before the ${end} bytes it held when checked: something changed it; run --recover again`);
			await sink.write(Buffer.from(buffer.subarray(0, length)));
			position += length;
		}
	} finally {
		await input.close();
	}
}

/**
 * Decrypt ciphertext blocks `first`.. of `file` (payload at `offset`) up to byte `cipherEnd` of the
 * payload; `final`: the last of them is the stream's final block, checked first (a truncated
 * file fails before a byte is written).
 */
async function decryptBlocks(file: string, key: Buffer, spec: {offset: number; first: number; cipherEnd: number; final: boolean}, sink: RecoverySink): Promise<void> {
	const input = await FileInput.open(file);
	try {
		const cipher = Buffer.allocUnsafe(pieceBlocks * encryptedBlockSize);
		const start = spec.first * encryptedBlockSize;
		if (spec.final && spec.cipherEnd > start) {
			const lastStart = Math.floor((spec.cipherEnd - 1) / encryptedBlockSize) * encryptedBlockSize;
			const length = await input.read(cipher, 0, spec.cipherEnd - lastStart, spec.offset + lastStart);
			decryptRange(key, cipher.subarray(0, length), lastStart / encryptedBlockSize, true);
		}

		for (let position = start; position < spec.cipherEnd; ) {
			const want = Math.min(cipher.length, spec.cipherEnd - position);
			const length = await input.read(cipher, 0, want, spec.offset + position);
			if (length < want) throw new AgeFormatError(`${file} ended at byte ${spec.offset + position + length}, before its ${spec.offset + spec.cipherEnd} bytes: something changed it; run --recover again`);
			const last = position + length >= spec.cipherEnd;
			await sink.write(Buffer.from(decryptRange(key, cipher.subarray(0, length), position / encryptedBlockSize, spec.final && last)));
			position += length;
		}
	} catch (error) {
		if (error instanceof StreamAuthError) throw new StreamAuthError(`${file}: ${error.message}; nothing can be rebuilt past it`, error.counter);
		throw error;
	} finally {
		await input.close();
	}
}

/** The tail a low-space unlock wrote: each chunk encrypted again, its tags compared with the state's, then written. */
async function provedPlainTail(file: string, key: Buffer, state: LowSpaceUnlockState, firstDone: number, sink: RecoverySink): Promise<void> {
	const input = await FileInput.open(file);
	try {
		const count = chunkCount(state.size, state.chunkSize);
		for (let id = firstDone; id < count; id++) {
			const chunk = chunkAt(state.size, state.chunkSize, id);
			const tags = state.tags[String(id)];
			if (tags === undefined) throw new InputError(`${file}: chunk ${id} (bytes ${chunk.start}-${chunk.end}) has no record in ${lowSpaceStatePath(state.output)}, so it cannot be proved; nothing was rebuilt`);
			const bytes = Buffer.allocUnsafe(chunk.size);
			const length = await input.read(bytes, 0, chunk.size, chunk.start);
			if (length < chunk.size) throw new InputError(`${file} is shorter than the ${state.size} bytes the unlock made it`);
			const macs = blockSpans(chunk.start, chunk.end, tags.parts).map(span =>
				hashTags(encryptRange(key, bytes.subarray(span.start - chunk.start, span.end - chunk.start), span.start / blockSize, span.end === state.size)).digest('hex'),
			);
			if (proofOf(macs).tags !== tags.tags) throw new InputError(`${file}: chunk ${id} (bytes ${chunk.start}-${chunk.end}) is not what its ciphertext held (changed since it was written); the rest cannot be proved`);
			await sink.write(bytes);
		}
	} finally {
		await input.close();
	}
}

/** How far a job is, as a percentage of the file. */
const percent = (done: number, size: number) => `${size === 0 ? 100 : Math.floor((done / size) * 100)} %`;

/**
 * Find what holds the plaintext of `name` (FILE or FILE.age) and open it with `key`. Throws an
 * InputError that says what was found when nothing can be rebuilt, or the header's error when the
 * key does not open it.
 */
export async function openRecovery(name: string, key: DecryptKey): Promise<Recovery> {
	const resolved = path.resolve(name);
	const locked = resolved.endsWith('.age') ? resolved : `${resolved}.age`;
	const plain = locked.slice(0, -'.age'.length);
	const lockState = lowSpaceStatePath(locked);
	const unlockState = lowSpaceStatePath(plain);

	if (await exists(lockState)) {
		const partial = partialPath(locked);
		if (!(await exists(partial))) {
			if (await exists(locked)) return wholeAge(locked, key, `a --low-space lock of ${plain} had finished ${locked} (only removing ${plain} and its state was left)`);
			throw new InputError(`${lockState} is there, but neither ${partial} nor ${locked}: the lock's output was removed by something else; what is left of the file is ${plain} (its prefix only)`);
		}

		return lowSpaceLockRecovery(plain, partial, key, await readLockState(lockState).catch(() => undefined));
	}

	// No state: a --low-space lock whose state file was lost leaves FILE (cut) and FILE.age.partial
	// (its header first, then the finished tail) and nothing else; a plain lock has a checkpoint.
	const lockPartial = partialPath(locked);
	if (!(await exists(unlockState)) && !(await exists(locked)) && !(await exists(outputCheckpointPath(locked))) && (await exists(lockPartial)) && (await exists(plain))) {
		return lowSpaceLockRecovery(plain, lockPartial, key, undefined, lockState);
	}

	if (await exists(unlockState)) {
		const partial = partialPath(plain);
		if (!(await exists(partial))) {
			if (await exists(plain)) return {state: `a --low-space unlock had put ${plain} in place (each chunk proved before it was kept)`, size: (await fs.stat(plain)).size, parts: [], whole: plain, write: async () => undefined};
			throw new InputError(`${unlockState} is there, but neither ${partial} nor ${plain}: the unlock's output was removed by something else; what is left is ${locked} (its prefix only)`);
		}

		const state = await readUnlockState(unlockState);
		const header = await readFileHeader(locked, key, locked);
		if (header.payloadOffset !== state.headerLength) throw new InputError(`${locked}'s header is not the one ${unlockState} recorded: it was replaced; the rebuilt file would not be yours`);
		const progress = unlockProgress(state, header.fileSize);
		if ('error' in progress) throw new InputError(`${locked} ${progress.error}`);
		const count = chunkCount(state.size, state.chunkSize);
		const prefix = progress.firstDone >= count ? state.size : chunkAt(state.size, state.chunkSize, progress.firstDone).start;
		const payloadKeyBytes = payloadKey(header.fileKey, header.nonce);
		const parts: RecoveredPart[] = [{file: locked, start: 0, end: prefix, proof: `every block authenticated with your identity${prefix === state.size ? ', the final block included' : ''}`}];
		if (prefix < state.size) parts.push({file: partial, start: prefix, end: state.size, proof: 'each chunk encrypted again: its tags are those of the ciphertext it came from'});
		return {
			state: `${locked} was being unlocked back to front (--low-space) and stopped at ${percent(state.size - prefix, state.size)}`,
			size: state.size,
			parts,
			async write(sink) {
				await decryptBlocks(locked, payloadKeyBytes, {offset: header.payloadOffset, first: 0, cipherEnd: header.fileSize - header.payloadOffset, final: prefix === state.size}, sink);
				await provedPlainTail(partial, payloadKeyBytes, state, progress.firstDone, sink);
			},
		};
	}

	// No state: a --low-space unlock whose state file was lost leaves FILE.age cut (its last block
	// not the final one) and FILE.partial; the proof of that plaintext tail was in the state.
	const unlockPartial = partialPath(plain);
	if ((await exists(locked)) && (await exists(unlockPartial)) && !(await exists(outputCheckpointPath(plain)))) {
		const whole = await wholeAge(locked, key, '');
		if (!(await whole.finalBlockPasses())) {
			const prefix = Math.floor(((await fs.stat(locked)).size - whole.payloadOffset) / encryptedBlockSize) * blockSize;
			const size = (await fs.stat(unlockPartial)).size;
			throw new InputError(
				`${locked} is cut short (its last block is not the final one) and ${unlockPartial} is beside it, but ${unlockState} is missing: a --low-space unlock had cut it, and its state, which held the proof of the plaintext tail in ${unlockPartial}, was lost. Bytes 0-${prefix} of your file are in ${locked} (encrypted; your identity opens its header), bytes ${prefix}-${size} are the plaintext in ${unlockPartial} at the same offsets, but cage cannot prove that part, so it rebuilds nothing; nothing was changed. Keep both files as they are; if you have a backup of ${locked}, restore it (cage backup list ${plain})`,
			);
		}
	}

	if (await exists(locked)) return wholeAge(locked, key, `${locked} is a whole age file${(await exists(plain)) ? ` (and ${plain} is there too)` : ''}`);
	if (await exists(plain)) {
		const stat = await fs.stat(plain);
		return {state: `${plain} is not locked and no --low-space job holds it: it is whole where it lies`, size: stat.size, parts: [], whole: plain, write: async () => undefined};
	}

	throw new InputError(`${name}: no such file, and no interrupted lock or unlock of it (looked for ${locked}, ${plain}, their .partial and .low-space.json files)`);
}

/**
 * A --low-space lock under way: FILE's prefix, then the partial output's tail. Without its state
 * (`lost` names the missing file), the plan is read from the files: the partial's header, opened
 * with the user's identity, gives the size, FILE's length how far it got, and the tail is
 * authenticated block by block (the final one first) as with the state.
 */
async function lowSpaceLockRecovery(plain: string, partial: string, key: DecryptKey, state: LowSpaceState | undefined, lost?: string): Promise<Recovery> {
	const header = await readFileHeader(partial, key, partial);
	const size = plaintextSizeOf(header.fileSize - header.payloadOffset, partial);
	const prefix = (await fs.stat(plain).catch(() => undefined))?.size ?? 0;
	if (lost !== undefined && prefix >= size) {
		// Never cut (a --low-space lock cuts only once its state is written): the partial is an unfinished output.
		return {state: `${plain} is whole (${prefix} bytes); ${partial} beside it is an unfinished lock output, and no state file (${lost}) says any of it was cut`, size: prefix, parts: [], whole: plain, write: async () => undefined};
	}

	const chunkSize = state?.chunkSize ?? blockSize;
	if (prefix > size || (prefix < size && prefix % chunkSize !== 0) || (state && state.size !== size)) {
		throw new InputError(`${plain} is ${prefix} bytes: not where a --low-space lock of ${size} bytes leaves it (a multiple of ${chunkSize}); it was changed by something else, and the rebuilt file would not be yours`);
	}

	const payloadKeyBytes = payloadKey(header.fileKey, header.nonce);
	const parts: RecoveredPart[] = [{file: plain, start: 0, end: prefix, proof: 'its own bytes, as the lock left them (cut, never written)'}];
	if (prefix < size) parts.push({file: partial, start: prefix, end: size, proof: 'every block authenticated with your identity, the final block included'});
	const stopped = `${plain} was being locked back to front (--low-space) and stopped at ${percent(size - prefix, size)}`;
	return {
		state:
			lost === undefined
				? stopped
				: `${stopped}; its state file ${lost} is missing, so the plan was read from the files themselves: ${partial}'s header, opened with your identity, gives the size (${size} bytes) and ${plain}'s length (${prefix}) how far it got`,
		size,
		parts,
		...(lost === undefined
			? {}
			: {finish: (rebuilt: string) => `'cage resume' cannot finish this lock without its state: check ${rebuilt}, put it in place of ${plain}, then remove ${partial} (and the interrupted batch's .cage-batch.checkpoint.json beside it) and lock it again`}),
		async write(sink) {
			const tail = {offset: header.payloadOffset, first: blockRange(prefix, size, size).firstBlock, cipherEnd: ciphertextPayloadSize(size), final: true};
			// The tail's final block is checked before a byte is written: a truncated tail stops here.
			if (prefix < size) await decryptBlocks(partial, payloadKeyBytes, {...tail, first: blockRange(size - 1, size, size).firstBlock}, {write: async () => undefined});
			await copyRange(plain, 0, prefix, sink);
			if (prefix < size) await decryptBlocks(partial, payloadKeyBytes, tail, sink);
		},
	};
}

/** A whole age file: decrypted, every block authenticated, the final block first. */
async function wholeAge(file: string, key: DecryptKey, state: string): Promise<Recovery & {payloadOffset: number; finalBlockPasses(): Promise<boolean>}> {
	const header = await readFileHeader(file, key, file);
	const size = plaintextSizeOf(header.fileSize - header.payloadOffset, file);
	const cipherEnd = header.fileSize - header.payloadOffset;
	return {
		payloadOffset: header.payloadOffset,
		async finalBlockPasses() {
			const last = blockRange(Math.max(size - 1, 0), size, size).firstBlock;
			return decryptBlocks(file, payloadKey(header.fileKey, header.nonce), {offset: header.payloadOffset, first: last, cipherEnd, final: true}, {write: async () => undefined}).then(
				() => true,
				(error: unknown) => {
					if (error instanceof StreamAuthError) return false;
					throw error;
				},
			);
		},
		state,
		size,
		parts: [{file, start: 0, end: size, proof: 'every block authenticated with your identity, the final block included'}],
		async write(sink) {
			await decryptBlocks(file, payloadKey(header.fileKey, header.nonce), {offset: header.payloadOffset, first: 0, cipherEnd: header.fileSize - header.payloadOffset, final: true}, sink);
		},
	};
}
