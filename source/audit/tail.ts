/**
 * `AuditTail` follows audit logs (paths or globs) and turns their lines back into the `CageEvent`s
 * the runner emitted, so a watcher reduces and renders them exactly like a live job.
 *
 * - Only appended bytes are read: each file keeps a byte offset and the bytes of a partial last
 *   line, which waits for its newline. A line that grows past `maxLineBytes` is no audit line: it
 *   is reported once and its bytes are dropped up to its newline, so memory stays bounded.
 * - Truncation (copy-truncate: the file is now smaller than the offset) restarts the file at 0.
 *   Rotation (the path now names another inode) drains the old descriptor first, then follows the
 *   new file from 0. The old descriptor stays open for `retireMs` and is drained again, so lines a
 *   slower writer appended to the renamed file are not lost; a rotated file that itself matches a
 *   pattern (`audit.jsonl*`) is recognised by its inode and continues from its offset.
 * - Every line is validated (`AuditLineReader`: `parseAuditLine`'s checks, on cage's own lines
 *   straight from the bytes) and sequence-checked per job, and a chunk id must
 *   fall within the plan its job announced (job:start, a batch's item:start). Malformed lines,
 *   unknown versions, seq gaps and out-of-order lines become `anomaly` events naming the file, the
 *   line and the job; the tail never throws on bad input, and a line `onEvent` throws on is
 *   reported and skipped like a malformed one, so the lines after it (in the same read too) still
 *   arrive.
 * - Those anomalies are the tail's own events, under the job `audit-tail` with a sequence of its
 *   own. A job's seq counts the events the job wrote; an anomaly the tail slipped in under the job
 *   would have to repeat one of its numbers (`#35 warn audit-malformed-line` beside `#35 chunk 14
 *   done`). The message names the job instead: the line's own, or for a line that names none, the
 *   job of the line before it (`after job …`).
 *
 * - A tail that starts at the files' end joins the jobs already running: it reads each file
 *   backwards from its end for the `job:start` of every job whose newest line is recent and that
 *   has not ended, starts the file there, and hands on only those jobs' lines up to where the file
 *   ended. A view then knows their files, size and plan, as if it had watched from their start.
 *
 * chokidar watches the patterns' base directories (inotify on Linux, no polling, no
 * awaitWriteFinish, no atomic-write delay), so an append reaches `onEvent` within milliseconds. A
 * once-a-second sweep re-checks the files as a safety net for events a file system did not report.
 */
import fs from 'node:fs';
import type {FileHandle} from 'node:fs/promises';
import path from 'node:path';
import {watch, type FSWatcher} from 'chokidar';
import type {AnomalyCode, CageEvent, EventSink} from '../chunker/events.js';
import {auditTailJob, type ParsedLine} from './format.js';
import {compilePattern, type FilePattern} from './glob.js';
import {AuditLineReader} from './line-reader.js';

export {auditTailJob};

/** How a tail starts and ends. */
export type AuditTailOptions = {
	/** Receives every validated event and every anomaly, in file order. */
	onEvent: EventSink;
	/** Replay the files' existing lines first (default false: start at their end). */
	fromStart?: boolean;
	/** Keep following after the replay (default true); false reads what is there and ends. */
	follow?: boolean;
	/** Relative patterns resolve against this (default: the working directory). */
	cwd?: string;
	/** The patterns are paths, never globs (a configured log path may hold `[` or `*`). */
	literal?: boolean;
	/**
	 * Only the jobs this accepts: other jobs' lines are skipped unchecked, and the anomalies about
	 * them (or about jobless lines after theirs) are not reported. Default: every job.
	 */
	jobs?: (job: string) => boolean;
	/**
	 * Starting at the end, the jobs joined from their start are those whose newest line is at most
	 * this old (default 10 minutes): a job killed with no `job:done` looks running for ever.
	 */
	runningWithinMs?: number;
	/**
	 * Following, a job that has written no line for this long, is not paused and has not ended is
	 * reported once (a `stall` anomaly of the tail) until its next line: its process may have been
	 * killed, which leaves no `job:done` (default 5 minutes: a running job writes a line at least
	 * every 8 MiB of progress, so only one slower than about 27 KiB/s is reported alive; measured on
	 * this machine's clock, as lines arrive, so the writer's clock does not matter).
	 */
	silentMs?: number;
	/** How long a rotated-away or deleted file is still drained (default 2000 ms). */
	retireMs?: number;
	/** Period of the safety sweep in follow mode (default 1000 ms). */
	sweepMs?: number;
	/**
	 * Called after each block read (1 MiB of lines); reading waits for the promise it returns.
	 * A sink that writes to a slow pipe returns its drain here, so a big replay stays in bounded memory.
	 */
	backpressure?: () => Promise<void> | undefined;
};

