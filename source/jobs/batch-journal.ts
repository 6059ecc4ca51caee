/**
 * Where a batch keeps its state while it runs: the manifest (MANIFEST, written whole and
 * atomically) and beside it a journal (MANIFEST.journal) of what changed since, one JSON line per
 * item change, appended and synced (fdatasync) before the batch goes on. Rewriting the whole
 * manifest at each change cost a batch the square of its size: a save wrote every item's line,
 * twice a file, 0.25 MB a save at 1 000 files, and 10 000 files would have written about 40 GB.
 * A journal line is an item's whole state (status, reason, written), so replaying a line twice
 * changes nothing; the journal is folded into the manifest when it has as many lines as the batch
 * has items (and when a run starts), so what a batch writes grows with its size, not its square.
 *
 * Each line names the batch's job: a journal left by another batch at the same place (started
 * over with --force, or a crash between the manifest's removal and its journal's) is ignored. A
 * crash in the middle of an append leaves a last line without its newline, which is not applied:
 * it was never synced, so the batch had not gone on from it. Any other line that does not parse
 * is damage, and refused. Like the manifest, the journal holds paths, statuses and file
 * identities, never keys, mode 0600.
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {CheckpointError} from '../chunker/checkpoint.js';
import {syncDirectory} from '../io/files.js';
import {writePrivateFile} from '../io/private-file.js';
import type {BatchCheckpoint, BatchItem, BatchItemStatus} from './batch-job.js';

/** The journal beside manifest `file`. */
export function journalPath(file: string): string {
	return `${file}.journal`;
}

/** One journal line: item `i` of batch `job` is now in this state. */
type Entry = {job: string; i: number; status: BatchItemStatus; reason?: string; written?: BatchItem['written']};

const statuses: BatchItemStatus[] = ['pending', 'running', 'done', 'skipped', 'failed'];

/**
 * Apply the journal's text to `manifest` (read from `file`, named in errors) in place: the lines of
 * its job in order, a last line without its newline left out.
 */
export function replayJournal(manifest: BatchCheckpoint, text: string, file: string): void {
	const lines = text.split('\n');
	// The part after the last newline: '' for a whole journal, else an append cut short.
	lines.pop();
	for (const [number, line] of lines.entries()) {
		let entry: Entry;
		try {
			entry = JSON.parse(line) as Entry;
		} catch {
			throw new CheckpointError(`batch journal ${journalPath(file)} is damaged at line ${number + 1}; delete it and the batch checkpoint ${file}, then start the batch again`);
		}

		if (entry.job !== manifest.job) continue;
		const item = manifest.items[entry.i];
		if (!item || !statuses.includes(entry.status)) {
			throw new CheckpointError(`batch journal ${journalPath(file)} line ${number + 1} names no item of the batch; delete it and the batch checkpoint ${file}, then start the batch again`);
		}

		item.status = entry.status;
		if (entry.reason === undefined) delete item.reason;
		else item.reason = entry.reason;
		if (entry.written === undefined) delete item.written;
		else item.written = entry.written;
	}
}

/** The journal's text for `file`, '' when there is none. */
export async function readJournal(file: string): Promise<string> {
	try {
		return await fs.readFile(journalPath(file), 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
		throw new CheckpointError(`batch journal ${journalPath(file)} cannot be read (${(error as Error).message})`);
	}
}

/** A running batch's manifest and journal. */
export class BatchStore {
	readonly #file: string;
	readonly #manifest: BatchCheckpoint;
	readonly #index: Map<BatchItem, number>;
	// The journal's descriptor (O_APPEND), or -1 before the first compaction and after close. Its
	// appends are synchronous: a line and an fdatasync, twice a file, where two trips to libuv's
	// thread pool each cost a batch of small files more than the write.
	#journal = -1;
	#lines = 0;
	// The journal's length after its last whole append.
	#bytes = 0;

	constructor(file: string, manifest: BatchCheckpoint) {
		this.#file = file;
		this.#manifest = manifest;
		this.#index = new Map(manifest.items.map((item, index) => [item, index]));
	}

	/**
	 * Write the whole manifest (atomically), then empty the journal: a crash between the two
	 * leaves the new manifest and the old lines, which replay onto it to the same state.
	 */
	async compact(): Promise<void> {
		await writePrivateFile(this.#file, `${JSON.stringify({...this.#manifest, updatedAt: new Date().toISOString()}, null, '\t')}\n`, {replace: true});
		if (this.#journal === -1) {
			// Appends go at its end whatever was written before (O_APPEND); one writer, under the batch's claim.
			const fd = fsSync.openSync(journalPath(this.#file), 'a', 0o600);
			try {
				fsSync.fchmodSync(fd, 0o600);
				fsSync.ftruncateSync(fd, 0);
				fsSync.fsyncSync(fd);
			} catch (error) {
				fsSync.closeSync(fd);
				throw error;
			}

			this.#journal = fd;
			await syncDirectory(path.dirname(this.#file));
		} else {
			fsSync.ftruncateSync(this.#journal, 0);
		}

		this.#lines = 0;
		this.#bytes = 0;
	}

	/** Record the current state of `items` (a line each, synced once); folds the journal into the manifest when it is long. */
	async record(items: Iterable<BatchItem>): Promise<void> {
		if (this.#journal === -1 || this.#lines >= Math.max(256, this.#manifest.items.length)) {
			await this.compact();
			return;
		}

		let text = '';
		for (const item of items) {
			const entry: Entry = {job: this.#manifest.job, i: this.#index.get(item)!, status: item.status, ...(item.reason === undefined ? {} : {reason: item.reason}), ...(item.written === undefined ? {} : {written: item.written})};
			text += `${JSON.stringify(entry)}\n`;
			this.#lines++;
		}

		if (text === '') return;
		const bytes = Buffer.from(text);
		try {
			// O_APPEND: a short write's rest goes after it.
			for (let done = 0; done < bytes.length; ) done += fsSync.writeSync(this.#journal, bytes, done);
			fsSync.fdatasyncSync(this.#journal);
		} catch (error) {
			// A full disk in the middle of a line: the part written is cut off again, so the next
			// append does not follow half a line (which a resume would take for damage).
			try {
				fsSync.ftruncateSync(this.#journal, this.#bytes);
			} catch {
				// Left as it is: a cut last line is not applied, and the batch stops here.
			}

			throw error;
		}

		this.#bytes += bytes.length;
	}

	async close(): Promise<void> {
		if (this.#journal === -1) return;
		const fd = this.#journal;
		this.#journal = -1;
		fsSync.closeSync(fd);
	}

	/** Remove a finished batch's manifest, then its journal (alone, a journal is ignored). */
	static async remove(file: string): Promise<void> {
		await fs.rm(file, {force: true});
		await fs.rm(journalPath(file), {force: true});
	}
}
