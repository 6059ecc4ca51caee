#!/usr/bin/env node
// Floors for the benches: the least a node program does for each of cage's jobs here, with
// nothing of cage in it (no CLI, no header code, no job, no checkpoint, no progress). Each mode is
// the one a bench figure is measured against, so that a goal cage misses shows what stops it:
//
//   read FILE [THREADS]         FILE read by THREADS worker threads (default one per core), each its
//                               own contiguous share, 1 MiB at a time, node's ChaCha20-Poly1305 run
//                               over every 64 KiB block, one cipher per block as age's STREAM needs
//                               (sealing costs what opening does: the same two passes over the same
//                               bytes), nothing written: the floor of `cage verify`.
//   tags FILE [THREADS]         `read` with each 64 KiB block's Poly1305 tag computed with libsodium
//                               (sodium-native: the one-time key from ChaCha20, then Poly1305 over
//                               the block), nothing decrypted: the floor of `cage verify` where
//                               sodium-native loads, as cage checks tags there.
//   tags-sha256 FILE [THREADS]  `tags` plus SHA-256 of every byte read (node's, OpenSSL's): the floor
//                               of `cage backup verify -i`, which checks both the manifest's digests
//                               and every tag.
//   write FILE OUT [THREADS]    the same, each block's output written with pwrite at its place in OUT
//                               (created, then fsynced, as cage does): the floor of encrypt/decrypt.
//   xxh3 FILE [THREADS]         `write` plus XXH3-64 (@node-rs/xxhash, as cage) of every span written:
//                               cage's record of what each chunk wrote, which a resume checks.
//   idle [THREADS]              node with THREADS idle worker threads: the peak RSS floor of a
//                               process that encrypts on two threads.
//   stream                      stdin to stdout on the main thread, 64 KiB blocks sealed as they come:
//                               the floor of `cage encrypt < in > out`.
//   batch DIR OUTDIR RECIPIENT  every file of DIR sealed to RECIPIENT (node's X25519, HKDF, HMAC:
//                               an age header's work) into OUTDIR/NAME.age, each written to a temp
//                               file, fsynced, renamed, its directory fsynced: the floor of a durable
//                               batch, in one process.
import {Buffer} from 'node:buffer';
import {createCipheriv, createHash, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {Worker, isMainThread, workerData} from 'node:worker_threads';
import {bech32} from '@scure/base';

const block = 64 * 1024;
const sealed = block + 16;

/** Seal one block (its output discarded or written by the caller). */
function seal(key, nonce, counter, bytes) {
	nonce.writeUIntBE(counter, 5, 6);
	const cipher = createCipheriv('chacha20-poly1305', key, nonce, {authTagLength: 16});
	const out = cipher.update(bytes);
	cipher.final();
	return [out, cipher.getAuthTag()];
}

/** A block's Poly1305 tag as ChaCha20-Poly1305 computes it (RFC 8439 2.8), with libsodium. */
function tagger(sodium) {
	const state = Buffer.alloc(sodium.crypto_onetimeauth_STATEBYTES);
	const oneTime = Buffer.alloc(32);
	const lengths = Buffer.alloc(16);
	const tag = Buffer.alloc(16);
	return (key, nonce, counter, bytes) => {
		nonce.writeUIntBE(counter, 5, 6);
		sodium.crypto_stream_chacha20_ietf(oneTime, nonce, key);
		sodium.crypto_onetimeauth_init(state, oneTime);
		sodium.crypto_onetimeauth_update(state, bytes);
		lengths.writeBigUInt64LE(BigInt(bytes.length), 8);
		sodium.crypto_onetimeauth_update(state, lengths);
		sodium.crypto_onetimeauth_final(state, tag);
		return tag;
	};
}

async function share({file, out, start, end, hash, tags, sha256: digest}) {
	const fd = fs.openSync(file, 'r');
	const outFd = out ? fs.openSync(out, 'r+') : -1;
	const buffer = Buffer.allocUnsafe(16 * (tags ? sealed : block));
	const span = Buffer.allocUnsafe(16 * sealed);
	const key = randomBytes(32);
	const nonce = Buffer.alloc(12);
	const xxh3 = hash ? (await import('@node-rs/xxhash')).xxh3.Xxh3.withSeed(0n) : undefined;
	const sha256 = digest ? createHash('sha256') : undefined;
	const checkTag = tags ? tagger((await import('node:module')).createRequire(import.meta.url)('sodium-native')) : undefined;
	for (let position = start; position < end; position += buffer.length) {
		const length = Math.min(buffer.length, end - position);
		let done = 0;
		while (done < length) done += fs.readSync(fd, buffer, done, length - done, position + done);
		let at = 0;
		if (sha256) sha256.update(buffer.subarray(0, length));
		if (checkTag) {
			// Whole sealed blocks per read where the share allows (the shares are cut at 64 KiB
			// multiples of the file, so a block may straddle two: the same bytes either way).
			for (let offset = 0; offset < length; offset += sealed) checkTag(key, nonce, Math.floor((position + offset) / sealed), buffer.subarray(offset, Math.min(length, offset + sealed - 16)));
			continue;
		}

		for (let offset = 0; offset < length; offset += block) {
			const [cipher, tag] = seal(key, nonce, (position + offset) / block, buffer.subarray(offset, Math.min(length, offset + block)));
			if (outFd === -1) continue;
			at += cipher.copy(span, at);
			at += tag.copy(span, at);
		}

		if (outFd !== -1) {
			const bytes = span.subarray(0, at);
			xxh3?.update(bytes);
			fs.writeSync(outFd, bytes, 0, at, (position / block) * sealed);
		}
	}

	if (outFd !== -1) fs.closeSync(outFd);
	fs.closeSync(fd);
}

function threaded(work, threads) {
	const size = fs.statSync(work.file).size;
	const each = Math.ceil(size / threads / block) * block;
	if (work.out) {
		fs.writeFileSync(work.out, '');
		fs.truncateSync(work.out, Math.ceil(size / block) * sealed);
	}

	let left = threads;
	for (let index = 0; index < threads; index++) {
		const worker = new Worker(new URL(import.meta.url), {workerData: {...work, start: index * each, end: Math.min(size, (index + 1) * each)}});
		worker.on('exit', () => {
			if (--left === 0 && work.out) {
				const fd = fs.openSync(work.out, 'r');
				fs.fsyncSync(fd);
				fs.closeSync(fd);
			}
		});
	}
}

function stream() {
	const buffer = Buffer.allocUnsafe(block);
	const key = randomBytes(32);
	const nonce = Buffer.alloc(12);
	let counter = 0;
	for (;;) {
		let filled = 0;
		while (filled < block) {
			let read;
			try {
				read = fs.readSync(0, buffer, filled, block - filled, null);
			} catch (error) {
				if (error.code === 'EAGAIN') continue;
				throw error;
			}

			if (read === 0) break;
			filled += read;
		}

		const [cipher, tag] = seal(key, nonce, counter++, buffer.subarray(0, filled));
		fs.writeSync(1, cipher);
		fs.writeSync(1, tag);
		if (filled < block) break;
	}
}

function syncDirectory(directory) {
	const fd = fs.openSync(directory, 'r');
	fs.fsyncSync(fd);
	fs.closeSync(fd);
}

function batch(directory, outDirectory, recipient) {
	const theirs = Buffer.from(bech32.decodeToBytes(recipient).bytes);
	const publicKey = createPublicKey({key: {kty: 'OKP', crv: 'X25519', x: theirs.toString('base64url')}, format: 'jwk'});
	fs.mkdirSync(outDirectory, {recursive: true});
	for (const name of fs.readdirSync(directory)) {
		const plain = fs.readFileSync(path.join(directory, name));
		const ephemeral = generateKeyPairSync('x25519');
		const ours = Buffer.from(ephemeral.publicKey.export({format: 'jwk'}).x, 'base64url');
		const secret = diffieHellman({privateKey: ephemeral.privateKey, publicKey});
		const wrapKey = Buffer.from(hkdfSync('sha256', secret, Buffer.concat([ours, theirs]), 'age-encryption.org/v1/X25519', 32));
		const fileKey = randomBytes(16);
		const [body, tag] = seal(wrapKey, Buffer.alloc(12), 0, fileKey);
		const header = `age-encryption.org/v1\n-> X25519 ${ours.toString('base64').replace(/=+$/, '')}\n${Buffer.concat([body, tag]).toString('base64').replace(/=+$/, '')}\n---`;
		const mac = createHmac('sha256', Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32))).update(header).digest();
		const streamNonce = randomBytes(16);
		const payloadKey = Buffer.from(hkdfSync('sha256', fileKey, streamNonce, 'payload', 32));
		const parts = [Buffer.from(`${header} ${mac.toString('base64').replace(/=+$/, '')}\n`), streamNonce];
		const nonce = Buffer.alloc(12);
		for (let offset = 0, counter = 0; offset < plain.length || counter === 0; offset += block, counter++) {
			const last = offset + block >= plain.length;
			nonce[11] = last ? 1 : 0;
			parts.push(...seal(payloadKey, nonce, counter, plain.subarray(offset, offset + block)));
		}

		const final = path.join(outDirectory, `${name}.age`);
		const temporary = `${final}.partial`;
		const fd = fs.openSync(temporary, 'wx', 0o644);
		fs.writeSync(fd, Buffer.concat(parts));
		fs.fsyncSync(fd);
		fs.closeSync(fd);
		fs.renameSync(temporary, final);
		syncDirectory(outDirectory);
	}
}

