/**
 * The scanner's state codes, limits and hashing: what its saved state is made of.
 *
 * The numbers come first, each a plain `export const` of a constant expression, and this module
 * imports nothing: so when the binary is bundled (scripts/bundle.mjs, with esbuild's syntax
 * minification), esbuild writes them into the scanner's code as literals. Bundling turns a
 * module's top-level `const` into `var`, and V8 cannot fold a `var` into the hot loops: the
 * bundled scanner ran about 15% slower than tsc's output. Keep any new number above the tables.
 */

/** The format a scanner reads. */
export type SweepFormat = 'json' | 'jsonl';

/** Nesting beyond this is an error: the stack is one byte per level, so this bounds memory. */
export const hardDepthLimit = 1 << 20;
/** Levels whose keys and indices are kept for error paths and the fingerprint. */
export const pathLevels = 64;
/** Bytes of a key kept for paths and the key report. */
export const keyCap = 64;
/** Levels whose objects are checked for duplicate keys, and keys checked per object. */
export const duplicateLevels = 32;
export const duplicateKeysPerObject = 1024;
/** Levels whose path hashes are kept (fingerprint); deeper values are not fingerprinted. */
export const hashLevels = 1024;

// Grammar states.
export const G_VALUE = 0; // a value (top level, after ':' or after ',' in an array)
export const G_ARR_FIRST = 1; // a value or ']'
export const G_OBJ_FIRST = 2; // a key or '}'
export const G_KEY = 3; // a key (after ',' in an object)
export const G_COLON = 4;
export const G_AFTER = 5; // after a value: ',' or a closer, or the end (top level)
// Lexical states.
export const L_NONE = 0;
export const L_STR = 1;
export const L_ESC = 2;
export const L_HEX = 3;
export const L_UTF8 = 4;
export const L_NUM = 5;
export const L_LIT = 6;
export const L_SKIP = 7; // jsonl: rest of a bad line
export const L_FAILED = 8; // json: stopped at the first error
export const L_HIGH = 9; // just after an escaped high surrogate: a '\' may start its low half
export const L_HIGH_ESC = 10; // '\' after a high surrogate: 'u' continues the pair
export const L_BOM = 11;
// Number states.
export const N_MINUS = 0;
export const N_ZERO = 1;
export const N_INT = 2;
export const N_DOT = 3;
export const N_FRAC = 4;
export const N_E = 5;
export const N_ESIGN = 6;
export const N_EXP = 7;
// Containers and value types (statistics' order).
export const T_OBJ = 0;
export const T_ARR = 1;
export const T_STR = 2;
export const T_NUM = 3;
export const T_TRUE = 4;
export const T_FALSE = 5;
export const T_NULL = 6;

/** Not a value type (valueStart). */
export const T_NONE = 0xff;

/** FNV-1a's offset basis, as the int32 Math.imul works in (so hash fields stay small integers, never doubles). */
export const fnvOffset = 0x811c9dc5 | 0;
export const rootHash = 0x2545f491;
export const arrayHash = 0x5bd1e995;

/** The literals, in the order of their types (T_TRUE, T_FALSE, T_NULL). */
export const literals = [new TextEncoder().encode('true'), new TextEncoder().encode('false'), new TextEncoder().encode('null')];
/** The type of the value a byte starts, or T_NONE. */
export const valueStart = new Uint8Array(256).fill(T_NONE);
valueStart[0x22] = T_STR;
valueStart[0x2d] = T_NUM;
for (let digit = 0x30; digit <= 0x39; digit++) valueStart[digit] = T_NUM;
valueStart[0x7b] = T_OBJ;
valueStart[0x5b] = T_ARR;
valueStart[0x74] = T_TRUE;
valueStart[0x66] = T_FALSE;
valueStart[0x6e] = T_NULL;
/** Bytes that end a run of plain string bytes: '"', '\\', control characters, non-ASCII. */
export const stringStop = new Uint8Array(256);
for (let byte = 0; byte < 256; byte++) stringStop[byte] = byte === 0x22 || byte === 0x5c || byte < 0x20 || byte >= 0x80 ? 1 : 0;
/** The byte after a '\\' that makes a one-byte escape: '"', '\\', '/', b, f, n, r, t. */
export const simpleEscape = new Uint8Array(256);
for (const byte of [0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]) simpleEscape[byte] = 1;
/** A hex digit's value; 0x10000 for any other byte (so four of them shifted together are >= 0x10000). */
export const hexValue = new Int32Array(256).fill(0x10000);
for (let digit = 0; digit < 16; digit++) hexValue[digit.toString(16).charCodeAt(0)] = hexValue[digit.toString(16).toUpperCase().charCodeAt(0)] = digit;
/**
 * UTF-8 lead bytes: how many continuation bytes follow (0: not a lead byte), and the range of the
 * first one (RFC 3629's table: no overlong forms, no surrogates, nothing past U+10FFFF).
 */
export const utf8Need = new Uint8Array(256);
export const utf8Low = new Uint8Array(256);
export const utf8High = new Uint8Array(256);
for (let byte = 0xc2; byte <= 0xf4; byte++) {
	utf8Need[byte] = byte <= 0xdf ? 1 : byte <= 0xef ? 2 : 3;
	utf8Low[byte] = byte === 0xe0 ? 0xa0 : byte === 0xf0 ? 0x90 : 0x80;
	utf8High[byte] = byte === 0xed ? 0x9f : byte === 0xf4 ? 0x8f : 0xbf;
}

export const decoder = new TextDecoder();

/** Combine a parent path hash with a key hash (or the array marker). */
export function mix(parent: number, child: number): number {
	let h = Math.imul(parent ^ child, 0x9e3779b1);
	h ^= h >>> 15;
	return Math.imul(h, 0x85ebca77) & 0x3fffffff;
}