type Tracked = {
	handle: FileHandle;
	dev: number;
	ino: number;
	path: string;
	offset: number;
	/** Lines read so far (the number of the last complete line). */
	line: number;
	/** Bytes after the last newline. */
	partial: Buffer;
	/** The line being read passed `maxLineBytes`: it was reported, its bytes are dropped up to its newline. */
	overlong: boolean;
	/** The job of the last valid line, to attribute garbage lines to. */
	lastJob: string | undefined;
	/** In a run of lines that repeat events already read (a copy of a log read before): reported once. */
	repeating: boolean;
	/** Joining running jobs (see `#joinRunning`): up to `untilLine`, only these jobs' lines count. */
	joining?: {jobs: Set<string>; untilLine: number};
};

const newline = 0x0a;
const noBytes = Buffer.alloc(0);
/**
 * The longest line kept while it waits for its newline. An audit line is a few hundred bytes; the
 * longest hold a few paths (PATH_MAX is 4 KiB, JSON escaping at most 6x) and an error message,
 * well under this. Without a bound, a file with no newline (a binary, a log of something else)
 * was kept whole, and copied again on every read: 100 MB took 14 s and 360 MB of memory.
 */
export const maxLineBytes = 1024 * 1024;
/**
 * The block a file is read in. Large, for a replay of a long log (a read is a trip to the thread
 * pool: a million lines in 256 KiB blocks were 600 of them); no larger than `maxLineBytes`, so a
 * line whole within one block is never too long.
 */
const readSize = maxLineBytes;
/**
 * How far back from a file's end a tail looks for the start of running jobs. An hour of one job
 * writes about a megabyte (a line per chunk event, a throughput sample a second).
 */
export const joinScanBytes = 32 * 1024 * 1024;
/** A little over chokidar's 50 ms throttle of `change` events. */
const trailingMs = 60;

/**
 * Read the audit lines of `handle` backwards from `end` (just after a newline), newest first, for
 * at most `joinScanBytes`: `visit` gets each valid event with the offset and number of its line
 * (`lastLine` is the number of the line that ends at `end`), and returns true to stop. False when
 * the file changed under the scan or holds a line too long to be an audit line.
 */
async function scanBackwards(handle: FileHandle, reader: AuditLineReader, end: number, lastLine: number, visit: (event: CageEvent, offset: number, line: number) => boolean): Promise<boolean> {
	const floor = Math.max(0, end - joinScanBytes);
	const block = Buffer.allocUnsafe(readSize);
	// The newline before the one at `at`, or -1 (lastIndexOf counts a negative offset from the end).
	const previousNewline = (data: Buffer, at: number) => (at > 0 ? data.lastIndexOf(newline, at - 1) : -1);
	// `later`: the data read before (it lies after this block), up to and including its first
	// newline: the end of a line that began in this block.
	let later = Buffer.alloc(0);
	let position = end;
	let line = lastLine;
	while (position > floor) {
		const start = Math.max(floor, position - readSize);
		const {bytesRead} = await handle.read(block, 0, position - start, start);
		if (bytesRead !== position - start) return false;
		position = start;
		const data = Buffer.concat([block.subarray(0, bytesRead), later]);
		// `data` ends with a newline. Its lines, from the last: each ends at `at`.
		let at = data.length - 1;
		for (;;) {
			const index = previousNewline(data, at);
			// The first line of the data is whole only at the start of the file.
			if (index === -1 && position > 0) break;
			const parsed = reader.read(data, index + 1, at);
			if (parsed.ok && visit(parsed.event, position + index + 1, line)) return true;
			line--;
			at = index;
			if (index === -1) break;
		}

		later = Buffer.from(data.subarray(0, at + 1));
		if (later.length > maxLineBytes) return false;
	}

	return true;
}

