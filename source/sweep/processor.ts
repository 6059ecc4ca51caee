/**
 * The sweep as a chunk processor. JSON Lines: each chunk owns the lines that start in it (its
 * first partial line belongs to the chunk before, its last line is read to its end past the chunk),
 * is scanned on its own, concurrently with others, and the chunk results are composed in chunk
 * order. One JSON document: with one job, one scanner carried from chunk to chunk, in order; with
 * several, each chunk's unit is scanned speculatively on its own and the units are composed in
 * order (document.ts). Either way the committed prefix's state is small and serializable, which is
 * what the checkpoint keeps.
 */
import {AbortedError, type SharedControl} from '../chunker/control.js';
import type {JobEmitter} from '../chunker/emitter.js';
import type {Chunk} from '../chunker/plan.js';
import type {ChunkContext, ChunkInput, ChunkProcessor, ChunkResult} from '../chunker/processor.js';
import {blocks} from './blocks.js';
import {listedLineErrors, mixedLineEndings, noLines, type LineCounts} from './json-lines.js';
import {redactError, type SweepError} from './scan-errors.js';
import {JsonScanner, type SweepFormat} from './scanner.js';
import type {ScannerState} from './scanner-state.js';
import {sweepAnomalySeverity, SweepStatistics, type StatisticsState} from './statistics.js';
import {DocumentComposer, scanDocumentUnit, type DocumentUnit} from './document.js';
import type {SweepWorkers} from './workers.js';

/** Bytes read per call: bounded, whatever the chunk size. */
export const sweepBlockSize = 2 ** 20;

/** What a sweep found, so far or in the end. */
export type SweepOutcome = {
	format: SweepFormat;
	/** Bytes swept. */
	bytes: number;
	/** json: the first error; jsonl: the first bad line's. */
	error: SweepError | null;
	/** jsonl only. */
	counts: LineCounts | null;
	lineErrors: SweepError[];
	stats: SweepStatistics;
};

/** The committed prefix's state, as a checkpoint stores it (no key names, no contents). */
export type SweepState =
	| {format: 'json'; chunks: number; scanner: ScannerState}
	| {format: 'jsonl'; chunks: number; counts: LineCounts; lineErrors: SweepError[]; error: SweepError | null; stats: StatisticsState};

export type SweepOptions = {
	format: SweepFormat;
	maxDepth: number;
	hugeToken?: number;
	/** json: scan chunks concurrently in speculative units (several jobs), not one after another. */
	parallelDocument?: boolean;
};

type LinesPart = {counts: LineCounts; lineErrors: SweepError[]; error: SweepError | null; stats: SweepStatistics};

/**
 * Scan the lines that start in `chunk` of a JSON Lines input of `size` bytes. Pure but for the
 * reads, so it can run wherever the bytes can be read.
 */
export async function sweepLines(
	read: (buffer: Uint8Array, length: number, position: number) => Promise<number>,
	chunk: Chunk,
	size: number,
	options: SweepOptions,
	ctx: Pick<ChunkContext, 'gate' | 'progress'>,
): Promise<LinesPart> {
	const buffer = blocks.take(Math.min(sweepBlockSize, Math.max(1, size)));
	try {
		return await linesOfChunk(read, buffer, chunk, size, options, ctx);
	} finally {
		blocks.give(buffer);
	}
}

async function linesOfChunk(
	read: (buffer: Uint8Array, length: number, position: number) => Promise<number>,
	buffer: Uint8Array,
	chunk: Chunk,
	size: number,
	options: SweepOptions,
	ctx: Pick<ChunkContext, 'gate' | 'progress'>,
): Promise<LinesPart> {
	let position = chunk.start;
	if (position > 0) {
		// Skip the end of the line the previous chunk owns: lines start after a newline.
		let found = -1;
		for (let at = position - 1; found < 0 && at < size; ) {
			await ctx.gate(0);
			const read_ = await readSome(read, buffer, Math.min(buffer.length, size - at), at);
			const index = buffer.subarray(0, read_).indexOf(0x0a);
			if (index >= 0) found = at + index;
			at += read_;
		}

		position = found < 0 ? size : found + 1;
	}

	const scanner = new JsonScanner({format: 'jsonl', maxDepth: options.maxDepth, offset: position, ...(options.hugeToken ? {hugeToken: options.hugeToken} : {})});
	if (position >= chunk.end) {
		// The chunk holds only the middle of a line that started before it.
		ctx.progress(chunk.size);
		scanner.release();
		return {counts: scanner.counts, lineErrors: [], error: null, stats: scanner.stats};
	}

	let lastByte = -1;
	while (position < chunk.end) {
		const length = Math.min(buffer.length, chunk.end - position);
		await ctx.gate(length);
		const got = await readSome(read, buffer, length, position);
		scanner.scan(buffer, 0, got);
		lastByte = buffer[got - 1]!;
		position += got;
		ctx.progress(position - chunk.start);
	}

	// The last line runs on past the chunk to its newline (or the end of the input).
	while (lastByte !== 0x0a && position < size) {
		const got = await readSome(read, buffer, Math.min(buffer.length, size - position), position);
		const used = scanner.scanToNewline(buffer, 0, got);
		lastByte = buffer[used - 1]!;
		position += used;
	}

	if (position >= size) scanner.finish();
	const part = {counts: scanner.counts, lineErrors: scanner.lineErrors, error: scanner.error, stats: scanner.stats};
	scanner.release();
	return part;
}

