/**
 * The hashing processor: per-chunk digests plus a whole-file digest equal to `sha256sum`'s.
 * The first real consumer of the chunker core, and its simplest.
 */
import {createHash, type Hash} from 'node:crypto';
import type {Chunk} from '../chunker/plan.js';
import type {ChunkContext, ChunkInput, ChunkProcessor, ChunkResult} from '../chunker/processor.js';

/** Supported digests (names as node:crypto spells them). */
export const hashAlgorithms = ['sha256', 'blake2b512'] as const;

export type HashAlgorithm = (typeof hashAlgorithms)[number];

/** Bytes read per call: bounded, so memory does not grow with chunk size. */
export const hashBlockSize = 4 * 2 ** 20;

/**
 * Hashes chunks in order. The whole-file digest needs every byte in order, so the processor is
 * sequential; a resumed job first re-reads the committed prefix (`replay`), which re-checks every
 * committed chunk digest on the way.
 *
 * The per-chunk digest doubles as the chunk's MAC in the checkpoint: for a hash job the digests
 * are the job's own output, so recording them reveals nothing the job does not print.
 */
export class HashProcessor implements ChunkProcessor {
	readonly sequential = true;
	readonly skippable = false;
	readonly algorithm: HashAlgorithm;
	readonly #input: ChunkInput;
	readonly #whole: Hash;
	readonly #buffer = Buffer.allocUnsafe(hashBlockSize);
	readonly digests: string[] = [];

	constructor(input: ChunkInput, algorithm: HashAlgorithm) {
		this.#input = input;
		this.algorithm = algorithm;
		this.#whole = createHash(algorithm);
	}

	async process(chunk: Chunk, ctx: ChunkContext): Promise<ChunkResult> {
		const digest = await this.#hashChunk(chunk, ctx, this.#whole);
		return {mac: digest, info: digest};
	}

	commit(_chunk: Chunk, result: ChunkResult | null): void {
		this.digests.push(result?.info ?? '');
	}

	/**
	 * Feed the committed prefix into the whole-file digest again (after a resume) and check each
	 * chunk against the digest the checkpoint recorded. Returns the id of the first chunk whose
	 * bytes changed, or -1.
	 */
	async replay(chunks: Chunk[], recorded: string[], ctx: ChunkContext): Promise<number> {
		for (const chunk of chunks) {
			const digest = await this.#hashChunk(chunk, ctx, this.#whole);
			if (digest !== recorded[chunk.id]) return chunk.id;
			this.digests.push(digest);
		}

		return -1;
	}

	/** The whole-file digest (hex); call once, after the last chunk. */
	digest(): string {
		return this.#whole.digest('hex');
	}

	async #hashChunk(chunk: Chunk, ctx: ChunkContext, whole: Hash | undefined): Promise<string> {
		const hash = createHash(this.algorithm);
		let done = 0;
		while (done < chunk.size) {
			const length = Math.min(hashBlockSize, chunk.size - done);
			await ctx.gate(length);
			const read = await this.#input.read(this.#buffer, 0, length, chunk.start + done);
			if (read === 0) throw Object.assign(new Error(`unexpected end of file at byte ${chunk.start + done} (the file shrank while being read)`), {code: 'ESHRANK'});
			const block = this.#buffer.subarray(0, read);
			hash.update(block);
			whole?.update(block);
			done += read;
			ctx.progress(done);
		}

		return hash.digest('hex');
	}
}