/** Follows audit logs; see the module comment. */
export class AuditTail {
	readonly #patterns: FilePattern[];
	readonly #options: Required<Omit<AuditTailOptions, 'cwd' | 'literal' | 'jobs' | 'backpressure'>> & Pick<AuditTailOptions, 'jobs' | 'backpressure'>;
	readonly #active = new Map<string, Tracked>();
	readonly #retired: Array<{file: Tracked; until: number}> = [];
	/** Per job: the next durable seq expected. */
	readonly #expected = new Map<string, number>();
	/** Per job: the chunks of its current plan, when known (not for a stream, or a log joined mid-job). */
	readonly #plans = new Map<string, number>();
	#pseudoSeq = 0;
	/** Per job not ended: when its last line arrived, whether it is paused, whether its silence was reported. */
	readonly #heard = new Map<string, {at: number; paused: boolean; reported: boolean}>();
	/** Jobs with recent lines in more than one of the files a tail starts with (see `#findSpanning`). */
	readonly #spanning = new Set<string>();
	#watcher: FSWatcher | undefined;
	#sweep: NodeJS.Timeout | undefined;
	readonly #missingBases = new Set<string>();
	#chain: Promise<void> = Promise.resolve();
	readonly #trailing = new Map<string, NodeJS.Timeout>();
	#started = false;
	#closed = false;
	readonly #reader = new AuditLineReader();
	/** The block every drain reads into: drains run one at a time (on `#chain`, or in the no-follow replay). */
	#block: Buffer | undefined;

	constructor(patterns: string[], options: AuditTailOptions) {
		if (patterns.length === 0) throw new TypeError('AuditTail needs at least one file or pattern');
		this.#patterns = patterns.map(pattern => compilePattern(pattern, options.cwd, {literal: options.literal}));
		this.#options = {fromStart: false, follow: true, runningWithinMs: 10 * 60_000, silentMs: 5 * 60_000, retireMs: 2000, sweepMs: 1000, ...options};
	}

