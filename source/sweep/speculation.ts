/**
 * The guessed start state of a chunk of one JSON document (document.ts): just after a ','
 * between elements of the top-level array. A scan from that guess is exact wherever the real
 * state there is the guess; its relative positions are then moved to the real ones.
 */
import {JsonScanner, type SweepFormat} from './scanner.js';
import {G_VALUE, L_NONE, rootHash, T_ARR} from './scanner-codes.js';
import type {SweepError} from './scan-errors.js';

/** A scanner at `offset` in the guessed state; its lines count from 1 and its element indices from 0. */
export function speculativeScanner(options: {format: SweepFormat; maxDepth?: number; hugeToken?: number; offset: number}): JsonScanner {
	const scanner = new JsonScanner(options);
	scanner.stack[0] = T_ARR;
	scanner.depth = 1;
	scanner.g = G_VALUE;
	scanner.pathHashes[0] = rootHash;
	return scanner;
}

/** Whether `scanner` is where the guess puts a chunk's start (so a speculative scan from here is exact). */
export function atSpeculativeStart(scanner: JsonScanner): boolean {
	return scanner.lex === L_NONE && scanner.g === G_VALUE && scanner.depth === 1 && scanner.stack[0] === T_ARR && scanner.pathHashes[0] === rootHash;
}

/** The top-level array's index now (0 when not in it). */
export function topIndex(scanner: JsonScanner): number {
	return scanner.depth >= 1 ? scanner.indices[0]! : 0;
}

/**
 * Move a speculative scan's relative positions to the real ones: its lines follow `line`, its
 * first line starts at `lineStart`, its top-level indices follow `index`.
 */
export function rebase(scanner: JsonScanner, line: number, lineStart: number, index: number): void {
	const lineDelta = line - 1;
	const shift = (error: SweepError): SweepError => {
		const path = error.path.length > 0 && 'index' in error.path[0]! ? [{index: error.path[0].index + index}, ...error.path.slice(1)] : error.path;
		const column = error.line === 1 ? error.offset - lineStart + 1 : error.column;
		return {...error, line: error.line + lineDelta, column, path};
	};

	if (scanner.error) scanner.error = shift(scanner.error);
	for (const record of scanner.stats.anomalies.values()) record.line += lineDelta;
	if (scanner.line === 1) scanner.lineStart = lineStart;
	scanner.line += lineDelta;
	if (scanner.depth >= 1) scanner.indices[0]! += index;
}
