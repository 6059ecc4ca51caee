/**
 * The stanza lines of an age header, read without a key (`-> TYPE ARGS…`): which recipient types
 * a file is encrypted to, for `cage inspect`, and which SSH keys it names, so that an encrypted
 * SSH key asks for its passphrase before a job starts, and only when the file is for it.
 * The library parses and checks the whole header when it decrypts it; this only reads.
 */
import {AgeFormatError} from './errors.js';
import {headerLength} from './header.js';

/** A stanza's arguments (its type first), without its body. */
export type StanzaLine = {args: string[]};

/**
 * The stanzas of the header at the start of `bytes` and the header's length, or undefined when
 * `bytes` does not hold all of it. Throws AgeFormatError when it cannot be an age header.
 */
export function readHeaderStanzas(bytes: Uint8Array, name: string): {stanzas: StanzaLine[]; length: number} | undefined {
	const length = headerLength(bytes, name);
	if (length === undefined) return undefined;
	const text = Buffer.from(bytes.buffer, bytes.byteOffset, length).toString('latin1');
	const stanzas: StanzaLine[] = [];
	for (const line of text.split('\n').slice(1)) {
		if (line.startsWith('-> ')) {
			const args = line.slice(3).split(' ');
			if (args.some(argument => argument === '')) throw new AgeFormatError(`${name}: invalid age header (an empty stanza argument)`);
			stanzas.push({args});
		}
	}

	if (stanzas.length === 0) throw new AgeFormatError(`${name}: invalid age header (no recipient stanzas)`);
	return {stanzas, length};
}