	/** The files being followed now. */
	get files(): string[] {
		return [...this.#active.keys()];
	}

	/**
	 * Read the files that match now (from the start or from their end) and, in follow mode, start
	 * watching. Resolves when the replay is done; without follow, the tail is finished then.
	 */
	async start(): Promise<void> {
		if (this.#started) throw new Error('AuditTail already started');
		this.#started = true;
		const initialAt = this.#options.fromStart ? 'start' : 'end';
		if (!this.#options.follow) {
			await this.#scan(() => initialAt);
			for (const file of this.#active.values()) {
				if (file.partial.length > 0) this.#report('audit-malformed-line', file, file.line + 1, 'incomplete last line (no newline at the end of the file)');
			}

			await this.#closeAll();
			return;
		}

		// Files that exist before the watch begins start at `initialAt`; any file found later (even
		// during the first scan) was created since, so all its lines are new: it starts at 0.
		const initial = new Set(await this.#list());
		const bases = [...new Set(this.#patterns.map(pattern => pattern.base))];
		const present = bases.filter(base => isDirectory(base));
		for (const base of bases) if (!present.includes(base)) this.#missingBases.add(base);
		const watcher = watch(present, {
			ignoreInitial: true,
			persistent: true,
			awaitWriteFinish: false,
			atomic: false,
			usePolling: false,
			followSymlinks: true,
			ignored: (file: string) => this.#ignored(file),
		});
		this.#watcher = watcher;
		watcher.on('add', file => this.#nudge(file));
		watcher.on('change', file => this.#nudge(file));
		watcher.on('unlink', file => this.#enqueue(() => this.#unlinked(file)));
		watcher.on('error', error => this.#reportIo(error instanceof Error ? error.message : String(error)));
		if (present.length > 0) await new Promise<void>(resolve => watcher.once('ready', () => resolve()));
		// Events that arrive during the scan queue behind it: an `add` of a file the scan opened is
		// then a no-op (same inode), a `change` reads from the scanned offset.
		this.#enqueue(async () => {
			if (initialAt === 'end' && initial.size > 1) await this.#findSpanning([...initial]);
			await this.#scan(file => (initial.has(file) ? initialAt : 0));
		});
		this.#sweep = setInterval(() => this.#enqueue(async () => this.#sweepOnce()), this.#options.sweepMs);
		await this.#chain;
	}

	/** Stop watching and close every file. Lines already read have been delivered. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		if (this.#sweep) clearInterval(this.#sweep);
		for (const timer of this.#trailing.values()) clearTimeout(timer);
		this.#trailing.clear();
		await this.#watcher?.close();
		await this.#chain;
		await this.#closeAll();
	}

	#enqueue(task: () => Promise<void>): void {
		this.#chain = this.#chain.then(async () => {
			if (this.#closed) return;
			try {
				await task();
			} catch (error) {
				this.#reportIo(error instanceof Error ? error.message : String(error));
			}
		});
	}

	/**
	 * Read a path now and once more a little later: chokidar drops a `change` that follows another
	 * within 50 ms (it throttles without a trailing event), so lines appended in that window would
	 * otherwise wait for the next append or the sweep.
	 */
	#nudge(file: string): void {
		this.#enqueue(async () => this.#update(file, 0));
		// Restarted on every event: what chokidar drops falls within 50 ms of the last event it emitted.
		clearTimeout(this.#trailing.get(file));
		const timer = setTimeout(() => {
			this.#trailing.delete(file);
			this.#enqueue(async () => this.#update(file, 0));
		}, trailingMs);
		this.#trailing.set(file, timer);
	}

	#matches(file: string): boolean {
		return this.#patterns.some(pattern => pattern.matches(file));
	}

	/** chokidar's filter: keep the bases, their ancestors, matching files, and directories of recursive patterns. */
	#ignored(file: string): boolean {
		const resolved = path.resolve(file);
		for (const pattern of this.#patterns) {
			if (resolved === pattern.base || pattern.base.startsWith(resolved + path.sep) || resolved === path.sep) return false;
			if (pattern.matches(resolved)) return false;
			if (pattern.recursive && resolved.startsWith(pattern.base + path.sep) && isDirectory(resolved)) return false;
		}

		return true;
	}

	/** Every file matching a pattern now. */
	async #list(): Promise<string[]> {
		const found = new Set<string>();
		for (const pattern of this.#patterns) {
			if (pattern.literal) {
				const file = path.join(pattern.base, path.basename(pattern.source));
				if (isFile(file)) found.add(file);
				continue;
			}

			if (!isDirectory(pattern.base)) continue;
			const entries = await fs.promises.readdir(pattern.base, {recursive: pattern.recursive, withFileTypes: true});
			for (const entry of entries) {
				const file = path.join(entry.parentPath, entry.name);
				if ((entry.isFile() || entry.isSymbolicLink()) && pattern.matches(file) && isFile(file)) found.add(file);
			}
		}

		// Rotated files first, oldest (highest suffix) first, so one job's lines replay in order.
		const key = (file: string) => {
			const match = /^(.*)\.(\d+)$/.exec(file);
			return match ? {stem: match[1]!, index: Number(match[2])} : {stem: file, index: 0};
		};

		return [...found].sort((a, b) => {
			const ka = key(a);
			const kb = key(b);
			return ka.stem === kb.stem ? kb.index - ka.index : ka.stem < kb.stem ? -1 : 1;
		});
	}

	/** Open and read every matching file not followed yet; `at` says where each starts. */
	async #scan(at: (file: string) => 'start' | 'end' | 0): Promise<void> {
		for (const file of await this.#list()) {
			if (this.#active.has(file)) continue;
			await this.#update(file, at(file));
		}
	}

	async #sweepOnce(): Promise<void> {
		const now = Date.now();
		for (const [job, heard] of this.#heard) {
			if (heard.paused || heard.reported || now - heard.at < this.#options.silentMs) continue;
			heard.reported = true;
			if (this.#options.jobs && !this.#options.jobs(job)) continue;
			const seconds = Math.round((now - heard.at) / 1000);
			this.#emit({
				type: 'anomaly',
				severity: 'warn',
				code: 'stall',
				message: `job ${job}: no line for ${seconds} s and no end yet: killed (which leaves no job:done), stuck, or slower than a line per ${seconds} s`,
				job: auditTailJob,
				ts: now,
				seq: this.#pseudoSeq++,
			});
		}

		for (const base of [...this.#missingBases]) {
			if (!isDirectory(base)) continue;
			this.#missingBases.delete(base);
			this.#watcher?.add(base);
		}

		// New files (missed events) start at 0: they appeared after the tail started.
		await this.#scan(() => 0);
		for (const file of [...this.#active.keys()]) await this.#update(file, 0);
		for (const entry of [...this.#retired]) {
			await this.#drain(entry.file);
			if (entry.until > now) continue;
			this.#retired.splice(this.#retired.indexOf(entry), 1);
			await entry.file.handle.close().catch(() => undefined);
		}
	}

	/**
	 * Bring one path up to date: follow a rotation or truncation, then read what was appended.
	 * `at` is where a file seen for the first time starts.
	 */
	async #update(file: string, at: 'start' | 'end' | 0): Promise<void> {
		file = path.resolve(file);
		if (this.#closed || !this.#matches(file)) return;
		let stat: fs.Stats;
		try {
			stat = await fs.promises.stat(file);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') return this.#unlinked(file);
			throw error;
		}

		if (!stat.isFile()) return;
		let tracked = this.#active.get(file);
		if (tracked && (tracked.ino !== stat.ino || tracked.dev !== stat.dev)) {
			// Rotated: finish the old file (now under another name) before the new one.
			await this.#drain(tracked);
			this.#active.delete(file);
			this.#retire(tracked);
			tracked = undefined;
		}

		for (const retired of this.#retired) {
			if (retired.file.path === file) await this.#drain(retired.file);
		}

		tracked ??= this.#adopt(file, stat) ?? (await this.#open(file, at));
		if (stat.size < tracked.offset) {
			// Copy-truncate: the writer starts over at 0, with lines the watch has not seen.
			tracked.offset = 0;
			tracked.line = 0;
			tracked.joining = undefined;
			tracked.partial = noBytes;
			tracked.overlong = false;
		}

		await this.#drain(tracked);
	}

	/** A file already followed under another name (renamed by rotation) continues where it was. */
	#adopt(file: string, stat: fs.Stats): Tracked | undefined {
		const same = (candidate: Tracked) => candidate.ino === stat.ino && candidate.dev === stat.dev;
		for (const [name, candidate] of this.#active) {
			if (!same(candidate)) continue;
			this.#active.delete(name);
			candidate.path = file;
			this.#active.set(file, candidate);
			return candidate;
		}

		const index = this.#retired.findIndex(entry => same(entry.file));
		if (index === -1) return undefined;
		const [entry] = this.#retired.splice(index, 1);
		entry!.file.path = file;
		this.#active.set(file, entry!.file);
		return entry!.file;
	}

	async #open(file: string, at: 'start' | 'end' | 0): Promise<Tracked> {
		const handle = await fs.promises.open(file, 'r');
		const stat = await handle.stat();
		const tracked: Tracked = {handle, dev: stat.dev, ino: stat.ino, path: file, offset: 0, line: 0, partial: noBytes, overlong: false, lastJob: undefined, repeating: false};
		if (at === 'end') {
			// Skip complete lines (counting them, for line numbers); a partial last line is read
			// when its newline arrives.
			const buffer = Buffer.allocUnsafe(readSize);
			let position = 0;
			for (;;) {
				const {bytesRead} = await handle.read(buffer, 0, readSize, position);
				if (bytesRead === 0) break;
				for (let index = buffer.indexOf(newline); index !== -1 && index < bytesRead; index = buffer.indexOf(newline, index + 1)) {
					tracked.line++;
					tracked.offset = position + index + 1;
				}

				position += bytesRead;
			}

			await this.#joinRunning(tracked);
		}

		this.#active.set(file, tracked);
		return tracked;
	}

	/**
	 * Move a file opened at its end back to the earliest `job:start` of the jobs still running in
	 * it: read it backwards, block by block, newest line first, until every job whose newest line
	 * is recent and that has not ended (no `job:done` after) has had its start found, and the lines
	 * are older than that. Jobs that started in another file (a rotated-away log) or further back
	 * than `joinScanBytes` are not joined; their lines count from the end as before.
	 */
	async #joinRunning(file: Tracked): Promise<void> {
		const horizon = Date.now() - this.#options.runningWithinMs;
		const seen = new Set<string>();
		const waiting = new Set<string>();
		const starts = new Map<string, {offset: number; line: number}>();
		const whole = await scanBackwards(file.handle, this.#reader, file.offset, file.line, (event, offset, line) => {
			if (!seen.has(event.job)) {
				seen.add(event.job);
				// A job with recent lines in another of the files too (it spans a rotation) is not
				// joined: its lines in the other file would not be handed on, a false gap.
				if (event.ts >= horizon && event.type !== 'job:done' && !this.#spanning.has(event.job)) waiting.add(event.job);
			}

			if (event.type === 'job:done') {
				waiting.delete(event.job);
			} else if (event.type === 'job:start' && waiting.has(event.job)) {
				starts.set(event.job, {offset, line});
				waiting.delete(event.job);
			}

			return event.ts < horizon && waiting.size === 0;
		});
		if (!whole || starts.size === 0) return;
		// The scan went backwards: the start found last is the earliest.
		const first = [...starts.values()].at(-1)!;
		file.joining = {jobs: new Set(starts.keys()), untilLine: file.line};
		file.offset = first.offset;
		file.line = first.line - 1;
	}

	/**
	 * Before joining running jobs in several files (a glob that matches rotated logs too): the jobs
	 * with recent lines in more than one of them, which `#joinRunning` leaves out.
	 */
	async #findSpanning(files: string[]): Promise<void> {
		const horizon = Date.now() - this.#options.runningWithinMs;
		const filesOf = new Map<string, number>();
		for (const file of files) {
			const recent = new Set<string>();
			try {
				const handle = await fs.promises.open(file, 'r');
				try {
					const {size} = await handle.stat();
					// From the end of the last whole line (a partial one has no newline yet).
					const tail = Buffer.allocUnsafe(Math.min(size, readSize));
					const {bytesRead} = await handle.read(tail, 0, tail.length, size - tail.length);
					const last = tail.subarray(0, bytesRead).lastIndexOf(newline);
					if (last === -1) continue;
					await scanBackwards(handle, this.#reader, size - tail.length + last + 1, 0, event => {
						if (event.ts >= horizon) recent.add(event.job);
						return event.ts < horizon;
					});
				} finally {
					await handle.close();
				}
			} catch {
				continue; // Gone or unreadable: the scan proper reports it.
			}

			for (const job of recent) filesOf.set(job, (filesOf.get(job) ?? 0) + 1);
		}

		for (const [job, count] of filesOf) if (count > 1) this.#spanning.add(job);
	}

	#retire(file: Tracked): void {
		if (this.#options.follow) this.#retired.push({file, until: Date.now() + this.#options.retireMs});
		else void file.handle.close().catch(() => undefined);
	}

	async #unlinked(file: string): Promise<void> {
		const tracked = this.#active.get(path.resolve(file));
		if (!tracked) return;
		await this.#drain(tracked);
		this.#active.delete(tracked.path);
		this.#retire(tracked);
	}

	/** Read from the offset to the end, handing each complete line on. */
	async #drain(file: Tracked): Promise<void> {
		this.#block ??= Buffer.allocUnsafe(readSize);
		const buffer = this.#block;
		for (;;) {
			// A long replay stops at the next block once the tail is closed (Ctrl-C, q).
			if (this.#closed) return;
			let bytesRead: number;
			try {
				({bytesRead} = await file.handle.read(buffer, 0, readSize, file.offset));
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code === 'EBADF') return; // Closed meanwhile.
				throw error;
			}

			if (bytesRead === 0) return;
			file.offset += bytesRead;
			// When the lines of this block arrived, for the silence of their jobs.
			const now = Date.now();
			const data = buffer.subarray(0, bytesRead);
			let start = 0;
			for (let index = data.indexOf(newline); index !== -1; index = data.indexOf(newline, start)) {
				const lineStart = start;
				file.line++;
				start = index + 1;
				if (file.overlong) {
					// The end of a line already reported: nothing of it was kept.
					file.overlong = false;
					continue;
				}

				if (file.partial.length === 0) {
					this.#line(file, this.#reader.read(data, lineStart, index), now);
					continue;
				}

				if (file.partial.length + index - lineStart > maxLineBytes) {
					file.partial = noBytes;
					this.#reportOverlong(file, file.line);
					continue;
				}

				const line = Buffer.concat([file.partial, data.subarray(lineStart, index)]);
				file.partial = noBytes;
				this.#line(file, this.#reader.read(line, 0, line.length), now);
			}

			if (start < bytesRead && !file.overlong) {
				if (file.partial.length + bytesRead - start > maxLineBytes) {
					file.partial = noBytes;
					file.overlong = true;
					this.#reportOverlong(file, file.line + 1);
				} else {
					file.partial = Buffer.concat([file.partial, data.subarray(start)]);
				}
			}

			const wait = this.#options.backpressure?.();
			if (wait) await wait;
		}
	}

