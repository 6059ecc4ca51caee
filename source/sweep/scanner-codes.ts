/** The scanner's state codes, limits and hashing: what its saved state is made of. */

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

export const literals = [new TextEncoder().encode('true'), new TextEncoder().encode('false'), new TextEncoder().encode('null')];
export const literalTypes = [T_TRUE, T_FALSE, T_NULL];
/** Bytes that end a run of plain string bytes: '"', '\\', control characters, non-ASCII. */
export const stringStop = new Uint8Array(256);
for (let byte = 0; byte < 256; byte++) stringStop[byte] = byte === 0x22 || byte === 0x5c || byte < 0x20 || byte >= 0x80 ? 1 : 0;
export const fnvOffset = 0x811c9dc5;
export const rootHash = 0x2545f491;
export const arrayHash = 0x5bd1e995;
export const decoder = new TextDecoder();

/** Combine a parent path hash with a key hash (or the array marker). */
export function mix(parent: number, child: number): number {
	let h = Math.imul(parent ^ child, 0x9e3779b1);
	h ^= h >>> 15;
	return Math.imul(h, 0x85ebca77) & 0x3fffffff;
}
