/**
 * `cage backup prune` as a job for the audit log (and `cage watch`): one item per generation
 * removed, said once the journaled prune has done its work (it holds the directory's lock and
 * takes a moment: the events tell what it did, not how it went); orphan files as anomalies.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type {JobEmitter} from '../chunker/emitter.js';
import type {JobOutcome} from '../chunker/events.js';
import {prune, type PruneReport} from './prune.js';
import type {RetentionPolicy} from './retention.js';

export type PruneJobResult = {outcome: JobOutcome; report?: PruneReport; error?: Error};

/** Apply `policy` to `dir`, with the job's events on `emitter`. */
export async function runPruneJob(dir: string, policy: RetentionPolicy, emitter: JobEmitter): Promise<PruneJobResult> {
	const startedAt = Date.now();
	// What the files weigh is known only before they go.
	const sizes = new Map<string, number>();
	for (const name of await fs.readdir(dir).catch(() => [])) {
		const stat = await fs.stat(path.join(dir, name)).catch(() => undefined);
		if (stat?.isFile()) sizes.set(name, stat.size);
	}

	const start = (items: number, size: number | null) =>
		emitter.send({type: 'job:start', kind: 'prune', source: dir, output: null, size, chunkSize: 0, chunks: 0, chunksDone: 0, bytesDone: 0, items, jobs: 1, pid: process.pid, resumed: false});
	let report: PruneReport;
	try {
		report = await prune(dir, policy);
	} catch (error) {
		start(0, null);
		emitter.send({type: 'job:done', outcome: 'failed', bytesDone: 0, durationMs: Date.now() - startedAt, error: (error as Error).message});
		return {outcome: 'failed', error: error as Error};
	}

	const bytes = report.removed.reduce((sum, {generation}) => sum + (sizes.get(generation.file) ?? 0), 0);
	start(report.removed.length, bytes);
	for (const [index, {source, generation, reason}] of report.removed.entries()) {
		const file = path.join(dir, generation.file);
		const size = sizes.get(generation.file) ?? 0;
		emitter.send({type: 'item:start', item: index, items: report.removed.length, path: file, output: null, size, chunkSize: 0, chunks: 0});
		emitter.send({type: 'item:done', item: index, path: file, bytes: size, durationMs: 0});
		emitter.send({type: 'anomaly', severity: 'info', code: 'backup-pruned', message: `${source} generation ${generation.generation} removed (${reason === 'retention' ? 'retention' : reason === 'journal' ? 'finishing an interrupted prune' : 'an interrupted create that cannot be resumed'})`, item: index});
	}

	for (const orphan of report.orphans) {
		emitter.send({type: 'anomaly', severity: orphan.removed ? 'info' : 'warn', code: 'backup-orphan', message: orphan.removed ? `${orphan.file}: the file of a generation the registry had dropped, removed` : `${orphan.file}: not a generation the registry knows; left in place`});
	}

	emitter.send({type: 'job:done', outcome: 'completed', bytesDone: bytes, durationMs: Date.now() - startedAt, itemsDone: report.removed.length, itemsSkipped: 0});
	return {outcome: 'completed', report};
}