	/** Check one parsed line's seq and hand the event (or an anomaly) on; `now`: when it was read. */
	#line(file: Tracked, parsed: ParsedLine, now: number): void {
		if (file.joining && file.line > file.joining.untilLine) file.joining = undefined;
		// Before the watch began, only the lines of the jobs it joins count.
		if (file.joining && !(parsed.ok && file.joining.jobs.has(parsed.event.job))) return;
		if (!parsed.ok) {
			const code: AnomalyCode = parsed.problem === 'version' ? 'audit-unknown-version' : 'audit-malformed-line';
			const verb = parsed.problem === 'version' ? 'unknown audit log version' : 'malformed line';
			this.#report(code, file, file.line, `${verb}: ${parsed.reason}; line skipped`, parsed.job, parsed.ts);
			return;
		}

		const {event, version} = parsed;
		file.lastJob = event.job;
		if (this.#options.jobs && !this.#options.jobs(event.job)) return;
		// A chunk past its job's plan would make a watcher size the job's grid by it. Refused like
		// any malformed line: it is a missing event of the job (its seq is not taken).
		const plan = this.#plans.get(event.job);
		if (plan !== undefined && 'chunk' in event && event.type !== 'anomaly' && event.chunk >= plan) {
			this.#report('audit-malformed-line', file, file.line, `malformed line: ${event.type}: chunk ${event.chunk} is outside the job's plan of ${plan} chunk(s); line skipped`, event.job, event.ts);
			return;
		}

		const expected = this.#expected.get(event.job);
		// Every line takes a seq of its own, except a version 1 chunk:progress (see format.ts).
		const numbered = version > 1 || event.type !== 'chunk:progress';
		if (expected !== undefined && event.seq < expected) {
			// A copy of a log read before (copy-and-truncate rotation) repeats every line: one report
			// for the run, not one per line.
			if (!file.repeating) {
				this.#report(
					'audit-sequence-gap',
					file,
					file.line,
					`seq ${event.seq} (${event.type}) after seq ${expected - 1}: out of order or repeated; skipped, with the repeated lines right after it`,
					event.job,
					event.ts,
				);
			}

			file.repeating = true;
			return;
		}

