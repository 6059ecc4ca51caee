/**
 * Where the dashboard reads keys: stdin when it is a terminal; else the controlling terminal
 * (/dev/tty), so `cat big | cage encrypt …` still takes keys; else nowhere.
 */
import fs from 'node:fs';
import {PassThrough} from 'node:stream';
import tty from 'node:tty';

export type KeyInput = {
	stream: NodeJS.ReadStream;
	/** True when keys can be read (a terminal in raw mode). */
	interactive: boolean;
	/** Release what was opened (the /dev/tty stream); stdin is left alone. */
	close(): void;
};

/** A stream that never yields keys and is not a terminal, so Ink leaves it alone. */
function noKeys(): NodeJS.ReadStream {
	const stream = new PassThrough() as unknown as NodeJS.ReadStream & {isTTY: boolean};
	stream.isTTY = false;
	return stream;
}

/** Open the key input; `ttyPath` is for tests. */
export function openKeyInput(stdin: NodeJS.ReadStream = process.stdin, ttyPath = '/dev/tty'): KeyInput {
	if (stdin.isTTY) return {stream: stdin, interactive: true, close() {}};
	let fd: number | undefined;
	try {
		fd = fs.openSync(ttyPath, 'r');
		if (!tty.isatty(fd)) throw new Error(`${ttyPath} is not a terminal`);
		const stream = new tty.ReadStream(fd);
		return {
			stream,
			interactive: true,
			close() {
				try {
					if (stream.isRaw) stream.setRawMode(false);
				} catch {
					// The terminal may be gone already; nothing to restore then.
				}

				stream.destroy();
			},
		};
	} catch {
		if (fd !== undefined) fs.closeSync(fd);
		return {stream: noKeys(), interactive: false, close() {}};
	}
}
