/**
 * `cage backup verify` as one job: each generation an item, each chunk a cell (a damaged chunk is
 * a failed one), on one pool of worker threads; so it shows on the dashboard, in plain or JSON
 * progress and in the audit log like any job. The findings are recorded at the end.
 */
import path from 'node:path';
import type {DecryptKey} from '../age/engine.js';
import {WorkerPool} from '../age/pool.js';
import {AbortedError, SharedControl} from '../chunker/control.js';
import type {JobEmitter} from '../chunker/emitter.js';
import type {JobControl, JobOutcome} from '../chunker/events.js';
import type {ControlProxy} from '../jobs/control-proxy.js';
import type {GenerationManifest} from './manifest.js';
import type {Generation} from './registry.js';
import {recordFindings, sampleChunks, verifyGeneration, type VerifyFinding} from './verify.js';

export type BackupVerifyTarget = {source: string; generation: Generation; manifest: GenerationManifest | undefined};

export type BackupVerifyResult = {outcome: JobOutcome; findings: VerifyFinding[]; error?: Error};

/** The job's pause and stop, acting on the workers through their shared control. */
function workerControl(control: SharedControl, emitter: JobEmitter): JobControl {
	return {
		get paused() {
			return control.paused;
		},
		pause() {
			if (control.paused) return;
			control.pause();
			emitter.send({type: 'job:paused', bytesDone: 0});
		},
		resume() {
			if (!control.paused) return;
			control.resume();
			emitter.send({type: 'job:resumed', bytesDone: 0});
		},
		skip() {},
		retry() {},
		abort() {
			control.abort();
		},
	};
}

/** Verify `targets` in `dir` (one item each), record what was found, say how it went. */
export async function runBackupVerify(spec: {
	dir: string;
	targets: BackupVerifyTarget[];
	key?: DecryptKey;
	jobs: number;
	rate: number;
	/** Percentage of each generation's chunks to check (`--sample`); all when absent. */
	sample?: number;
	emitter: JobEmitter;
	control: ControlProxy;
	describe: (finding: VerifyFinding) => string;
}): Promise<BackupVerifyResult> {
	const {dir, targets, emitter} = spec;
	const startedAt = Date.now();
	const shared = new SharedControl();
	shared.setRate(spec.rate);
	const control = workerControl(shared, emitter);
	spec.control.attach(control);
	// The chunks each item checks, decided first: the items' sizes are what the progress counts.
	const plans = targets.map(({manifest}) => {
		if (!manifest) return {only: undefined, size: 0};
		const only = spec.sample === undefined ? undefined : sampleChunks(manifest.chunks.length, spec.sample);
		const chunks = only ? only.map(id => manifest.chunks[id]!) : manifest.chunks;
		return {only, size: chunks.reduce((sum, chunk) => sum + chunk.end - chunk.start, 0)};
	});
	emitter.send({
		type: 'job:start',
		kind: 'verify',
		source: dir,
		output: null,
		size: plans.reduce((sum, plan) => sum + plan.size, 0),
		chunkSize: 0,
		chunks: 0,
		chunksDone: 0,
		bytesDone: 0,
		items: targets.length,
		jobs: spec.jobs,
		pid: process.pid,
		resumed: false,
	});
	const pool = new WorkerPool(spec.jobs, shared, {lazy: true});
	const findings: VerifyFinding[] = [];
	let outcome: JobOutcome = 'completed';
	let error: Error | undefined;
	let bytesDone = 0;
	try {
		for (const [index, {source, generation, manifest}] of targets.entries()) {
			const file = path.join(dir, generation.file);
			const {only, size} = plans[index]!;
			emitter.send({type: 'item:start', item: index, items: targets.length, path: file, output: null, size, chunkSize: manifest?.chunkSize ?? 0, chunks: manifest?.chunks.length ?? 0});
			const itemStarted = Date.now();
			let finding: VerifyFinding;
			try {
				finding = await verifyGeneration(dir, source, generation, manifest, {jobs: spec.jobs, pool, events: {emitter, item: index}, ...(spec.key ? {key: spec.key} : {}), ...(only ? {only} : {})});
			} catch (error_) {
				if (error_ instanceof AbortedError || (error_ as Error).name === 'AbortedError') {
					emitter.send({type: 'item:skipped', item: index, path: file, reason: 'interrupted'});
					outcome = 'interrupted';
					break;
				}

				throw error_;
			}

			findings.push(finding);
			if (finding.result === 'ok') {
				bytesDone += size;
				emitter.send({type: 'item:done', item: index, path: file, bytes: size, durationMs: Date.now() - itemStarted});
			} else {
				emitter.send({type: 'item:skipped', item: index, path: file, reason: `${finding.result === 'skipped' ? '' : 'failed: '}${spec.describe(finding)}`});
			}
		}

		await recordFindings(dir, findings);
		const bad = findings.filter(finding => ['damaged', 'missing', 'no-manifest', 'no-key'].includes(finding.result));
		if (outcome === 'completed' && bad.length > 0) {
			outcome = 'failed';
			error = new Error(`${bad.length} of ${targets.length} generation(s) damaged, missing or not verifiable`);
		}
	} catch (error_) {
		outcome = 'failed';
		error = error_ as Error;
	} finally {
		spec.control.detach(control);
		await pool.close();
	}

	emitter.send({type: 'job:done', outcome, bytesDone, durationMs: Date.now() - startedAt, itemsDone: findings.filter(finding => finding.result === 'ok').length, itemsSkipped: 0, ...(error ? {error: error.message} : {})});
	return {outcome, findings, ...(error ? {error} : {})};
}
