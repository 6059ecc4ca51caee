/**
 * Conformance: the C2SP age test vectors (npm `cctv-age`, the suite typage, rage and Go age test
 * against), decrypted through cage's own paths:
 * - the stream path, `decryptStream` (stdin/pipes), fed whole and in small pieces;
 * - the file path, `readHeader` + `plaintextSizeOf` + `decryptRange`, as the engine's workers do.
 * A vector that expects success must decrypt to its payload hash; every other must fail, with the
 * error kind the vector names, and release no plaintext that was not authenticated.
 */
import {createDecipheriv, hkdfSync} from 'node:crypto';
import {Readable, Writable} from 'node:stream';
import {inflateSync} from 'node:zlib';
import {armor} from 'age-encryption';
import * as vectors from 'cctv-age';
import {afterAll, describe, expect, it} from 'vitest';
import {JobEmitter} from '../../source/chunker/emitter.js';
import {ControlProxy} from '../../source/jobs/control-proxy.js';
import {ArmorDecoder} from '../../source/age/armor.js';
import {AgeFormatError, NoIdentityMatchError, StreamAuthError} from '../../source/age/errors.js';
import {readHeader} from '../../source/age/header.js';
import {decryptRange, payloadKey, plaintextSizeOf} from '../../source/age/stream.js';
import {decryptStream} from '../../source/age/streams.js';
import {memoryReader, sha256} from './helpers.js';

type Vector = {name: string; meta: Map<string, string[]>; body: Buffer};

function parseVector(name: string, raw: Uint8Array): Vector {
	const bytes = Buffer.from(raw);
	const split = bytes.indexOf('\n\n');
	const meta = new Map<string, string[]>();
	for (const line of bytes.subarray(0, split).toString('utf8').split('\n')) {
		const colon = line.indexOf(': ');
		const key = line.slice(0, colon);
		meta.set(key, [...(meta.get(key) ?? []), line.slice(colon + 2)]);
	}

	let body = bytes.subarray(split + 2);
	const compressed = meta.get('compressed')?.[0];
	if (compressed === 'zlib') body = inflateSync(body);
	else if (compressed) throw new Error(`${name}: unknown compression ${compressed}`);
	return {name, meta, body};
}

const all = Object.entries(vectors as Record<string, Uint8Array>).map(([name, raw]) => parseVector(name, raw));

/** Why a vector does not apply to cage. */
function skipReason(vector: Vector): string | undefined {
	const identities = vector.meta.get('identity') ?? [];
	if (identities.some(identity => !/^AGE-SECRET-KEY-(PQ-)?1/.test(identity))) return 'plugin or SSH identity: not supported by cage';
	return undefined;
}

const applicable = all.filter(vector => !skipReason(vector));
const skipped = all.filter(vector => skipReason(vector)).map(vector => ({name: vector.name, reason: skipReason(vector)!}));

function keyOf(vector: Vector): {identities: string[]} | {passphrase: string} {
	const passphrase = vector.meta.get('passphrase')?.[0];
	if (passphrase !== undefined) return {passphrase};
	return {identities: vector.meta.get('identity') ?? []};
}

const isArmored = (vector: Vector) => vector.meta.get('armored')?.[0] === 'yes';

/**
 * An independent block-by-block STREAM reference (node crypto and the vector's file key): every
 * block that authenticates, with either flag, in order, up to the first that does not or the first
 * final one. That is the most plaintext a streaming decryptor can release, which the hash covers.
 */
function referencePrefix(vector: Vector): Buffer {
	const fileKey = Buffer.from(vector.meta.get('file key')![0]!, 'hex');
	// An armored vector through the library's (whole-file) armor decoder: independent of cage's.
	const body = isArmored(vector) ? Buffer.from(armor.decode(vector.body.toString('latin1'))) : vector.body;
	const headerEnd = body.indexOf('\n---');
	const start = body.indexOf('\n', headerEnd + 1) + 1;
	const nonce = body.subarray(start, start + 16);
	const key = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
	const payload = body.subarray(start + 16);
	const open = (block: Buffer, counter: number, final: boolean): Buffer | undefined => {
		if (block.length < 16) return undefined;
		const iv = Buffer.alloc(12);
		iv.writeUIntBE(counter, 5, 6);
		iv[11] = final ? 1 : 0;
		const decipher = createDecipheriv('chacha20-poly1305', key, iv, {authTagLength: 16});
		decipher.setAuthTag(block.subarray(block.length - 16));
		try {
			const plain = decipher.update(block.subarray(0, block.length - 16));
			decipher.final();
			return plain;
		} catch {
			return undefined;
		}
	};

	const out: Buffer[] = [];
	for (let counter = 0; counter * 65_552 < payload.length; counter++) {
		const block = payload.subarray(counter * 65_552, (counter + 1) * 65_552);
		const asFinal = open(block, counter, true);
		if (asFinal) {
			out.push(asFinal);
			break;
		}

		// Only a full block can be followed by another one.
		const asMiddle = block.length === 65_552 ? open(block, counter, false) : undefined;
		if (!asMiddle) break;
		out.push(asMiddle);
	}

	return Buffer.concat(out);
}

