/**
 * An RFC 8259 validator as a byte-level state machine: feed it any slices of the input in order
 * (`scan`), then `finish`. Its whole state is a few numbers plus a stack of one byte per open
 * container, so it can stop at any byte, be serialized into a checkpoint (`toState`) and go on
 * (`fromState`). It allocates nothing per byte; statistics go to a SweepStatistics.
 *
 * Decisions the RFC leaves open: a UTF-8 byte order mark at the start is accepted (anomaly
 * json-bom); an escaped lone surrogate (`"\ud800"`) is accepted, as the RFC's grammar and
 * JSON.parse do, with anomaly json-lone-surrogate; duplicate keys are accepted (json-duplicate-key,
 * compared as written, so `"a"` and `"\u0061"` differ); numbers of any size and precision are valid.
 * Nesting deeper than `maxDepth` is valid with anomaly json-deep-nesting; deeper than
 * `hardDepthLimit` is an error (memory stays bounded).
 *
 * In `jsonl` mode every line is one document: blank lines are skipped, `\r\n` is accepted, a bad
 * line is recorded and the scanner resumes at the next line.
 *
 * A bad line counts as bad and nothing else: the statistics and the fingerprint are those of the
 * good lines. A line's values are counted as they are read, in the statistics themselves (the hot
 * loops stay as they are), and a line found bad is taken back out (#dropLine), which costs only the
 * bad line: its bytes up to the error are scanned again by a second scanner into statistics of
 * their own, subtracted from the counters; what a subtraction cannot undo is restored from the
 * line's start: the deepest level, the largest token, the fingerprint's length (pairs are only ever
 * appended) and whether it is full — four numbers kept at every line start —, and the key summary
 * from a copy made before its first decrement in the line (only a full summary decrements, and
 * then its scan is already slow). A line that runs past the buffer being scanned can no longer be
 * read again: at the end of a scan call its counters, anomalies and key summary are saved and its
 * bytes in that buffer copied (bounded by the buffer, not by the line; a few µs once per scan call
 * that ends inside a line); if it turns out bad, the statistics at its start are the saved ones
 * less that copy scanned again. A saved state (toState) taken inside a line holds the statistics
 * at its start (numbers and hashes, as the rest of it).
 * Kept of a bad line: its error and that error's anomaly (json-syntax-error, json-invalid-utf8, …:
 * they describe the bad bytes, and are how a bad line is reported), its line ending (counted with
 * every line), and a byte order mark before it (json-bom: a property of the file's first bytes).
 * Not kept: the anomalies of its values (json-duplicate-key, json-huge-token, json-lone-surrogate,
 * json-deep-nesting by --max-depth).
 */
import {DuplicateKeys} from './duplicate-keys.js';
import {indexOfNewline, listedLineErrors, mixedLineEndings, noLines, type LineCounts} from './json-lines.js';
import {describeByte, formatPath, type PathSegment, type SweepError} from './scan-errors.js';
import {pathLevels, keyCap, duplicateLevels, duplicateKeysPerObject, hashLevels, G_VALUE, G_ARR_FIRST, G_OBJ_FIRST, G_KEY, G_COLON, G_AFTER, L_NONE, L_STR, L_ESC, L_HEX, L_UTF8, L_NUM, L_LIT, L_SKIP, L_FAILED, L_HIGH, L_HIGH_ESC, L_BOM, N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP, T_OBJ, T_ARR, T_STR, T_NUM, T_TRUE, T_FALSE, literals, valueStart, T_NONE, stringStop, simpleEscape, hexValue, utf8Need, utf8Low, utf8High, fnvOffset, rootHash, arrayHash, decoder, mix, hardDepthLimit, type SweepFormat} from './scanner-codes.js';
import {restoreScanner, restoreTransfer, saveScanner, transferOf, type ScannerState, type ScannerTransfer} from './scanner-state.js';
import {FrequencySketch, type SketchState} from './sketch.js';
import {fingerprintCap, savedCounters, SweepStatistics, type LargestToken, type SavedCounts, type StatisticsState, type SweepAnomalyCode} from './statistics.js';
import {giveTable, releasedTable, takeTable} from './tables.js';

export type {SweepFormat} from './scanner-codes.js';

/** Fingerprint paths by id, for this thread's scanners (see #fingerprintPath). */
const knownPaths = new Map<number, string>();
const knownPathsKept = 4 * fingerprintCap;

/** The validator. Fields are public so the state can be saved; use the methods. */
export class JsonScanner {
	readonly format: SweepFormat;
	/** format === 'jsonl', for the hot paths. */
	readonly jsonl: boolean;
	readonly maxDepth: number;
	readonly hugeToken: number;
	stats = new SweepStatistics();
	/** Absolute offset of the next byte. */
	offset = 0;
	/**
	 * Absolute offset of index 0 of the buffer being scanned. Positions go between the methods as
	 * indices in the buffer, small integers: past 2 GiB an absolute one is a heap number, and was
	 * allocated at every call it was passed to (a new-space collection every few records).
	 */
	base = 0;
	line = 1;
	lineStart = 0;
	g = G_VALUE;
	lex = L_NONE;
	depth = 0;
	stack = new Uint8Array(256);
	readonly indices = new Float64Array(pathLevels);
	readonly hasKey = new Uint8Array(pathLevels);
	/**
	 * Key bytes of each path level (the first keyCap; a key is written in place as it is read, see
	 * #keyRun); length -1 when unknown (a key read before a resume).
	 */
	readonly keys = new Uint8Array(pathLevels * keyCap);
	readonly keyLengths = new Int32Array(pathLevels);
	keyHashes = takeTable(hashLevels);
	pathHashes = takeTable(hashLevels);
	readonly duplicates = new DuplicateKeys(duplicateLevels, duplicateKeysPerObject);
	tokenStart = 0;
	isKey = false;
	keyHash = fnvOffset;
	keyLength = 0;
	/** The bytes of a key being read deeper than pathLevels (shallower ones go to `keys`). */
	readonly keyScratch = new Uint8Array(keyCap);
	numState = 0;
	litIndex = 0;
	litPos = 0;
	hex = 0;
	hexCount = 0;
	/** The \u escape being read follows an escaped high surrogate. */
	hexAfterHigh = false;
	/** The key being read started before a resume: its bytes are not known. */
	keyUnknown = false;
	utf8Need = 0;
	utf8Low = 0;
	utf8High = 0;
	utf8Lead = 0;
	lastCr = -2;
	/** jsonl: the current line has a value (so a newline ends a record). */
	lineHadValue = false;
	readonly counts: LineCounts = noLines();
	/** json: the first error; jsonl: the first error of the first bad line. */
	error: SweepError | null = null;
	/** jsonl: the first `listedLineErrors` bad lines. */
	readonly lineErrors: SweepError[] = [];
	/** jsonl: a scanner that measures the bytes of one line for another (see #dropLine): it records no errors and saves nothing. */
	readonly shadow: boolean;
	/** jsonl: at the start of the current line, what a bad line's statistics cannot be subtracted from (see #rewind). */
	markMaxDepth = 0;
	markLargest: LargestToken = null;
	markFingerprint = 0;
	markFull = false;
	/**
	 * jsonl: the current line began before the buffer being scanned: the counters when the scan call
	 * it began in ended and its bytes in that call ('edge'), or, after a restore, the statistics at
	 * its start ('start').
	 */
	lineSaved: {kind: 'edge'; counts: SavedCounts; head: Uint8Array} | {kind: 'start'; stats: StatisticsState} | null = null;
	/** jsonl: the key summary at the start of the current line, kept before its first decrement in the line. */
	lineSketch: SketchState | null = null;
	/** The buffer being scanned and the absolute offset the call started at (a line that began there can be read again). */
	#buffer: Uint8Array | undefined;
	#callStart = 0;
	#finishing = false;
	#head = new Uint8Array(0);
	#counters: Float64Array | undefined;
	#shadow: JsonScanner | undefined;