async function readSome(read: (buffer: Uint8Array, length: number, position: number) => Promise<number>, buffer: Uint8Array, length: number, position: number): Promise<number> {
	const got = await read(buffer, length, position);
	if (got === 0) throw Object.assign(new Error(`unexpected end of file at byte ${position} (the file shrank while being swept)`), {code: 'ESHRANK'});
	return got;
}

/** Sweeps chunks and composes their results in order. */
export class SweepProcessor implements ChunkProcessor {
	readonly skippable = false;
	readonly sequential: boolean;
	readonly options: SweepOptions;
	readonly #input: ChunkInput;
	readonly #size: number;
	readonly #emitter: JobEmitter | undefined;
	readonly #emitted = new Set<string>();
	/** json: the one scanner; its state after the last processed chunk. */
	#scanner: JsonScanner | undefined;
	/** jsonl: chunk results not yet committed, and the composition of the committed ones. */
	readonly #parts = new Map<number, LinesPart>();
	#lines: LinesPart = {counts: noLines(), lineErrors: [], error: null, stats: new SweepStatistics()};
	/** json: the checkpoint state by committed chunk count (the last few; JSON Lines makes it when asked). */
	readonly #states = new Map<number, SweepState>();
	/** json: scanner states of processed chunks, until they commit. */
	readonly #pending = new Map<number, ScannerState>();
	#committed: number;
	#emptyFinished = false;

	readonly #workers: SweepWorkers | undefined;
	/** json in parallel: the composition of the committed units, the first chunk this run processes, units not yet committed. */
	readonly #composer: DocumentComposer | undefined;
	readonly #firstChunk: number;
	readonly #resumeScanner: ScannerState | undefined;
	readonly #units = new Map<number, DocumentUnit>();
	#control: SharedControl | undefined;
	/** A chunk is being scanned on this thread (see #somewhere). */
	#hereBusy = false;

