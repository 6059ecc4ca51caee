#!/usr/bin/env node
// The stream-json peer of scripts/bench-sweep.mjs: its token parser over FILE (JSON streaming on,
// so JSON Lines parse as a sequence of values), every token taken and dropped. Exit 1 if invalid.
import fs from 'node:fs';
import {pipeline} from 'node:stream/promises';
import {Writable} from 'node:stream';
import {parser} from 'stream-json';

const file = process.argv[2];
let tokens = 0;
try {
	await pipeline(
		fs.createReadStream(file, {highWaterMark: 2 ** 20}),
		parser.asStream({jsonStreaming: true}),
		new Writable({
			objectMode: true,
			write(_token, _encoding, done) {
				tokens++;
				done();
			},
		}),
	);
} catch (error) {
	process.stderr.write(`stream-json: ${error.message}\n`);
	process.exit(1);
}

process.stderr.write(`stream-json: ${tokens} tokens\n`);
