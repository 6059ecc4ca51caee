/**
 * The digest a checkpoint keeps of each committed chunk's bytes as they were written to the
 * partial output (ciphertext for an encryption, plaintext for a decryption), so that a resume
 * after a crash can check the whole committed prefix by reading it back, far faster than it could
 * redo it. It is there to catch accidental damage (a torn write after a power cut, another
 * program, a failing disk): XXH3-64 (xxh3.ts) does the bytes at several GB/s. The sum is then keyed, HMAC-SHA256 under a key derived from the payload key, so that the checkpoint holds
 * no unkeyed digest of plaintext (which would confirm a guess of it).
 */
import {createHmac, hkdfSync} from 'node:crypto';

/** Length of a chunk digest in hex characters. */
export const chunkDigestLength = 32;

/** The key chunk digests are made with, derived from the payload key (never stored). */
export function digestKey(payloadKey: Uint8Array): Buffer {
	return Buffer.from(hkdfSync('sha256', payloadKey, '', 'cage chunk digest v1', 32));
}

/**
 * The digest of a chunk starting at plaintext offset `plainStart` whose written bytes have the
 * XXH3 sum `sum`: bound to the chunk's place, so the right bytes at the wrong offset do not pass.
 */
export function chunkDigest(key: Uint8Array, plainStart: number, sum: Uint8Array): string {
	return createHmac('sha256', key).update(`${plainStart}:`).update(sum).digest('hex').slice(0, chunkDigestLength);
}

/** The key a checkpoint of the job is sealed with (chunker/checkpoint.ts), derived from the payload key. */
export function checkpointSealKey(payloadKey: Uint8Array): Buffer {
	return Buffer.from(hkdfSync('sha256', payloadKey, '', 'cage checkpoint seal v1', 32));
}
