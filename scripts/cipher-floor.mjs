#!/usr/bin/env node
// The floor under `cage verify` and `cage decrypt` on this machine, for the benches: FILE read by
// THREADS worker threads (default: one per core), each its own contiguous share, 1 MiB at a time
// with readSync, and node's ChaCha20-Poly1305 run over every 64 KiB block, one cipher object per
// block as age's STREAM needs (a nonce per block). Sealing costs what opening costs (the same
// ChaCha20 and Poly1305 passes over the same bytes), and needs no key from the file's header.
// Nothing is written and nothing else is done: no CLI, no header, no job, no progress.
//
//   node scripts/cipher-floor.mjs FILE [THREADS]
import {Buffer} from 'node:buffer';
import {createCipheriv, randomBytes} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import {Worker, isMainThread, workerData} from 'node:worker_threads';

const block = 64 * 1024;
if (isMainThread) {
	const [file, threadsArgument] = process.argv.slice(2);
	if (!file) throw new Error('usage: cipher-floor.mjs FILE [THREADS]');
	const threads = Number(threadsArgument ?? os.availableParallelism());
	const size = fs.statSync(file).size;
	const share = Math.ceil(size / threads / block) * block;
	for (let index = 0; index < threads; index++) {
		new Worker(new URL(import.meta.url), {workerData: {file, start: index * share, end: Math.min(size, (index + 1) * share)}});
	}
} else {
	const {file, start, end} = workerData;
	const fd = fs.openSync(file, 'r');
	const buffer = Buffer.allocUnsafe(16 * block);
	const key = randomBytes(32);
	const nonce = Buffer.alloc(12);
	for (let position = start; position < end; position += buffer.length) {
		const length = Math.min(buffer.length, end - position);
		let done = 0;
		while (done < length) done += fs.readSync(fd, buffer, done, length - done, position + done);
		for (let at = 0; at < length; at += block) {
			nonce.writeUInt32BE(at, 8);
			const cipher = createCipheriv('chacha20-poly1305', key, nonce, {authTagLength: 16});
			cipher.update(buffer.subarray(at, Math.min(length, at + block)));
			cipher.final();
			cipher.getAuthTag();
		}
	}

	fs.closeSync(fd);
}