	/** `workers`: sweep JSON Lines chunks on these threads (they read `input.path` themselves). */
	constructor(input: ChunkInput, size: number, options: SweepOptions, emitter?: JobEmitter, resumeFrom?: SweepState, workers?: SweepWorkers) {
		this.#input = input;
		this.#workers = workers;
		this.#size = size;
		this.options = options;
		this.#emitter = emitter;
		this.sequential = options.format === 'json' && !options.parallelDocument;
		this.#committed = resumeFrom?.chunks ?? 0;
		this.#firstChunk = this.#committed;
		this.#resumeScanner = resumeFrom?.format === 'json' ? resumeFrom.scanner : undefined;
		if (resumeFrom?.format === 'json') this.#scanner = JsonScanner.fromState(resumeFrom.scanner);
		else if (options.format === 'json') this.#scanner = new JsonScanner({format: 'json', maxDepth: options.maxDepth, ...(options.hugeToken ? {hugeToken: options.hugeToken} : {})});
		if (this.#scanner && options.parallelDocument) {
			this.#composer = new DocumentComposer(async (buffer, length, position) => this.#input.read(buffer, 0, length, position), size, options.maxDepth, this.#scanner);
		}

		if (resumeFrom?.format === 'jsonl') {
			this.#lines = {counts: {...resumeFrom.counts}, lineErrors: [...resumeFrom.lineErrors], error: resumeFrom.error, stats: SweepStatistics.fromState(resumeFrom.stats)};
		}

		// What was reported before the resume is not reported again.
		for (const code of this.#stats().anomalies.keys()) this.#emitted.add(code);
		if (options.format === 'json') this.#states.set(this.#committed, this.#state());
	}

	async process(chunk: Chunk, ctx: ChunkContext): Promise<ChunkResult> {
		if (this.options.format === 'jsonl') {
			const part = await this.#somewhere(
				async (workers, file) => workers.run({path: file, chunk, size: this.#size, options: this.options, control: ctx.control.handle}, bytes => ctx.progress(bytes)),
				async () => sweepLines(async (buffer, length, position) => this.#input.read(buffer, 0, length, position), chunk, this.#size, this.options, ctx),
			);
			this.#parts.set(chunk.id, part);
			return {mac: 'none'};
		}

		if (this.#composer) {
			this.#control = ctx.control;
			this.#units.set(chunk.id, await this.#documentUnit(chunk, ctx));
			return {mac: 'none'};
		}

		if (ctx.attempt > 1) {
			// A failed attempt fed part of this chunk to the scanner: go back to where the chunk starts.
			const committed = this.#states.get(chunk.id);
			const before = this.#pending.get(chunk.id - 1) ?? (committed?.format === 'json' ? committed.scanner : undefined);
			if (before) this.#scanner = JsonScanner.fromState(before);
		}

		const scanner = this.#scanner!;
		const buffer = blocks.take(Math.min(sweepBlockSize, Math.max(1, this.#size)));
		try {
			// A state saved by a parallel run can be past the chunk's start (units end inside the next chunk).
			let done = Math.min(chunk.size, Math.max(0, scanner.offset - chunk.start));
			// After the first error there is nothing more to validate: the rest goes by unread.
			while (done < chunk.size && !scanner.failed) {
				const length = Math.min(buffer.length, chunk.size - done);
				await ctx.gate(length);
				const got = await readSome(async (block, size, position) => this.#input.read(block, 0, size, position), buffer, length, chunk.start + done);
				scanner.scan(buffer, 0, got);
				done += got;
				ctx.progress(done);
			}
		} finally {
			blocks.give(buffer);
		}

		ctx.progress(chunk.size);
		if (chunk.end >= this.#size) scanner.finish();
		this.#pending.set(chunk.id, scanner.toState());
		return {mac: 'none'};
	}

	async commit(chunk: Chunk, _result: ChunkResult | null): Promise<void> {
		if (this.#composer) {
			const unit = this.#units.get(chunk.id);
			this.#units.delete(chunk.id);
			await this.#composer.add(unit ?? {kind: 'none'}, chunk.end, async bytes => this.#commitGate(bytes));
			this.#scanner = this.#composer.scanner;
			this.#pending.set(chunk.id, this.#scanner.toState());
		}

		if (this.options.format === 'jsonl') {
			const part = this.#parts.get(chunk.id);
			this.#parts.delete(chunk.id);
			if (part) this.#compose(part);
		}

		this.#committed = chunk.id + 1;
		if (this.options.format === 'json') {
			const state = this.#state(this.#pending.get(chunk.id));
			this.#pending.delete(chunk.id);
			this.#states.set(this.#committed, state);
			for (const count of this.#states.keys()) if (count < this.#committed - 2) this.#states.delete(count);
		}

		this.#report(chunk.id);
	}

	/**
	 * The checkpoint params for `chunksDone` committed chunks. JSON Lines: made when asked, from the
	 * composition (the job asks for the chunks committed so far, at most every 200 ms); one made at
	 * every commit was most of what a sweep kept alive across collections, which grows V8's young
	 * generation. JSON: the scanner may have read on past the committed chunks, so their states are kept.
	 */
	checkpointParams(chunksDone: number): Record<string, unknown> {
		if (this.options.format === 'jsonl') return chunksDone === this.#committed ? {state: this.#state()} : {};
		const state = this.#states.get(chunksDone);
		return state ? {state} : {};
	}

	/** What the committed chunks found. */
	outcome(): SweepOutcome {
		if (this.#scanner) {
			const scanner = this.#scanner;
			// An empty file has no chunk to finish the scan in (and is not a JSON document).
			if (this.#size === 0 && !this.#emptyFinished) {
				this.#emptyFinished = true;
				scanner.finish();
			}

			return {format: 'json', bytes: this.#size, error: scanner.error, counts: null, lineErrors: [], stats: scanner.stats};
		}

		return {format: 'jsonl', bytes: this.#size, ...this.#lines};
	}

	/**
	 * json in parallel: the unit of `chunk` — exact from the known state for the first chunk of the
	 * run, else speculative; none once speculation has mostly failed (the composer then scans the
	 * chunk in order).
	 */
	async #documentUnit(chunk: Chunk, ctx: ChunkContext): Promise<DocumentUnit> {
		const composer = this.#composer!;
		const first = chunk.id === this.#firstChunk;
		if (!first && composer.rescans >= 2 && composer.rescans > composer.speculationsHeld) return {kind: 'none'};
		const task = {chunk, chunkSize: this.#chunkSize(chunk), size: this.#size, options: this.options, from: first ? (this.#resumeScanner ?? ('start' as const)) : ('speculate' as const)};
		return this.#somewhere(
			async (workers, file) => workers.runDocument({...task, path: file, control: ctx.control.handle}, bytes => ctx.progress(bytes)),
			async () => scanDocumentUnit(async (buffer, length, position) => this.#input.read(buffer, 0, length, position), task, ctx.gate, bytes => ctx.progress(bytes)),
		);
	}

	/**
	 * Run a chunk's scan on this thread when it is free, else on a worker thread: with workers this
	 * thread is one of the jobs too (-j 2 starts one worker, not two: each costs 10-20 MiB of
	 * memory). This thread reads a block at a time, so between blocks it still answers the workers,
	 * the dashboard and the commits, which compose in order whichever thread scanned a chunk.
	 */
	async #somewhere<T>(onWorker: (workers: SweepWorkers, file: string) => Promise<T>, here: () => Promise<T>): Promise<T> {
		const workers = this.#workers;
		const file = this.#input.path;
		if (!workers || !file) return here();
		if (this.#hereBusy) return onWorker(workers, file);
		this.#hereBusy = true;
		try {
			return await here();
		} finally {
			this.#hereBusy = false;
		}
	}

	/**
	 * What the composer reads in a commit (rescans, chunks after speculation was given up) keeps to
	 * the rate and waits while paused; once the job is aborted it stops waiting, so the commit ends
	 * consistently and the job stops after it.
	 */
	async #commitGate(bytes: number): Promise<void> {
		const control = this.#control;
		if (!control || control.aborted) return;
		try {
			await control.gate(bytes);
		} catch (error) {
			if (!(error instanceof AbortedError)) throw error;
		}
	}

	/** The job's chunk size, from a chunk (every chunk but the last has it). */
	#chunkSize(chunk: Chunk): number {
		return chunk.id > 0 ? chunk.start / chunk.id : Math.max(1, chunk.size);
	}

	#stats(): SweepStatistics {
		return this.#scanner?.stats ?? this.#lines.stats;
	}

	#compose(part: LinesPart): void {
		const lines = this.#lines;
		const before = lines.counts.lines;
		const shift = (error: SweepError): SweepError => ({...error, line: error.line + before});
		if (!lines.error && part.error) lines.error = shift(part.error);
		for (const error of part.lineErrors) if (lines.lineErrors.length < listedLineErrors) lines.lineErrors.push(shift(error));
		const counts = lines.counts;
		const next = part.counts;
		if (counts.firstCrlf < 0 && next.firstCrlf >= 0) {
			counts.firstCrlf = next.firstCrlf;
			counts.firstCrlfLine = next.firstCrlfLine + before;
		}

		if (counts.firstLf < 0 && next.firstLf >= 0) {
			counts.firstLf = next.firstLf;
			counts.firstLfLine = next.firstLfLine + before;
		}

		for (const key of ['lines', 'records', 'blank', 'bad', 'crlf', 'lf'] as const) counts[key] += next[key];
		// Anomalies keep their first occurrence's line, in the whole file's numbering.
		for (const record of part.stats.anomalies.values()) record.line += before;
		lines.stats.merge(part.stats);
		// A worker's part was rebuilt here with tables of its own; they go to the next chunk's.
		part.stats.releaseScanTables();
		// Where endings first mix is known only with the whole prefix in hand.
		if (counts.crlf > 0 && counts.lf > 0) mixedLineEndings(lines.stats, counts);
		else lines.stats.anomalies.delete('json-mixed-line-endings');
	}

	#state(scanner?: ScannerState): SweepState {
		if (this.options.format === 'json') return {format: 'json', chunks: this.#committed, scanner: scanner ?? this.#scanner!.toState()};
		const lines = this.#lines;
		return {
			format: 'jsonl',
			chunks: this.#committed,
			counts: {...lines.counts},
			lineErrors: lines.lineErrors.map(error => redactError(error)),
			error: lines.error && redactError(lines.error),
			stats: lines.stats.toState(),
		};
	}

	/** Each anomaly code goes out once, as an `anomaly` event, when the chunk that first has it commits. */
	#report(chunk: number): void {
		if (!this.#emitter) return;
		for (const record of this.#stats().anomalies.values()) {
			if (this.#emitted.has(record.code)) continue;
			this.#emitted.add(record.code);
			this.#emitter.send({
				type: 'anomaly',
				severity: sweepAnomalySeverity[record.code],
				code: record.code,
				message: `${record.message} (byte ${record.offset}, line ${record.line})`,
				chunk,
			});
		}
	}
}
