/**
 * What an age file says about itself without a key, as age 1.3's age-inspect tells it: format
 * version, armored or not, the stanza types and whether they are post-quantum, and the sizes
 * (header, armor, encryption overhead, payload). A binary file is read at its start and end only;
 * an armored file or a stream is read once, through, holding at most its header and last block.
 * With a file key (the header opened by an identity), the last block is authenticated too: then
 * the plaintext size is known, not just implied by the length.
 */
import fs from 'node:fs/promises';
import {ArmorReader, armorSniffLength, isArmored} from './armor.js';
import {AgeFormatError, StreamAuthError} from './errors.js';
import {readHeaderStanzas} from './header-stanzas.js';
import {ageMagic, maxHeaderSize} from './header.js';
import {decryptRange, encryptedBlockSize, nonceSize, payloadKey, plaintextSizeOf} from './stream.js';

/** The facts, in age-inspect's JSON shape (plus what cage adds: `last_block`, `file_size`). */
export type AgeFileFacts = {
	version: string;
	postquantum: 'yes' | 'no' | 'unknown';
	armor: boolean;
	stanza_types: string[];
	sizes: {header: number; armor: number; overhead: number; min_payload: number; max_payload: number; min_padding: number; max_padding: number};
	/** Bytes of the file as stored (armored text included). */
	file_size: number;
	/** `unchecked` without a key; `authenticated` when the last block was opened (the payload size is then exact). */
	last_block: 'unchecked' | 'authenticated';
};

/** Stanza types that are not post-quantum, and those that are (age-inspect's lists). */
const classical = new Set(['X25519', 'ssh-rsa', 'ssh-ed25519', 'age-encryption.org/p256tag', 'piv-p256']);
const postQuantum = new Set(['mlkem768x25519', 'scrypt', 'age-encryption.org/mlkem768p256tag']);

function postQuantumOf(types: string[]): AgeFileFacts['postquantum'] {
	if (types.some(type => classical.has(type))) return 'no';
	if (types.some(type => postQuantum.has(type))) return 'yes';
	return 'unknown';
}

/** What the pass over the bytes gathered: the header's bytes and the nonce, the payload's size and last block. */
type Gathered = {head: Buffer; headerLength: number; stanzaTypes: string[]; payloadSize: number; lastBlock: Buffer; storedSize: number; armored: boolean};

/** Gathers from a stream of (dearmored) age bytes; bounded: the header plus one block. */
class Gatherer {
	#head: Buffer[] = [];
	#headLength = 0;
	#header: {length: number; types: string[]} | undefined;
	#tail: Buffer = Buffer.alloc(0);
	#nonce: Buffer = Buffer.alloc(0);
	#total = 0;
	readonly #name: string;

	constructor(name: string) {
		this.#name = name;
	}