		file.repeating = false;

		if (expected !== undefined && event.seq > expected) {
			const missing = event.seq - expected;
			this.#report(
				'audit-sequence-gap',
				file,
				file.line,
				`seq jumps from ${expected - 1} to ${event.seq} (${event.type}): ${missing} event(s) missing`,
				event.job,
				event.ts,
			);
		}

		this.#expected.set(event.job, numbered ? event.seq + 1 : event.seq);
		if (event.type === 'job:start' || event.type === 'item:start') {
			if (event.chunks > 0) this.#plans.set(event.job, event.chunks);
			else this.#plans.delete(event.job);
		}

		if (event.type === 'job:done') this.#heard.delete(event.job);
		else if (event.job !== auditTailJob) {
			const heard = this.#heard.get(event.job);
			const paused = event.type === 'job:paused' || (event.type !== 'job:resumed' && (heard?.paused ?? false));
			if (heard) {
				heard.at = now;
				heard.paused = paused;
				heard.reported = false;
			} else {
				this.#heard.set(event.job, {at: now, paused, reported: false});
			}
		}
		const failure = this.#emit(event);
		if (failure !== undefined) this.#report('audit-malformed-line', file, file.line, `cannot show this line (${event.type}): ${failure}; line skipped`, event.job, event.ts);
	}

	/**
	 * Hand an event on; what `onEvent` threw, if it did. Nothing may throw out of the tail: a throw
	 * in the middle of a block lost the rest of the block's lines (follow mode), or ended the
	 * whole replay (no-follow).
	 */
	#emit(event: CageEvent): string | undefined {
		try {
			this.#options.onEvent(event);
			return undefined;
		} catch (error) {
			return error instanceof Error ? error.message : String(error);
		}
	}

	/**
	 * Report a line: an anomaly of the `audit-tail` job, with the next number of its own sequence,
	 * naming the file, the line and the job (`job` when the line names one, else the file's last).
	 */
	#report(code: AnomalyCode, file: Tracked, line: number, message: string, job?: string, ts?: number): void {
		const about = job ?? file.lastJob;
		if (about !== undefined && this.#options.jobs && !this.#options.jobs(about)) return;
		const who = job === undefined ? (about === undefined ? '' : `after job ${about}: `) : `job ${job}: `;
		this.#emit({type: 'anomaly', severity: 'warn', code, message: `${file.path}:${line}: ${who}${message}`, job: auditTailJob, ts: ts ?? Date.now(), seq: this.#pseudoSeq++});
	}

	#reportOverlong(file: Tracked, line: number): void {
		this.#report('audit-malformed-line', file, line, `malformed line: longer than ${maxLineBytes / 1024 / 1024} MiB (audit lines are a few KiB), not an audit line; skipped up to its newline`);
	}

	#reportIo(message: string): void {
		this.#emit({type: 'anomaly', severity: 'error', code: 'io-error', message: `audit tail: ${message}`, job: auditTailJob, ts: Date.now(), seq: this.#pseudoSeq++});
	}

	async #closeAll(): Promise<void> {
		const files = [...this.#active.values(), ...this.#retired.map(entry => entry.file)];
		this.#active.clear();
		this.#retired.length = 0;
		await Promise.all(files.map(async file => file.handle.close().catch(() => undefined)));
	}
}

function isDirectory(file: string): boolean {
	try {
		return fs.statSync(file).isDirectory();
	} catch {
		return false;
	}
}

function isFile(file: string): boolean {
	try {
		return fs.statSync(file).isFile();
	} catch {
		return false;
	}
}
