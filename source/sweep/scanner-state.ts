/**
 * A scanner's state outside it: for a checkpoint (numbers, hashes and the container stack; never
 * key names or contents) and, whole, between threads of one process.
 */
import type {JsonScanner} from './scanner.js';
import type {SweepFormat} from './scanner-codes.js';
import {duplicateLevels, hashLevels, L_NONE, pathLevels} from './scanner-codes.js';
import type {LineCounts} from './json-lines.js';
import {redactError, type SweepError} from './scan-errors.js';
import {SweepStatistics, type StatisticsState} from './statistics.js';

/** The serializable scanner state: numbers and the container stack; never key names or contents. */
export type ScannerState = {
	format: SweepFormat;
	maxDepth: number;
	hugeToken: number;
	offset: number;
	line: number;
	lineStart: number;
	g: number;
	lex: number;
	depth: number;
	stack: string;
	indices: number[];
	hasKey: number[];
	keyHashes: number[];
	pathHashes: number[];
	duplicates: number[][];
	tokenStart: number;
	isKey: boolean;
	keyHash: number;
	keyLength: number;
	numState: number;
	litIndex: number;
	litPos: number;
	hex: number;
	hexCount: number;
	hexAfterHigh: boolean;
	lineBad: boolean;
	utf8Need: number;
	utf8Low: number;
	utf8High: number;
	utf8Lead: number;
	lastCr: number;
	lineHadValue: boolean;
	counts: LineCounts;
	error: SweepError | null;
	lineErrors: SweepError[];
	stats: StatisticsState;
	/** jsonl, inside a line: the statistics at its start, to take the line back out should it be bad (absent in states of older builds). */
	lineStartStats?: StatisticsState | null;
};

/** A scanner's whole state between threads of one process (never a checkpoint: it has key names). */
export type ScannerTransfer = {
	state: ScannerState;
	keys: Uint8Array;
	keyLengths: Int32Array;
	keyScratch: Uint8Array;
	keyUnknown: boolean;
	error: SweepError | null;
	stats: StatisticsState;
};

/** The state, for a checkpoint: no key names or string contents. */
export function saveScanner(scanner: JsonScanner): ScannerState {
	const depth = scanner.depth;
	return {
		format: scanner.format,
		maxDepth: scanner.maxDepth,
		hugeToken: scanner.hugeToken,
		offset: scanner.offset,
		line: scanner.line,
		lineStart: scanner.lineStart,
		g: scanner.g,
		lex: scanner.lex,
		depth,
		stack: Buffer.from(scanner.stack.subarray(0, depth)).toString('base64'),
		indices: [...scanner.indices.subarray(0, Math.min(depth, pathLevels))],
		hasKey: [...scanner.hasKey.subarray(0, Math.min(depth, pathLevels))],
		keyHashes: [...scanner.keyHashes.subarray(0, Math.min(depth, hashLevels))],
		pathHashes: [...scanner.pathHashes.subarray(0, Math.min(depth + 1, hashLevels))],
		duplicates: Array.from({length: Math.min(depth, duplicateLevels)}, (_, level) => scanner.duplicates.keys(level)),
		tokenStart: scanner.tokenStart,
		isKey: scanner.isKey,
		keyHash: scanner.keyHash,
		keyLength: scanner.keyLength,
		numState: scanner.numState,
		litIndex: scanner.litIndex,
		litPos: scanner.litPos,
		hex: scanner.hex,
		hexCount: scanner.hexCount,
		hexAfterHigh: scanner.hexAfterHigh,
		lineBad: scanner.lineBad,
		utf8Need: scanner.utf8Need,
		utf8Low: scanner.utf8Low,
		utf8High: scanner.utf8High,
		utf8Lead: scanner.utf8Lead,
		lastCr: scanner.lastCr,
		lineHadValue: scanner.lineHadValue,
		counts: {...scanner.counts},
		error: scanner.error && redactError(scanner.error),
		lineErrors: scanner.lineErrors.map(error => redactError(error)),
		stats: scanner.stats.toState(),
		lineStartStats: scanner.lineStartState(),
	};
}

/** Put `state` into `scanner` (new, made with the state's options): keys read before it are unknown ('?' in paths). */
export function restoreScanner(scanner: JsonScanner, state: ScannerState): JsonScanner {
	Object.assign(scanner, {
		line: state.line,
		lineStart: state.lineStart,
		g: state.g,
		lex: state.lex,
		depth: state.depth,
		tokenStart: state.tokenStart,
		isKey: state.isKey,
		// int32 (a state saved by an older build can hold FNV's offset basis as unsigned).
		keyHash: state.keyHash | 0,
		keyLength: state.keyLength,
		numState: state.numState,
		litIndex: state.litIndex,
		litPos: state.litPos,
		hex: state.hex,
		hexCount: state.hexCount,
		hexAfterHigh: state.hexAfterHigh,
		lineBad: state.lineBad,
		utf8Need: state.utf8Need,
		utf8Low: state.utf8Low,
		utf8High: state.utf8High,
		utf8Lead: state.utf8Lead,
		lastCr: state.lastCr,
		lineHadValue: state.lineHadValue,
		error: state.error,
	});
	const stack = Buffer.from(state.stack, 'base64');
	scanner.stack = new Uint8Array(Math.max(256, 2 ** Math.ceil(Math.log2(Math.max(1, stack.length + 1)))));
	scanner.stack.set(stack);
	scanner.indices.set(state.indices);
	scanner.hasKey.set(state.hasKey);
	scanner.keyLengths.fill(-1, 0, Math.min(state.depth, pathLevels));
	scanner.keyHashes.set(state.keyHashes);
	scanner.pathHashes.set(state.pathHashes);
	state.duplicates.forEach((hashes, level) => {
		scanner.duplicates.clear(level);
		for (const hash of hashes) scanner.duplicates.seenOrAdd(level, hash);
	});
	// A key being read when the checkpoint was taken: its first bytes are not in the state.
	scanner.keyUnknown = state.isKey && state.lex !== L_NONE;
	Object.assign(scanner.counts, state.counts);
	scanner.lineErrors.push(...state.lineErrors);
	scanner.stats = SweepStatistics.fromState(state.stats);
	scanner.restoreLineStart(state.lineStartStats ?? null);
	return scanner;
}

/** The whole state for another thread of this process: with key names, unredacted errors, statistics with names. */
export function transferOf(scanner: JsonScanner): ScannerTransfer {
	return {
		state: saveScanner(scanner),
		keys: scanner.keys.slice(),
		keyLengths: scanner.keyLengths.slice(),
		keyScratch: scanner.keyScratch.slice(),
		keyUnknown: scanner.keyUnknown,
		error: scanner.error,
		stats: scanner.stats.toState(true),
	};
}

/** Put a transfer's whole state into `scanner` (new, made with its options). */
export function restoreTransfer(scanner: JsonScanner, transfer: ScannerTransfer): JsonScanner {
	restoreScanner(scanner, transfer.state);
	scanner.keys.set(transfer.keys);
	scanner.keyLengths.set(transfer.keyLengths);
	scanner.keyScratch.set(transfer.keyScratch);
	scanner.keyUnknown = transfer.keyUnknown;
	scanner.error = transfer.error;
	scanner.stats = SweepStatistics.fromState(transfer.stats);
	scanner.restoreLineStart(transfer.state.lineStartStats ?? null);
	return scanner;
}