	constructor(options: {format: SweepFormat; maxDepth?: number; hugeToken?: number; offset?: number; shadow?: boolean}) {
		this.format = options.format;
		this.jsonl = options.format === 'jsonl';
		this.shadow = options.shadow ?? false;
		this.maxDepth = options.maxDepth ?? 512;
		this.hugeToken = options.hugeToken ?? 0x1000000;
		this.offset = options.offset ?? 0;
		this.base = this.offset;
		this.lineStart = this.offset;
	}

	/** True once a JSON document is known invalid (a JSONL scan always goes on). */
	get failed(): boolean {
		return this.lex === L_FAILED;
	}

	/** Read `buffer[start, end)`, the next bytes of the input. */
	scan(buffer: Uint8Array, start = 0, end = buffer.length): void {
		const base = this.offset - start;
		this.base = base;
		this.#buffer = buffer;
		this.#callStart = this.offset;
		let i = start;
		// Each step runs until the state needs another step: structure and whole tokens go by in the
		// fast steps; the byte-at-a-time states are for what they leave (escapes and UTF-8 cut by the
		// end of a buffer, surrogates, errors) and give the same result as if every byte went there.
		while (i < end) {
			const lex = this.lex;
			if (lex === L_NONE) i = this.#structure(buffer, i, end);
			else if (lex === L_STR) i = this.isKey ? this.#keyRun(buffer, i, end) : this.#stringRun(buffer, i, end);
			else if (lex === L_NUM) i = this.#numberRun(buffer, i, end);
			else if (lex === L_FAILED) break;
			else i = this.#inToken(buffer, i, end);
		}

		this.offset = base + end;
		// A line goes on past this buffer: what is needed to take it back, should it be bad.
		if (this.jsonl && this.lineSaved === null && this.lineStart < this.offset && !this.lineBad && !this.shadow) this.#saveLine(buffer, this.lineStart - base, end);
		this.#buffer = undefined;
	}

	/** jsonl: the line that began at buffer[from] runs on past `end`: save the statistics and copy its bytes. */
	#saveLine(buffer: Uint8Array, from: number, end: number): void {
		const length = end - from;
		if (this.#head.length < length) this.#head = new Uint8Array(Math.max(length, Math.min(2 * this.#head.length, 2 ** 20)));
		const head = this.#head.subarray(0, length);
		head.set(buffer.subarray(from, end));
		this.lineSaved = {kind: 'edge', counts: this.stats.saveCounts((this.#counters ??= new Float64Array(savedCounters))), head};
	}

	/** jsonl: the statistics of buffer[start, end), a line's bytes from its start, at `offset` in the input. */
	#measure(buffer: Uint8Array, start: number, end: number, offset: number): SweepStatistics {
		const shadow = (this.#shadow ??= new JsonScanner({format: 'jsonl', maxDepth: this.maxDepth, hugeToken: this.hugeToken, shadow: true}));
		shadow.offset = shadow.base = shadow.lineStart = offset;
		shadow.g = G_VALUE;
		shadow.lex = L_NONE;
		shadow.depth = 0;
		shadow.lineHadValue = false;
		shadow.lineBad = false;
		shadow.lastCr = -2;
		shadow.keyUnknown = false;
		shadow.hexAfterHigh = false;
		shadow.stats.clearCounts();
		shadow.scan(buffer, start, end);
		return shadow.stats;
	}

	/**
	 * jsonl: the current line is bad (known at index `stop` - 1 of the buffer being scanned): its
	 * statistics are taken back out, before its error is recorded.
	 */
	#dropLine(stop: number): void {
		if (this.shadow) return;
		if (this.lineSaved !== null) {
			this.stats = this.#toLineStart(this.stats);
		} else if (this.#buffer !== undefined && this.lineStart >= this.#callStart && !this.#finishing) {
			// The line began in this buffer (else it would have been saved): read it again.
			this.#rewind(this.stats, this.#measure(this.#buffer, this.lineStart - this.base, stop, this.lineStart));
		}

		this.lineSaved = null;
		this.lineSketch = null;
	}

	/**
	 * jsonl: `stats` (the current ones, or a copy) as they were at the start of the current line,
	 * from what was saved (#saveLine, a restore): put back in place, or new ones.
	 */
	#toLineStart(stats: SweepStatistics): SweepStatistics {
		const saved = this.lineSaved!;
		if (saved.kind === 'start') {
			stats.releaseScanTables();
			return SweepStatistics.fromState(saved.stats);
		}

		stats.restoreCounts(saved.counts);
		this.#rewind(stats, this.#measure(saved.head, 0, saved.head.length, this.lineStart));
		return stats;
	}

	/**
	 * jsonl: take the statistics `line` measured of the current line's bytes out of `stats`, which
	 * counted them after what they held at the line's start. Counters are subtracted; the deepest
	 * level, the largest token and the fingerprint go back to the line start's (pairs are appended in
	 * order: the line's are the last ones); the key summary is subtracted, or put back from its copy
	 * when it decremented in the line. A byte order mark (a property of the input's start, not of a
	 * line) stays; json-deep-nesting counts only where the line reached past --max-depth first.
	 */
	#rewind(stats: SweepStatistics, line: SweepStatistics): void {
		for (let i = 0; i < stats.types.length; i++) stats.types[i]! -= line.types[i]!;
		// No value of the line is deeper than its deepest level.
		for (let i = Math.min(line.maxDepth, stats.depths.length - 1); i >= 0; i--) stats.depths[i]! -= line.depths[i]!;
		for (let i = 0; i < stats.stringLengths.length; i++) {
			stats.stringLengths[i]! -= line.stringLengths[i]!;
			stats.numberLengths[i]! -= line.numberLengths[i]!;
		}

		stats.keys -= line.keys;
		stats.duplicateKeys -= line.duplicateKeys;
		stats.maxDepth = this.markMaxDepth;
		stats.largest = this.markLargest;
		let changed = stats.fingerprintFull !== this.markFull;
		if (stats.fingerprint.size > this.markFingerprint) {
			let kept = 0;
			for (const id of stats.fingerprint.keys()) if (kept++ >= this.markFingerprint) stats.fingerprint.delete(id);
			changed = true;
		}

		stats.fingerprintFull = this.markFull;
		// Ids settled by the line (present, or absent because it filled the fingerprint) are not any more.
		if (changed) stats.fingerprintSettled.fill(0);
		for (const record of line.anomalies.values()) {
			if (record.code === 'json-bom' || (record.code === 'json-deep-nesting' && this.markMaxDepth > this.maxDepth)) continue;
			const mine = stats.anomalies.get(record.code);
			if (!mine) continue;
			mine.count -= record.count;
			if (mine.count <= 0) stats.anomalies.delete(record.code);
		}

		if (this.lineSketch) {
			stats.sketch.releaseCache();
			stats.sketch = FrequencySketch.fromState(this.lineSketch);
		} else stats.sketch.subtract(line.sketch);
	}

