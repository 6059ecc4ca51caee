/**
 * Random access to an age file's plaintext, as age's `DecryptReaderAt` gives it: the header is
 * read, then the LAST block is authenticated with the last-block flag before anything else is
 * decrypted — only then is the plaintext size known (a file cut at a block boundary, or with
 * blocks appended, looks whole by its length alone). A range then costs the blocks that cover
 * it, nothing more.
 */
import {FileInput, InputError} from '../io/files.js';
import type {DecryptKey} from './engine.js';
import {AgeFormatError, StreamAuthError} from './errors.js';
import {readHeader} from './header.js';
import {blockCount, blockSize, ciphertextPayloadSize, decryptRange, encryptedBlockSize, payloadKey, plaintextSizeOf} from './stream.js';

/** Blocks decrypted per read: 1 MiB of plaintext, so memory stays small whatever the range. */
const blocksPerRead = 16;

/** An age file open for reads at any plaintext offset; its last block has been authenticated. */
export class AgeReaderAt {
	/** Plaintext bytes (exact: the last block authenticated as the final one). */
	readonly size: number;
	readonly #file: FileInput;
	readonly #name: string;
	readonly #key: Buffer;
	readonly #payloadOffset: number;
	readonly #blocks: number;
	/** The last block's plaintext, decrypted once by `open`. */
	readonly #last: Buffer;

	private constructor(file: FileInput, name: string, key: Buffer, payloadOffset: number, size: number, last: Buffer) {
		this.#file = file;
		this.#name = name;
		this.#key = key;
		this.#payloadOffset = payloadOffset;
		this.size = size;
		this.#blocks = blockCount(size);
		this.#last = last;
	}

	/**
	 * Open `file` with `key`: header, then the last block.
	 * @throws NoIdentityMatchError, AgeFormatError (not an age file, a payload of an impossible
	 * length), StreamAuthError (the last block does not authenticate as the final one).
	 */
	static async open(file: string, key: DecryptKey, name = file): Promise<AgeReaderAt> {
		const input = await FileInput.open(file);
		try {
			const read = async (buffer: Uint8Array, offset: number, length: number, position: number) => input.read(buffer, offset, length, position);
			const header = await readHeader(read, key.passphrase === undefined ? {identities: key.identities} : {passphrase: key.passphrase}, name);
			const payloadKeyBytes = payloadKey(header.fileKey, header.nonce);
			const cipherSize = input.size - header.payloadOffset;
			// The size the length implies; trusted only once the block it ends in opens as the final one.
			const size = plaintextSizeOf(cipherSize, name);
			const counter = blockCount(size) - 1;
			const start = counter * encryptedBlockSize;
			const cipher = await readExactly(input, header.payloadOffset + start, cipherSize - start, name);
			let last: Buffer;
			try {
				last = decryptRange(payloadKeyBytes, cipher, counter, true);
			} catch (error) {
				if (!(error instanceof StreamAuthError)) throw error;
				throw new StreamAuthError(
					`${name}: its last block (block ${counter}, byte ${header.payloadOffset + start} of the file) does not authenticate as the final block: the file is truncated, has data appended, or is damaged at its end; nothing of it is decrypted`,
					counter,
				);
			}

			return new AgeReaderAt(input, name, payloadKeyBytes, header.payloadOffset, size, last);
		} catch (error) {
			await input.close();
			throw error;
		}
	}

	/**
	 * Decrypt plaintext [start, end) and hand it to `sink` in pieces of at most 1 MiB, in order;
	 * only the blocks that cover the range are read, each authenticated before its bytes go out.
	 */
	async read(start: number, end: number, sink: (bytes: Buffer) => Promise<void> | void): Promise<void> {
		if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > this.size) {
			throw new RangeError(`AgeReaderAt.read: [${start}, ${end}) is not within the plaintext's ${this.size} bytes`);
		}

		if (start === end) return;
		const firstBlock = Math.floor(start / blockSize);
		const endBlock = Math.ceil(end / blockSize);
		for (let counter = firstBlock; counter < endBlock; counter += blocksPerRead) {
			const blocks = Math.min(blocksPerRead, endBlock - counter);
			const final = counter + blocks === this.#blocks;
			let plain: Buffer;
			if (final && blocks === 1) {
				plain = this.#last;
			} else {
				const cipherStart = counter * encryptedBlockSize;
				const cipherEnd = final ? ciphertextPayloadSize(this.size) : (counter + blocks) * encryptedBlockSize;
				const cipher = await readExactly(this.#file, this.#payloadOffset + cipherStart, cipherEnd - cipherStart, this.#name);
				try {
					plain = decryptRange(this.#key, cipher, counter, final);
				} catch (error) {
					if (!(error instanceof StreamAuthError)) throw error;
					throw new StreamAuthError(`${this.#name}: ${error.message} (byte ${this.#payloadOffset + error.counter * encryptedBlockSize} of the file)`, error.counter);
				}
			}

			const from = Math.max(start - counter * blockSize, 0);
			const to = Math.min(end - counter * blockSize, plain.length);
			await sink(plain.subarray(from, to));
		}
	}

	async close(): Promise<void> {
		await this.#file.close();
	}
}

async function readExactly(input: FileInput, position: number, length: number, name: string): Promise<Buffer> {
	const buffer = Buffer.allocUnsafe(length);
	let done = 0;
	while (done < length) {
		const read = await input.read(buffer, done, length - done, position + done);
		if (read === 0) throw new AgeFormatError(`${name}: unexpected end of file at byte ${position + done} (the file shrank while being read)`);
		done += read;
	}

	return buffer;
}

/**
 * The plaintext range [start, end) that `--offset` and `--length` ask for in a plaintext of `size`
 * bytes: a negative offset counts from the end; no length means to the end.
 * @throws InputError for a range that is not inside the plaintext, saying how large it is.
 */
export function resolveRange(size: number, offset: number, length: number | undefined, name: string): {start: number; end: number} {
	const start = offset < 0 ? size + offset : offset;
	if (start < 0) throw new InputError(`--offset ${offset} starts before the beginning: ${name} holds ${size} bytes of plaintext, so a negative offset goes back at most ${size}`);
	if (start > size) throw new InputError(`--offset ${offset} is past the end: ${name} holds ${size} bytes of plaintext`);
	const end = length === undefined ? size : start + length;
	if (end > size) {
		throw new InputError(`--length ${length} from byte ${start} goes past the end: ${name} holds ${size} bytes of plaintext, so at most ${size - start} can be read from there (leave --length out for the rest)`);
	}

	return {start, end};
}