type Outcome = {ok: boolean; output: Buffer; error?: Error};

async function viaStream(vector: Vector, pieceSize: number): Promise<Outcome> {
	const pieces: Buffer[] = [];
	for (let at = 0; at < vector.body.length; at += pieceSize) pieces.push(vector.body.subarray(at, at + pieceSize));
	const output: Buffer[] = [];
	const sink = new Writable({
		write(chunk: Buffer, _encoding, callback) {
			output.push(Buffer.from(chunk));
			callback();
		},
	});
	// Armored files are decrypted as streams, through the armor decoder (also when read from a file).
	const source = isArmored(vector) ? Readable.from(pieces).pipe(new ArmorDecoder(vector.name)) : Readable.from(pieces);
	const result = await decryptStream(source, sink, keyOf(vector) as never, {
		emitter: new JobEmitter(`cctv-${vector.name}`),
		control: new ControlProxy(),
		chunkSize: 16 * 2 ** 20,
		source: vector.name,
	});
	return {ok: result.outcome === 'completed', output: Buffer.concat(output), ...(result.error ? {error: result.error} : {})};
}

async function viaFile(vector: Vector): Promise<Outcome> {
	try {
		const header = await readHeader(memoryReader(vector.body), keyOf(vector) as never, vector.name);
		const payload = vector.body.subarray(header.payloadOffset);
		plaintextSizeOf(payload.length, vector.name);
		const plain = decryptRange(payloadKey(header.fileKey, header.nonce), payload, 0, true);
		return {ok: true, output: plain};
	} catch (error) {
		return {ok: false, output: Buffer.alloc(0), error: error as Error};
	}
}

/** The error classes that fit each expected failure. */
function fits(expect_: string, error: Error | undefined): boolean {
	switch (expect_) {
		case 'no match': {
			return error instanceof NoIdentityMatchError;
		}

		case 'HMAC failure': {
			return error instanceof AgeFormatError && /header MAC/.test(error.message);
		}

		case 'header failure': {
			return error instanceof AgeFormatError;
		}

		case 'armor failure': {
			return error instanceof AgeFormatError && /invalid armor at line \d+/.test(error.message);
		}

		case 'payload failure': {
			return error instanceof StreamAuthError || error instanceof AgeFormatError;
		}

		default: {
			return false;
		}
	}
}

const tally = {passed: 0, failed: 0, skipped: skipped.length};

describe('C2SP age test vectors (cctv-age)', () => {
	it('has the vectors and a reason for each one skipped', () => {
		expect(all.length).toBeGreaterThan(100);
		expect(applicable.length).toBeGreaterThan(80);
		for (const {name, reason} of skipped) expect(reason, name).toBeTruthy();
	});

	for (const vector of applicable) {
		const expected = vector.meta.get('expect')![0]!;
		const payloadHash = vector.meta.get('payload')?.[0];
		it(`${vector.name}: ${expected}`, async () => {
			try {
				const paths: Array<[string, Outcome]> = [
					['stream, whole', await viaStream(vector, vector.body.length || 1)],
				];
				if (!isArmored(vector)) paths.push(['file', await viaFile(vector)]);
				if (vector.body.length < 300_000) paths.push(['stream, 7-byte pieces', await viaStream(vector, 7)]);
				for (const [how, outcome] of paths) {
					if (expected === 'success') {
						expect(outcome.error?.message, how).toBeUndefined();
						expect(outcome.ok, how).toBe(true);
						expect(sha256(outcome.output), how).toBe(payloadHash);
					} else {
						expect(outcome.ok, how).toBe(false);
						expect(fits(expected, outcome.error), `${how}: ${outcome.error?.name}: ${outcome.error?.message}`).toBe(true);
						// Truncation and trailing data are told apart from tampering where the flag shows it.
						if (how.startsWith('stream') && /^stream_(trailing_garbage|two_final_chunks(?!_short))/.test(vector.name)) expect(outcome.error?.message, how).toMatch(/trailing data/);
						if (how.startsWith('stream') && /^stream_no_final/.test(vector.name)) expect(outcome.error?.message, how).toMatch(/truncated/);
						if (expected === 'payload failure') {
							// Whatever was released is authenticated plaintext: a prefix of what the
							// vector's hash covers (cage holds back a batch that fails, so it may be less).
							const reference = referencePrefix(vector);
							expect(sha256(reference), 'reference decryptor').toBe(payloadHash);
							expect(outcome.output.length, how).toBeLessThanOrEqual(reference.length);
							expect(outcome.output.equals(reference.subarray(0, outcome.output.length)), how).toBe(true);
						} else {
							expect(outcome.output.length, how).toBe(0);
						}
					}
				}

				tally.passed++;
			} catch (error) {
				tally.failed++;
				throw error;
			}
		});
	}

	afterAll(() => {
		console.log(`cctv-age: ${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped (${all.length} vectors)`);
		console.log(`skipped: ${skipped.map(({name}) => name).join(', ')}`);
	});
});