	/** jsonl: the current line starts here, with the statistics as they are. */
	#markLine(stats: SweepStatistics): void {
		this.markMaxDepth = stats.maxDepth;
		this.markLargest = stats.largest;
		this.markFingerprint = stats.fingerprint.size;
		this.markFull = stats.fingerprintFull;
		this.lineSaved = null;
		this.lineSketch = null;
	}

	/** The key summary is full and about to decrement: keep a copy as it was at the line's start (see #rewind). */
	beforeDecrement(): void {
		if (!this.jsonl || this.shadow || this.lineBad || this.lineSaved !== null || this.lineSketch !== null) return;
		// A line that began before this buffer was saved; this one began in it, and so did the key being added.
		if (this.#buffer === undefined || this.lineStart < this.#callStart) return;
		const line = this.#measure(this.#buffer, this.lineStart - this.base, this.tokenStart - this.base, this.lineStart);
		const sketch = FrequencySketch.fromState(this.stats.sketch.toState(true));
		sketch.subtract(line.sketch);
		this.lineSketch = sketch.toState(true);
		sketch.releaseCache();
	}

	/** jsonl, for a saved state: the statistics at the start of the current line when it has begun (null: at a line start, or in a bad line). */
	lineStartState(): StatisticsState | null {
		if (!this.jsonl || this.lineSaved === null || this.lineBad) return null;
		const stats = this.#toLineStart(SweepStatistics.fromState(this.stats.toState(true)));
		const state = stats.toState();
		stats.releaseScanTables();
		return state;
	}

	/** jsonl, after a restore: the current line started with `stats` (the state's own when null: at a line start). */
	restoreLineStart(stats: StatisticsState | null): void {
		this.#markLine(this.stats);
		if (!stats) return;
		this.markMaxDepth = stats.maxDepth;
		this.markLargest = stats.largest;
		this.markFingerprint = stats.fingerprint.length;
		this.markFull = stats.fingerprintFull;
		this.lineSaved = {kind: 'start', stats};
	}

	/** Structural bytes and whitespace (L_NONE), and the tokens that start and end in the buffer. */
	#structure(buffer: Uint8Array, i: number, end: number): number {
		const base = this.base;
		// The tables the loops read, as locals: in the bundled binary a module-level table is a `var` (see scanner-codes.ts).
		const types = valueStart;
		while (i < end) {
			const b = buffer[i]!;
			if (b <= 0x20) {
				if (b === 0x20 || b === 0x09) {
					i++;
					continue;
				}

				if (b === 0x0a) {
					if (this.jsonl) this.#endLine(i, this.lastCr === base + i - 1);
					else {
						this.line++;
						this.lineStart = base + i + 1;
					}

					i++;
					continue;
				}

				if (b === 0x0d) {
					this.lastCr = base + i;
					i++;
					continue;
				}
			}

			const g = this.g;
			if (g === G_AFTER) {
				const depth = this.depth;
				if (b === 0x2c && depth > 0) {
					if (this.stack[depth - 1] === T_OBJ) {
						this.g = G_KEY;
						if (depth <= pathLevels) this.hasKey[depth - 1] = 0;
					} else {
						this.g = G_VALUE;
						if (depth <= pathLevels) this.indices[depth - 1]!++;
					}

					i++;
					continue;
				}

				if ((b === 0x7d || b === 0x5d) && depth > 0 && this.stack[depth - 1] === (b === 0x7d ? T_OBJ : T_ARR)) {
					this.#close();
					i++;
					continue;
				}

				this.#fail(base + i, this.#expected(), describeByte(b), 'json-syntax-error');
				return i;
			}

			if (g === G_COLON) {
				if (b === 0x3a) {
					this.g = G_VALUE;
					i++;
					continue;
				}

				this.#fail(base + i, "':'", describeByte(b), 'json-syntax-error');
				return i;
			}

			if (g === G_OBJ_FIRST || g === G_KEY) {
				if (b === 0x22) {
					this.lex = L_STR;
					this.isKey = true;
					this.keyUnknown = false;
					this.keyHash = fnvOffset;
					this.keyLength = 0;
					this.tokenStart = base + i;
					i = this.#keyRun(buffer, i + 1, end);
					if (this.lex !== L_NONE) return i;
					continue;
				}

				if (b === 0x7d && g === G_OBJ_FIRST) {
					this.#close();
					i++;
					continue;
				}

				if (b === 0x7d) this.#fail(base + i, 'a key (a string) after \',\'', "'}' (a trailing comma)", 'json-trailing-comma');
				else this.#fail(base + i, g === G_OBJ_FIRST ? "a key (a string) or '}'" : 'a key (a string)', describeByte(b), 'json-syntax-error');
				return i;
			}

			// G_VALUE or G_ARR_FIRST: a value starts here (one call site of #value, so it is inlined once).
			const type = types[b]!;
			if (type !== T_NONE) {
				this.#value(type);
				if (type === T_STR) {
					this.lex = L_STR;
					this.isKey = false;
					this.tokenStart = base + i;
					i = this.#stringRun(buffer, i + 1, end);
					if (this.lex !== L_NONE) return i;
					continue;
				}

				if (type === T_NUM) {
					this.lex = L_NUM;
					this.numState = b === 0x2d ? N_MINUS : b === 0x30 ? N_ZERO : N_INT;
					this.tokenStart = base + i;
					i = this.#numberRun(buffer, i + 1, end);
					if (this.lex !== L_NONE) return i;
					continue;
				}

				if (type <= T_ARR) {
					if (!this.#open(type, i)) return i;
					i++;
					continue;
				}

				const index = type - T_TRUE;
				const literal = literals[index]!;
				const length = literal.length;
				this.litIndex = index;
				// The whole literal in the buffer: compared at once.
				if (i + length <= end && buffer[i + 1] === literal[1] && buffer[i + 2] === literal[2] && buffer[i + 3] === literal[3] && (length === 4 || buffer[i + 4] === literal[4])) {
					this.litPos = length;
					this.#valueEnd();
					i += length;
					continue;
				}

				this.lex = L_LIT;
				this.litPos = 1;
				return i + 1;
			}

			if (b === 0x5d && g === G_ARR_FIRST) {
				this.#close();
				i++;
				continue;
			}

			if (base + i === 0 && b === 0xef) {
				this.lex = L_BOM;
				this.litPos = 1;
				return i + 1;
			}

			if (b === 0x5d && g === G_VALUE && this.depth > 0 && this.stack[this.depth - 1] === T_ARR) {
				this.#fail(base + i, "a value after ','", "']' (a trailing comma)", 'json-trailing-comma');
			} else if (b === 0x4e || b === 0x49) {
				this.#fail(base + i, 'a value', b === 0x4e ? "'N' (NaN is not JSON)" : "'I' (Infinity is not JSON)", 'json-nan-infinity');
			} else {
				this.#fail(base + i, g === G_ARR_FIRST ? "a value or ']'" : 'a value', describeByte(b), 'json-syntax-error');
			}

			return i;
		}

		return i;
	}

	/**
	 * A string's bytes (L_STR, not a key): runs of plain bytes, escapes and UTF-8 sequences that are
	 * whole in the buffer, to the closing quote (then L_NONE). Returns where it stopped: the end of
	 * the buffer, the byte after the string, or a byte for #stringStop (still L_STR).
	 */
	#stringRun(buffer: Uint8Array, i: number, end: number): number {
		// The tables, as locals (see #structure).
		const stops = stringStop;
		const escapes = simpleEscape;
		const hexes = hexValue;
		const leads = utf8Need;
		const lows = utf8Low;
		const highs = utf8High;
		while (i < end) {
			let b = buffer[i]!;
			if (stops[b] === 0) {
				i++;
				while (i < end) {
					b = buffer[i]!;
					if (stops[b] !== 0) break;
					i++;
				}

				if (i === end) return i;
			}

			if (b === 0x22) {
				this.lex = L_NONE;
				this.#stringValueEnd(i + 1);
				return i + 1;
			}

			if (b === 0x5c) {
				if (i + 1 < end) {
					const e = buffer[i + 1]!;
					if (escapes[e] !== 0) {
						i += 2;
						continue;
					}

					if (e === 0x75 && i + 5 < end) {
						const unit = (hexes[buffer[i + 2]!]! << 12) | (hexes[buffer[i + 3]!]! << 8) | (hexes[buffer[i + 4]!]! << 4) | hexes[buffer[i + 5]!]!;
						// Not a surrogate, four hex digits (a non-digit's value has bit 16 set).
						if (unit < 0xd800 || (unit > 0xdfff && unit < 0x10000)) {
							this.#hexDone(unit);
							i += 6;
							continue;
						}
					}
				}
			} else if (b >= 0x80) {
				const need = leads[b]!;
				if (need !== 0 && i + need < end) {
					const c = buffer[i + 1]!;
					if (c >= lows[b]! && c <= highs[b]! && (need < 2 || (buffer[i + 2]! & 0xc0) === 0x80) && (need < 3 || (buffer[i + 3]! & 0xc0) === 0x80)) {
						this.#utf8Done(b);
						i += need + 1;
						continue;
					}
				}
			}

			// The byte-at-a-time path.
			const consumed = this.#stringStop(b, i);
			if (consumed) i++;
			return i;
		}

		return i;
	}

	/** #stringRun for a key: its bytes are hashed, and the first keyCap kept. */
	#keyRun(buffer: Uint8Array, i: number, end: number): number {
		let hash = this.keyHash;
		let length = this.keyLength;
		const level = this.depth - 1;
		const scratch = level < pathLevels ? this.keys : this.keyScratch;
		// Written in place: the level's key is not on the path while a new one is read (hasKey is 0).
		const at = level < pathLevels ? level * keyCap : 0;
		const stops = stringStop;
		const escapes = simpleEscape;
		const hexes = hexValue;
		const leads = utf8Need;
		const lows = utf8Low;
		const highs = utf8High;
		while (i < end) {
			let b = buffer[i]!;
			while (stops[b] === 0) {
				hash = Math.imul(hash ^ b, 0x01000193);
				if (length < keyCap) scratch[at + length] = b;
				length++;
				if (++i === end) break;
				b = buffer[i]!;
			}

			if (i === end) break;
			if (b === 0x22) {
				this.keyHash = hash;
				this.keyLength = length;
				this.lex = L_NONE;
				this.#keyEnd(i + 1);
				return i + 1;
			}

			let take = 0;
			if (b === 0x5c) {
				if (i + 1 < end) {
					const e = buffer[i + 1]!;
					if (escapes[e] !== 0) take = 2;
					else if (e === 0x75 && i + 5 < end) {
						const unit = (hexes[buffer[i + 2]!]! << 12) | (hexes[buffer[i + 3]!]! << 8) | (hexes[buffer[i + 4]!]! << 4) | hexes[buffer[i + 5]!]!;
						if (unit < 0xd800 || (unit > 0xdfff && unit < 0x10000)) {
							this.#hexDone(unit);
							take = 6;
						}
					}
				}
			} else if (b >= 0x80) {
				const need = leads[b]!;
				if (need !== 0 && i + need < end) {
					const c = buffer[i + 1]!;
					if (c >= lows[b]! && c <= highs[b]! && (need < 2 || (buffer[i + 2]! & 0xc0) === 0x80) && (need < 3 || (buffer[i + 3]! & 0xc0) === 0x80)) {
						this.#utf8Done(b);
						take = need + 1;
					}
				}
			}

			if (take === 0) {
				this.keyHash = hash;
				this.keyLength = length;
				if (this.#stringStop(b, i)) i++;
				return i;
			}

			for (const stop = i + take; i < stop; i++) {
				const k = buffer[i]!;
				hash = Math.imul(hash ^ k, 0x01000193);
				if (length < keyCap) scratch[at + length] = k;
				length++;
			}
		}

		this.keyHash = hash;
		this.keyLength = length;
		return i;
	}

	/** A stop byte `b` of a string at index `index`, one at a time: true when it was consumed. */
	#stringStop(b: number, index: number): boolean {
		if (b === 0x22) {
			this.lex = L_NONE;
			if (this.isKey) this.#keyEnd(index + 1);
			else this.#stringValueEnd(index + 1);
			return true;
		}

		const at = this.base + index;

		if (this.isKey) this.#keyByte(b);
		if (b === 0x5c) {
			this.lex = L_ESC;
			return true;
		}

		if (b < 0x20) {
			this.#fail(at, "a character of a string (control characters must be escaped)", describeByte(b), 'json-control-character');
			return false;
		}

		// A UTF-8 lead byte.
		if (b >= 0xc2 && b <= 0xdf) this.#utf8(1, 0x80, 0xbf, b);
		else if (b === 0xe0) this.#utf8(2, 0xa0, 0xbf, b);
		else if (b === 0xed) this.#utf8(2, 0x80, 0x9f, b);
		else if (b >= 0xe1 && b <= 0xef) this.#utf8(2, 0x80, 0xbf, b);
		else if (b === 0xf0) this.#utf8(3, 0x90, 0xbf, b);
		else if (b >= 0xf1 && b <= 0xf3) this.#utf8(3, 0x80, 0xbf, b);
		else if (b === 0xf4) this.#utf8(3, 0x80, 0x8f, b);
		else {
			const why = b < 0xc0 ? 'a continuation byte without a lead byte' : b < 0xc2 ? 'an overlong encoding' : 'a code point beyond U+10FFFF';
			this.#fail(at, 'valid UTF-8', `${describeByte(b)} (${why})`, 'json-invalid-utf8');
			return false;
		}

		return true;
	}

	/** The state a whole `\u` escape of `unit` (not a surrogate) leaves, as the byte-at-a-time path leaves it. */
	#hexDone(unit: number): void {
		this.hex = unit;
		this.hexCount = 4;
		this.hexAfterHigh = false;
	}

	/** The state a whole UTF-8 sequence led by `lead` leaves, as the byte-at-a-time path leaves it. */
	#utf8Done(lead: number): void {
		this.utf8Need = 0;
		this.utf8Low = 0x80;
		this.utf8High = 0xbf;
		this.utf8Lead = lead;
	}

	/** A number's bytes (L_NUM): to the byte after it (then L_NONE, that byte not read), the end of the buffer or an error. */
	#numberRun(buffer: Uint8Array, i: number, end: number): number {
		const base = this.base;
		let state = this.numState;
		while (i < end) {
			const b = buffer[i]!;
			if (b >= 0x30 && b <= 0x39) {
				if (state === N_ZERO) {
					this.numState = state;
					this.#fail(base + i, "'.', 'e' or the end of the number (no leading zeros)", describeByte(b), 'json-syntax-error');
					return i;
				}

				if (state === N_MINUS) state = b === 0x30 ? N_ZERO : N_INT;
				else if (state === N_DOT) state = N_FRAC;
				else if (state === N_E || state === N_ESIGN) state = N_EXP;
				i++;
				continue;
			}

			if (b === 0x2e && (state === N_ZERO || state === N_INT)) state = N_DOT;
			else if ((b === 0x65 || b === 0x45) && (state === N_ZERO || state === N_INT || state === N_FRAC)) state = N_E;
			else if ((b === 0x2b || b === 0x2d) && state === N_E) state = N_ESIGN;
			else {
				// Anything else ends the number; it is reread as structure.
				this.numState = state;
				this.#numberEnd(i, b);
				return i;
			}

			i++;
		}

		this.numState = state;
		return i;
	}

	/** The byte-at-a-time states inside a token (escapes, \u digits, surrogates, UTF-8, literals), a bad line's rest and the BOM. */
	#inToken(buffer: Uint8Array, i: number, end: number): number {
		const base = this.base;
		const b = buffer[i]!;
		switch (this.lex) {
			case L_UTF8: {
				if (b < this.utf8Low || b > this.utf8High) {
					let why = 'a truncated UTF-8 sequence';
					if (b >= 0x80 && b <= 0xbf) {
						if (this.utf8Lead === 0xe0 || this.utf8Lead === 0xf0) why = 'an overlong encoding';
						else if (this.utf8Lead === 0xed) why = 'a UTF-16 surrogate encoded in UTF-8';
						else if (this.utf8Lead === 0xf4) why = 'a code point beyond U+10FFFF';
					}

					this.#fail(base + i, 'valid UTF-8', `${describeByte(b)} (${why})`, 'json-invalid-utf8');
					return i;
				}

				if (this.isKey) this.#keyByte(b);
				this.utf8Low = 0x80;
				this.utf8High = 0xbf;
				if (--this.utf8Need === 0) this.lex = L_STR;
				return i + 1;
			}

			case L_ESC:
			case L_HIGH_ESC: {
				if (this.isKey) this.#keyByte(b);
				const high = this.lex === L_HIGH_ESC;
				if (b === 0x75) {
					this.lex = L_HEX;
					this.hex = 0;
					this.hexCount = 0;
					this.hexAfterHigh = high;
					return i + 1;
				}

				if (high) this.#loneSurrogate(base + i);
				if (simpleEscape[b] !== 0) {
					this.lex = L_STR;
					return i + 1;
				}

				this.#fail(base + i, 'an escape (one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)', `\\ then ${describeByte(b)}`, 'json-syntax-error');
				return i;
			}

			case L_HEX: {
				if (this.isKey) this.#keyByte(b);
				const digit = hexValue[b]!;
				if (digit > 0xf) {
					this.#fail(base + i, 'a hex digit of a \\u escape', describeByte(b), 'json-syntax-error');
					return i;
				}

				this.hex = this.hex * 16 + digit;
				i++;
				if (++this.hexCount < 4) return i;
				const unit = this.hex;
				const afterHigh = this.hexAfterHigh;
				this.hexAfterHigh = false;
				if (afterHigh && unit >= 0xdc00 && unit <= 0xdfff) {
					this.lex = L_STR;
					return i;
				}

				if (afterHigh) this.#loneSurrogate(base + i - 6);
				if (unit >= 0xd800 && unit <= 0xdbff) {
					this.lex = L_HIGH;
				} else {
					if (unit >= 0xdc00 && unit <= 0xdfff) this.#loneSurrogate(base + i - 6);
					this.lex = L_STR;
				}

				return i;
			}

			case L_HIGH: {
				if (b === 0x5c) {
					if (this.isKey) this.#keyByte(b);
					this.lex = L_HIGH_ESC;
					return i + 1;
				}

				this.#loneSurrogate(base + i);
				this.lex = L_STR;
				return i;
			}

			case L_LIT: {
				const literal = literals[this.litIndex]!;
				if (b !== literal[this.litPos]) {
					this.#fail(base + i, `'${String.fromCharCode(literal[this.litPos]!)}' (of ${decoder.decode(literal)})`, describeByte(b), 'json-syntax-error');
					return i;
				}

				if (++this.litPos === literal.length) {
					this.lex = L_NONE;
					this.#valueEnd();
				}

				return i + 1;
			}

			case L_SKIP: {
				const newline = indexOfNewline(buffer, i, end);
				if (newline < 0) return end;
				this.lex = L_NONE;
				this.g = G_VALUE;
				this.depth = 0;
				// The newline itself ends the bad line (L_NONE, with lineHadValue set).
				return newline;
			}

			case L_BOM: {
				const want = this.litPos === 1 ? 0xbb : 0xbf;
				if (b !== want) {
					this.#fail(base + i, 'a value', `${describeByte(0xef)} (not UTF-8 JSON)`, 'json-invalid-utf8');
					return i;
				}

				if (++this.litPos === 3) {
					this.lex = L_NONE;
					this.stats.anomaly('json-bom', 0, 1, 'the input starts with a UTF-8 byte order mark (accepted and ignored)');
				}

				return i + 1;
			}

			default:
				// L_FAILED: nothing more to learn.
				return end;
		}
	}

	/** The input ended: settle the last token and line. */
	finish(): void {
		const at = this.offset;
		this.#finishing = true;
		if (this.lex === L_FAILED) return;
		if (this.lex === L_NUM) this.#numberEnd(at - this.base, -1);
		if (this.lex === L_FAILED) return;
		if (this.lex === L_HIGH) {
			this.#loneSurrogate(at);
			this.lex = L_STR;
		}

		if (this.format === 'jsonl') {
			if (this.lex === L_SKIP) {
				this.lex = L_NONE;
				this.g = G_VALUE;
				this.depth = 0;
				this.#endLine(at - this.base, false, true);
			} else if (this.lex === L_NONE && this.g === G_VALUE && this.depth === 0 && !this.lineHadValue) {
				// A final newline (or an empty file): no line left.
				if (at > this.lineStart) this.#endLine(at - this.base, false, true);
			} else this.#endLine(at - this.base, false, true);
			return;
		}

		if (this.lex !== L_NONE) {
			this.#fail(at, this.#inTokenExpected(), 'the end of the input', this.lex === L_UTF8 ? 'json-invalid-utf8' : 'json-syntax-error');
			return;
		}

		if (this.g !== G_AFTER || this.depth > 0) this.#fail(at, this.#expected(), 'the end of the input', 'json-syntax-error');
	}

	/** Read the rest of a line (JSONL chunk edges): scan up to and including the next newline; returns the bytes read. */
	scanToNewline(buffer: Uint8Array, start = 0, end = buffer.length): number {
		const newline = indexOfNewline(buffer, start, end);
		const stop = newline < 0 ? end : newline + 1;
		this.scan(buffer, start, stop);
		return stop - start;
	}

	#inTokenExpected(): string {
		if (this.lex === L_LIT) return `the rest of ${decoder.decode(literals[this.litIndex])}`;
		if (this.lex === L_UTF8) return 'the rest of a UTF-8 sequence';
		return "the rest of the string (a closing '\"')";
	}

	#expected(): string {
		const g = this.g;
		const end = this.format === 'jsonl' ? 'the end of the line' : 'the end of the input';
		if (g === G_AFTER) {
			if (this.depth === 0) return end;
			return this.stack[this.depth - 1] === T_OBJ ? "',' or '}'" : "',' or ']'";
		}

		if (g === G_COLON) return "':'";
		if (g === G_OBJ_FIRST) return "a key (a string) or '}'";
		if (g === G_KEY) return 'a key (a string)';
		if (g === G_ARR_FIRST) return "a value or ']'";
		return 'a value';
	}

	#keyByte(b: number): void {
		this.keyHash = Math.imul(this.keyHash ^ b, 0x01000193);
		const length = this.keyLength;
		if (length < keyCap) {
			const level = this.depth - 1;
			if (level < pathLevels) this.keys[level * keyCap + length] = b;
			else this.keyScratch[length] = b;
		}

		this.keyLength = length + 1;
	}

	#utf8(need: number, low: number, high: number, lead: number): void {
		this.lex = L_UTF8;
		this.utf8Need = need;
		this.utf8Low = low;
		this.utf8High = high;
		this.utf8Lead = lead;
	}

	#loneSurrogate(offset: number): void {
		this.stats.anomaly('json-lone-surrogate', offset, this.line, 'an escaped UTF-16 surrogate without its other half (valid JSON, but not a Unicode string)');
	}

	/** A value of `type` starts at the current depth. */
	#value(type: number): void {
		const stats = this.stats;
		stats.types[type]!++;
		const depth = this.depth;
		stats.depths[depth < 63 ? depth : 63]!++;
		if (depth === 0) {
			if (this.jsonl) this.lineHadValue = true;
			this.pathHashes[0] = rootHash;
			this.#fingerprint(rootHash, type);
			return;
		}

		if (depth >= hashLevels) return;
		// The value's path hash: its container's, then the key or the array marker.
		const hash = mix(this.pathHashes[depth - 1]!, this.stack[depth - 1] === T_OBJ ? this.keyHashes[depth - 1]! : arrayHash);
		this.pathHashes[depth] = hash;
		this.#fingerprint(hash, type);
	}

	/** The (path, type) pair of a value: in the fingerprint if it is new and there is room. */
	#fingerprint(hash: number, type: number): void {
		const fingerprintType = type === T_FALSE ? T_TRUE : type;
		const id = ((hash & 0x7ffffff) << 3) | fingerprintType;
		const settled = this.stats.fingerprintSettled;
		if (settled[id & (settled.length - 1)] !== id + 1) this.#fingerprintMiss(id, fingerprintType);
	}

	#fingerprintMiss(id: number, fingerprintType: number): void {
		const stats = this.stats;
		const settled = stats.fingerprintSettled;
		const slot = id & (settled.length - 1);
		const entry = stats.fingerprint.get(id);
		if (entry) {
			if (entry.path === undefined) {
				const path = this.#fingerprintPath(id);
				if (path !== undefined) entry.path = path;
			}

			if (entry.path !== undefined) settled[slot] = id + 1;
		} else if (stats.fingerprint.size < fingerprintCap) {
			const path = this.#fingerprintPath(id);
			stats.fingerprint.set(id, path === undefined ? {id, type: fingerprintType} : {id, type: fingerprintType, path});
			if (path !== undefined) settled[slot] = id + 1;
		} else {
			stats.fingerprintFull = true;
			settled[slot] = id + 1;
		}
	}

	/**
	 * `$.users[].email` for the value about to start (fingerprint `id`), or undefined when a key is
	 * unknown. Each chunk's scanner meets the same paths again: they are kept by id for this thread
	 * (building one was a third of what a sweep allocated). A path kept is one an earlier chunk of
	 * this thread found for the id, whose own entry comes first when chunks compose, so the report
	 * is the same.
	 */
	#fingerprintPath(id: number): string | undefined {
		const known = knownPaths.get(id);
		if (known !== undefined) return known;
		const path = this.#buildPath();
		if (path !== undefined && knownPaths.size < knownPathsKept) knownPaths.set(id, path);
		return path;
	}

	#buildPath(): string | undefined {
		let text = '$';
		const depth = Math.min(this.depth, pathLevels);
		for (let level = 0; level < depth; level++) {
			if (this.stack[level] === T_ARR) text += '[]';
			else {
				const key = this.#keyAt(level);
				if (key === null) return undefined;
				text += formatPath([{key}]).slice(1);
			}
		}

		return this.depth > pathLevels ? `${text}…` : text;
	}

	#keyAt(level: number): string | null {
		const length = this.keyLengths[level]!;
		if (length < 0) return null;
		const text = decoder.decode(this.keys.subarray(level * keyCap, level * keyCap + Math.min(length, keyCap)));
		return length > keyCap ? `${text}…` : text;
	}

	/** A container of `type` opens at index `index`. */
	#open(type: number, index: number): boolean {
		const depth = this.depth;
		if (depth >= hardDepthLimit) {
			this.#fail(this.base + index, `at most ${hardDepthLimit} levels of nesting (cage's limit)`, describeByte(type === T_OBJ ? 0x7b : 0x5b), 'json-deep-nesting');
			return false;
		}

		if (depth === this.stack.length) {
			const grown = new Uint8Array(Math.min(hardDepthLimit, this.stack.length * 2));
			grown.set(this.stack);
			this.stack = grown;
		}

		this.stack[depth] = type;
		this.depth = depth + 1;
		if (this.depth > this.stats.maxDepth) {
			this.stats.maxDepth = this.depth;
			if (this.depth === this.maxDepth + 1) {
				this.stats.anomaly('json-deep-nesting', this.base + index, this.line, `nesting deeper than ${this.maxDepth} levels (--max-depth)`);
			}
		}

		if (depth < pathLevels) {
			this.indices[depth] = 0;
			this.hasKey[depth] = 0;
			this.keyLengths[depth] = 0;
		}

		if (type === T_OBJ && depth < duplicateLevels) this.duplicates.clear(depth);
		this.g = type === T_OBJ ? G_OBJ_FIRST : G_ARR_FIRST;
		return true;
	}

	#close(): void {
		this.depth--;
		this.#valueEnd();
	}

	/** A value ended: what comes next depends on where it was. */
	#valueEnd(): void {
		this.g = G_AFTER;
	}

	/** A string value ended before index `index`. */
	#stringValueEnd(index: number): void {
		const start = this.tokenStart;
		const bytes = this.base + index - start;
		if (bytes > this.hugeToken) this.#hugeToken(bytes);
		if (this.stats.token(T_STR, bytes)) this.stats.largestAt(T_STR, bytes, start);
		this.g = G_AFTER;
	}

	#hugeToken(bytes: number): void {
		this.stats.anomaly('json-huge-token', this.tokenStart, this.line, `a ${this.isKey ? 'key' : 'string'} of ${bytes} bytes (more than ${this.hugeToken})`);
	}

	/** A key ended before index `index` (its bytes are in place, see #keyRun): duplicates, the path, the sketch. */
	#keyEnd(index: number): void {
		const bytes = this.base + index - this.tokenStart;
		if (bytes > this.hugeToken) this.#hugeToken(bytes);
		const stats = this.stats;
		stats.keys++;
		const level = this.depth - 1;
		// 30 bits: small integers, which Maps and Sets keep without allocating.
		const hash = this.keyHash & 0x3fffffff;
		if (level < duplicateLevels && this.duplicates.seenOrAdd(level, hash)) {
			stats.duplicateKeys++;
			stats.anomaly('json-duplicate-key', this.tokenStart, this.line, 'an object repeats a key (the first such object)');
		}

		if (level < pathLevels) {
			this.keyLengths[level] = this.keyUnknown ? -1 : this.keyLength;
			this.hasKey[level] = 1;
		}

		if (level < hashLevels) this.keyHashes[level] = hash;
		stats.sketch.add(hash, this);
		this.g = G_COLON;
	}

	/** The number ends at index `index`, before `b` (-1: the input ended); false when it was incomplete. */
	#numberEnd(index: number, b: number): boolean {
		const at = this.base + index;
		const state = this.numState;
		if (state === N_ZERO || state === N_INT || state === N_FRAC || state === N_EXP) {
			this.lex = L_NONE;
			const bytes = at - this.tokenStart;
			if (this.stats.token(T_NUM, bytes)) this.stats.largestAt(T_NUM, bytes, this.tokenStart);
			this.#valueEnd();
			return true;
		}

		if (state === N_MINUS && b === 0x49) {
			this.#fail(at, 'a digit', "'I' (-Infinity is not JSON)", 'json-nan-infinity');
			return false;
		}

		this.#fail(at, state === N_E ? 'a digit or a sign of the exponent' : 'a digit', b < 0 ? 'the end of the input' : describeByte(b), 'json-syntax-error');
		return false;
	}

	/** The name of the key just read (the sketch asks when the key enters it). */
	keyName(): string | undefined {
		// A shadow's summary is only subtracted: its keys need no names (decoding them was most of what measuring a bad line cost).
		if (this.keyUnknown || this.shadow) return undefined;
		const length = this.keyLength;
		const level = this.depth - 1;
		const at = level < pathLevels ? level * keyCap : 0;
		const text = decoder.decode((level < pathLevels ? this.keys : this.keyScratch).subarray(at, at + Math.min(length, keyCap)));
		return length > keyCap ? `${text}…` : text;
	}

	/** The path to where the scanner is now. */
	path(): PathSegment[] {
		const path: PathSegment[] = [];
		const depth = Math.min(this.depth, pathLevels);
		for (let level = 0; level < depth; level++) {
			if (this.stack[level] === T_ARR) path.push({index: this.indices[level]!});
			else if (this.hasKey[level]) path.push({key: this.#keyAt(level)});
		}

		return path;
	}

	#fail(offset: number, expected: string, found: string, code: SweepAnomalyCode): void {
		if (this.shadow) {
			this.lineHadValue = false;
			this.lineBad = true;
			this.lex = L_SKIP;
			return;
		}

		if (this.jsonl) this.#dropLine(offset - this.base + 1);
		const error: SweepError = {offset, line: this.line, column: offset - this.lineStart + 1, path: this.path(), expected, found, code};
		this.stats.anomaly(code, offset, this.line, `expected ${expected}, found ${found}`);
		if (this.format === 'json') {
			this.error ??= error;
			this.lex = L_FAILED;
			return;
		}

		// jsonl: the line is bad; skip to its end.
		this.error ??= error;
		if (this.lineErrors.length < listedLineErrors) this.lineErrors.push(error);
		this.counts.bad++;
		this.lineHadValue = false;
		this.lineBad = true;
		this.lex = L_SKIP;
	}

	/** jsonl: whether the current line already counted as bad. */
	lineBad = false;

	/** jsonl: a line ends at index `index` (a newline there, or the end of the input). */
	#endLine(index: number, crlf: boolean, atEnd = false): void {
		// A shadow's scan ends with its line (#measure).
		if (this.shadow) return;
		const at = this.base + index;
		if (!this.lineBad) {
			if (this.lex !== L_NONE || this.depth > 0 || (this.lineHadValue && this.g !== G_AFTER)) {
				this.#dropLine(index + 1);
				const error: SweepError = {
					offset: at,
					line: this.line,
					column: at - this.lineStart + 1,
					path: this.path(),
					expected: this.lex === L_NONE ? this.#expected() : this.#inTokenExpected(),
					found: atEnd ? 'the end of the input' : 'the end of the line',
					code: this.lex === L_UTF8 ? 'json-invalid-utf8' : 'json-syntax-error',
				};
				this.stats.anomaly(error.code, at, this.line, `expected ${error.expected}, found ${error.found}`);
				this.error ??= error;
				if (this.lineErrors.length < listedLineErrors) this.lineErrors.push(error);
				this.counts.bad++;
			} else if (this.lineHadValue) this.counts.records++;
			else this.counts.blank++;
		}

		this.counts.lines++;
		if (!atEnd) {
			const counts = this.counts;
			if (crlf) {
				if (counts.crlf++ === 0) {
					counts.firstCrlf = at;
					counts.firstCrlfLine = this.line;
				}
			} else if (counts.lf++ === 0) {
				counts.firstLf = at;
				counts.firstLfLine = this.line;
			}

			if (counts.crlf > 0 && counts.lf > 0 && !this.stats.anomalies.has('json-mixed-line-endings')) mixedLineEndings(this.stats, counts);
		}

		this.line++;
		this.lineStart = at + 1;
		this.lex = L_NONE;
		this.g = G_VALUE;
		this.depth = 0;
		this.lineHadValue = false;
		this.lineBad = false;
		this.#markLine(this.stats);
	}

	/**
	 * The scan is over and its results taken (a JSON Lines chunk's): its tables go to the next
	 * scanner of this thread (tables.ts). This scanner must not be used again; its statistics,
	 * counts and errors stay valid.
	 */
	release(): void {
		giveTable(this.keyHashes);
		giveTable(this.pathHashes);
		this.keyHashes = this.pathHashes = releasedTable;
		this.stats.releaseScanTables();
		this.#shadow?.release();
		this.#shadow = undefined;
	}

	/** The state, for a checkpoint: no key names or string contents. */
	toState(): ScannerState {
		return saveScanner(this);
	}

	/** A scanner that continues from `state` (keys read before it are unknown: '?' in paths). */
	static fromState(state: ScannerState): JsonScanner {
		return restoreScanner(new JsonScanner({format: state.format, maxDepth: state.maxDepth, hugeToken: state.hugeToken, offset: state.offset}), state);
	}

	/** The whole state for another thread of this process: with key names, unredacted errors, statistics with names. */
	toTransfer(): ScannerTransfer {
		return transferOf(this);
	}

	static fromTransfer(transfer: ScannerTransfer): JsonScanner {
		const {state} = transfer;
		return restoreTransfer(new JsonScanner({format: state.format, maxDepth: state.maxDepth, hugeToken: state.hugeToken, offset: state.offset}), transfer);
	}
}