if (!isMainThread) {
	await share(workerData);
} else {
	const [mode, ...args] = process.argv.slice(2);
	const cores = os.availableParallelism();
	if (mode === 'read') threaded({file: args[0]}, Number(args[1] ?? cores));
	else if (mode === 'tags') threaded({file: args[0], tags: true}, Number(args[1] ?? cores));
	else if (mode === 'tags-sha256') threaded({file: args[0], tags: true, sha256: true}, Number(args[1] ?? cores));
	else if (mode === 'write') threaded({file: args[0], out: args[1]}, Number(args[2] ?? cores));
	else if (mode === 'xxh3') threaded({file: args[0], out: args[1], hash: true}, Number(args[2] ?? cores));
	else if (mode === 'idle') for (let index = 0; index < Number(args[0] ?? cores); index++) new Worker('setTimeout(() => {}, 300)', {eval: true});
	else if (mode === 'stream') stream();
	else if (mode === 'batch') batch(args[0], args[1], args[2]);
	else throw new Error('usage: floors.mjs read FILE [THREADS] | tags FILE [THREADS] | tags-sha256 FILE [THREADS] | write FILE OUT [THREADS] | xxh3 FILE OUT [THREADS] | idle [THREADS] | stream | batch DIR OUTDIR RECIPIENT');
}