	push(chunk: Buffer): void {
		this.#total += chunk.length;
		if (this.#header === undefined) {
			this.#head.push(chunk);
			this.#headLength += chunk.length;
			const head = Buffer.concat(this.#head);
			this.#head = [head];
			const read = readHeaderStanzas(head, this.#name);
			if (read === undefined) {
				if (this.#headLength > maxHeaderSize) throw new AgeFormatError(`${this.#name} is not an age file (no header end in its first ${maxHeaderSize} bytes)`);
				return;
			}

			this.#header = {length: read.length, types: read.stanzas.map(({args}) => args[0]!)};
			this.#keepTail(head.subarray(read.length));
			return;
		}

		this.#keepTail(chunk);
	}

	#keepTail(bytes: Buffer): void {
		if (this.#nonce.length < nonceSize) this.#nonce = Buffer.concat([this.#nonce, bytes.subarray(0, nonceSize - this.#nonce.length)]);
		const keep = encryptedBlockSize + nonceSize;
		this.#tail = this.#tail.length + bytes.length <= keep ? Buffer.concat([this.#tail, bytes]) : Buffer.concat([this.#tail, bytes]).subarray(-keep);
	}

	finish(storedSize: number, armored: boolean): Gathered {
		if (this.#header === undefined) {
			if (this.#total === 0) throw new AgeFormatError(`${this.#name} is empty, not an age file`);
			throw new AgeFormatError(`${this.#name} is truncated inside its age header`);
		}

		const afterHeader = this.#total - this.#header.length;
		if (afterHeader < nonceSize) throw new AgeFormatError(`${this.#name} is truncated: it ends right after its header, without the payload nonce`);
		const head = Buffer.concat([Buffer.concat(this.#head).subarray(0, this.#header.length), this.#nonce]);
		return lastBlockOf({head, headerLength: this.#header.length, stanzaTypes: this.#header.types, payloadSize: afterHeader - nonceSize, tail: this.#tail, storedSize, armored}, this.#name);
	}
}

function lastBlockOf(parts: Omit<Gathered, 'lastBlock'> & {tail: Buffer}, name: string): Gathered {
	plaintextSizeOf(parts.payloadSize, name);
	const lastLength = parts.payloadSize === 0 ? 0 : parts.payloadSize - (Math.ceil(parts.payloadSize / encryptedBlockSize) - 1) * encryptedBlockSize;
	const {tail, ...rest} = parts;
	return {...rest, lastBlock: tail.subarray(tail.length - lastLength)};
}

/** Read an age file (binary or armored) by its name, or `-`/null for `stream`. */
export async function gatherAgeFile(file: string | null, stream: AsyncIterable<Uint8Array> | null, name: string): Promise<Gathered> {
	if (file !== null) {
		const handle = await fs.open(file, 'r');
		try {
			const {size} = await handle.stat();
			const first = Buffer.alloc(Math.min(size, Math.max(armorSniffLength, 64 * 1024)));
			await handle.read(first, 0, first.length, 0);
			if (!isArmored(first)) {
				// Binary: its start and its end are enough.
				let head = first;
				let read = readHeaderStanzas(head, name);
				while (read === undefined && head.length < Math.min(size, maxHeaderSize + 1)) {
					const more = Buffer.alloc(Math.min(size, head.length * 4));
					await handle.read(more, 0, more.length, 0);
					head = more;
					read = readHeaderStanzas(head, name);
				}

				if (read === undefined) {
					if (size === 0) throw new AgeFormatError(`${name} is empty, not an age file`);
					if (head.length > maxHeaderSize) throw new AgeFormatError(`${name} is not an age file (no header end in its first ${maxHeaderSize} bytes)`);
					throw new AgeFormatError(`${name} is truncated inside its age header`);
				}

				if (size - read.length < nonceSize) throw new AgeFormatError(`${name} is truncated: it ends right after its header, without the payload nonce`);
				const nonce = Buffer.alloc(nonceSize);
				await handle.read(nonce, 0, nonceSize, read.length);
				const payloadSize = size - read.length - nonceSize;
				const tailLength = Math.min(payloadSize, encryptedBlockSize);
				const tail = Buffer.alloc(tailLength);
				await handle.read(tail, 0, tailLength, size - tailLength);
				return lastBlockOf({head: Buffer.concat([head.subarray(0, read.length), nonce]), headerLength: read.length, stanzaTypes: read.stanzas.map(({args}) => args[0]!), payloadSize, tail, storedSize: size, armored: false}, name);
			}
		} finally {
			await handle.close();
		}
	}

	// Armored or a stream: one pass.
	const source: AsyncIterable<Uint8Array> = stream ?? (await fs.open(file!, 'r')).createReadStream({highWaterMark: 1024 * 1024});
	const gatherer = new Gatherer(name);
	let reader: ArmorReader | undefined;
	let decided = false;
	let pending = Buffer.alloc(0);
	let stored = 0;
	const feed = (bytes: Buffer) => {
		if (reader) for (const decoded of reader.take(bytes)) gatherer.push(decoded);
		else gatherer.push(bytes);
	};

	for await (const chunk of source) {
		const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
		stored += bytes.length;
		if (!decided) {
			pending = Buffer.concat([pending, bytes]);
			if (pending.length < armorSniffLength) continue;
			decided = true;
			if (isArmored(pending)) reader = new ArmorReader(name);
			feed(pending);
			continue;
		}

		feed(bytes);
	}

	if (!decided) {
		if (isArmored(pending)) reader = new ArmorReader(name);
		feed(pending);
	}

	if (reader) for (const decoded of reader.end()) gatherer.push(decoded);
	return gatherer.finish(stored, reader !== undefined);
}

/** The facts of what was gathered; `checked` when its last block was authenticated. */
export function factsOf(gathered: Gathered, checked: boolean): AgeFileFacts {
	const header = gathered.headerLength;
	const payload = plaintextSizeOf(gathered.payloadSize);
	const decoded = header + nonceSize + gathered.payloadSize;
	return {
		version: ageMagic.trim(),
		postquantum: postQuantumOf(gathered.stanzaTypes),
		armor: gathered.armored,
		stanza_types: gathered.stanzaTypes,
		sizes: {header, armor: gathered.storedSize - decoded, overhead: decoded - header - payload, min_payload: payload, max_payload: payload, min_padding: 0, max_padding: 0},
		file_size: gathered.storedSize,
		last_block: checked ? 'authenticated' : 'unchecked',
	};
}

/**
 * Authenticate the last block with the file key the header gave; throws StreamAuthError when it
 * does not open as the final block (the file is truncated, extended or damaged there).
 */
export function checkLastBlock(gathered: Gathered, fileKey: Uint8Array, name: string): void {
	const nonce = gathered.head.subarray(gathered.headerLength, gathered.headerLength + nonceSize);
	const counter = gathered.payloadSize === 0 ? 0 : Math.ceil(gathered.payloadSize / encryptedBlockSize) - 1;
	try {
		decryptRange(payloadKey(fileKey, nonce), gathered.lastBlock, counter, true);
	} catch (error) {
		if (error instanceof StreamAuthError || error instanceof AgeFormatError) {
			throw new StreamAuthError(`${name}: its last block (block ${counter}) does not authenticate as the final block: the file is truncated, has data appended, or is damaged at its end`, counter);
		}

		throw error;
	}
}
