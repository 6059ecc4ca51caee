/**
 * `cage backup verify` as one job: each generation an item, each chunk a cell (a damaged chunk is
 * a failed one), on one pool of worker threads; so it shows on the dashboard, in plain or JSON
 * progress and in the audit log like any job. It is resumable: its checkpoint (see
 * verify-checkpoint.ts) is saved as chunks are committed, and a run of the same selection, or
 * `cage resume CHECKPOINT`, continues from it. The findings are recorded when the run ends
 * (finished, interrupted or failed: those of the generations it finished).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type {DecryptKey} from '../age/engine.js';
import {WorkerPool} from '../age/pool.js';
import {AbortedError, SharedControl} from '../chunker/control.js';
import {removeStaleTemporaries} from '../chunker/checkpoint.js';
import type {JobEmitter} from '../chunker/emitter.js';
import type {JobControl, JobOutcome} from '../chunker/events.js';
import {describeError} from '../errors.js';
import {claim, claimPath} from '../jobs/claim.js';
import type {ControlProxy} from '../jobs/control-proxy.js';
import {resumeLine, type ResumeArgs} from '../shell-quote.js';
import type {GenerationManifest} from './manifest.js';
import {BackupError, type Generation} from './registry.js';
import {distrust, manifestDigest, readVerifyCheckpoint, sameStamp, stampOf, VerifyCheckpointStore, type VerifyCheckpoint, type VerifyKeyKind, type VerifyTargetProgress} from './verify-checkpoint.js';
import {recordFindings, sampleChunks, verifyGeneration, type VerifyFinding} from './verify.js';

export type BackupVerifyTarget = {source: string; generation: Generation; manifest: GenerationManifest | undefined};

export type BackupVerifyResult = {outcome: JobOutcome; findings: VerifyFinding[]; checkpoint?: string; error?: Error};

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

/** A finding for a generation the registry no longer has (pruned while the verify was interrupted). */
function goneFinding(dir: string, target: {source: string; generation: number}, file: string): VerifyFinding {
	return {source: target.source, generation: target.generation, file: path.join(dir, file), result: 'skipped', chunks: [], bytes: 0, detail: 'no longer in the registry (pruned meanwhile)'};
}

/**
 * The progress an interrupted run left for `target`, when it still holds: the same file (size,
 * times, inode) and the same manifest entry. Otherwise none (with the reason, for an anomaly).
 */
async function progressFor(earlier: VerifyTargetProgress | undefined, file: string, manifest: GenerationManifest | undefined): Promise<{progress?: VerifyTargetProgress; voided?: string}> {
	if (!earlier || (earlier.chunksDone === 0 && !earlier.finding)) return {};
	const stamp = await stampOf(file);
	if (!sameStamp(earlier.stamp, stamp)) return {voided: stamp ? 'its file changed since' : 'its file is gone'};
	if (!manifest || earlier.manifest !== manifestDigest(manifest)) return {voided: 'its manifest changed since'};
	return {progress: earlier};
}

/** Verify `targets` in `dir` (one item each), record what was found, say how it went. */
export async function runBackupVerify(spec: {
	dir: string;
	targets: Array<BackupVerifyTarget | {source: string; generation: number; file: string; gone: true}>;
	key?: DecryptKey;
	/** How `key` was given (what a resume asks for again), and the identity files when it was by them. */
	keyKind: VerifyKeyKind;
	identityFiles?: string[];
	jobs: number;
	rate: number;
	/** Percentage of each generation's chunks to check (`--sample`); all when absent. */
	sample?: number;
	/** Where the checkpoint goes (and where an interrupted run of the same selection left one). */
	checkpointPath: string;
	resumeArgs?: ResumeArgs;
	emitter: JobEmitter;
	control: ControlProxy;
	describe: (finding: VerifyFinding) => string;
}): Promise<BackupVerifyResult> {
	const {checkpointPath} = spec;
	// One run of a selection at a time: a second one would write over the first's checkpoint.
	const held = await claim(claimPath(checkpointPath), writer =>
		new BackupError(
			writer === undefined
				? `another cage process is starting this verify (${checkpointPath}) this very moment; wait a moment and try again`
				: `cage process ${writer} is verifying these generations now (${checkpointPath}); let it finish, or stop it (q, Ctrl-C or kill ${writer}) and run the verify again`,
		),
	);
	let result: BackupVerifyResult;
	let finished = false;
	try {
		await removeStaleTemporaries(checkpointPath);
		({result, finished} = await runClaimed(spec));
	} finally {
		await held.release();
	}

	// The claim goes first, then the checkpoint: a kill between the two leaves a checkpoint that
	// the next run finishes at once, never a lock.
	if (finished) await fs.rm(checkpointPath, {force: true});
	return result;
}

async function runClaimed(spec: Parameters<typeof runBackupVerify>[0]): Promise<{result: BackupVerifyResult; finished: boolean}> {
	const {dir, emitter, checkpointPath} = spec;
	const startedAt = Date.now();
	const shared = new SharedControl();
	shared.setRate(spec.rate);
	const control = workerControl(shared, emitter);
	spec.control.attach(control);
	const notes: string[] = [];

	// What an interrupted run of this selection left, if it can be trusted.
	let earlier: VerifyCheckpoint | undefined;
	try {
		earlier = await readVerifyCheckpoint(checkpointPath);
		const problem = earlier && (await distrust(earlier, checkpointPath));
		if (problem) {
			notes.push(`the interrupted verify's checkpoint is not used (${problem}): every chunk is checked again`);
			earlier = undefined;
		}
	} catch (error) {
		notes.push(`${describeError(error)}: every chunk is checked again`);
		earlier = undefined;
	}

	const earlierOf = new Map((earlier?.targets ?? []).map(target => [`${target.source}\0${target.generation}`, target]));
	const progress: VerifyTargetProgress[] = [];
	for (const target of spec.targets) {
		const number = typeof target.generation === 'number' ? target.generation : target.generation.generation;
		const file = 'gone' in target ? target.file : target.generation.file;
		const manifest = 'gone' in target ? undefined : target.manifest;
		const {progress: kept, voided} = await progressFor(earlierOf.get(`${target.source}\0${number}`), path.join(dir, file), manifest);
		if (voided) notes.push(`${target.source} generation ${number}: ${voided}, so it is checked again from its first chunk`);
		const only = kept ? kept.only : manifest && spec.sample !== undefined ? sampleChunks(manifest.chunks.length, spec.sample) : undefined;
		progress.push(kept ? structuredClone(kept) : {source: target.source, generation: number, chunksDone: 0, damaged: [], ...(only ? {only} : {})});
	}

	const resumed = progress.some(each => each.chunksDone > 0 || each.finding);
	const sizeOf = (index: number) => {
		const target = spec.targets[index]!;
		if ('gone' in target || !target.manifest) return 0;
		const {manifest} = target;
		const ids = progress[index]!.only;
		return (ids ? ids.map(id => manifest.chunks[id]) : manifest.chunks).reduce((sum, chunk) => sum + (chunk ? chunk.end - chunk.start : 0), 0);
	};

	emitter.send({
		type: 'job:start',
		kind: 'verify',
		source: dir,
		output: null,
		size: spec.targets.reduce((sum, _target, index) => sum + sizeOf(index), 0),
		chunkSize: 0,
		chunks: 0,
		chunksDone: 0,
		bytesDone: 0,
		items: spec.targets.length,
		jobs: spec.jobs,
		pid: process.pid,
		resumed,
	});
	for (const note of notes) emitter.send({type: 'anomaly', severity: 'warn', code: 'resume-checked', message: note});

	const resumeCommand = resumeLine(checkpointPath, spec.resumeArgs);
	const store = await VerifyCheckpointStore.create(checkpointPath);
	const base = {
		version: 1 as const,
		tool: 'cage' as const,
		kind: 'backup-verify' as const,
		createdAt: earlier?.createdAt ?? new Date().toISOString(),
		dir,
		key: spec.keyKind,
		...(spec.identityFiles ? {identityFiles: spec.identityFiles} : {}),
		...(spec.sample === undefined ? {} : {sample: spec.sample}),
	};
	let checkpointWarned = false;
	// The chunks (and their bytes) checked so far, this run's and the interrupted ones'.
	let chunksChecked = 0;
	let bytesChecked = 0;
	for (const [index, state] of progress.entries()) {
		const target = spec.targets[index]!;
		const chunks = 'gone' in target ? [] : (target.manifest?.chunks ?? []);
		const ids = (state.only ?? chunks.map(chunk => chunk.id)).slice(0, state.chunksDone);
		chunksChecked += ids.length;
		bytesChecked += ids.reduce((sum, id) => sum + (chunks[id] ? chunks[id].end - chunks[id].start : 0), 0);
	}

	// Saves coalesce: one job:checkpoint per state that reached the disk, not one per chunk.
	const save = () => {
		const state = {chunksDone: chunksChecked, bytesDone: bytesChecked};
		store.save({...base, targets: progress}, () => emitter.send({type: 'job:checkpoint', path: checkpointPath, ...state})).then(
			() => undefined,
			(error: unknown) => {
				// The verify goes on (it writes nothing else until the end); only its resumability is at stake.
				if (checkpointWarned) return;
				checkpointWarned = true;
				emitter.send({type: 'anomaly', severity: 'warn', code: 'checkpoint-write-failed', message: `cannot save the verify's checkpoint ${checkpointPath} (${describeError(error)}); an interruption now means checking again from the last one saved`});
			},
		);
	};

	const pool = new WorkerPool(spec.jobs, shared, {lazy: true});
	const findings: VerifyFinding[] = [];
	let outcome: JobOutcome = 'completed';
	let error: Error | undefined;
	let bytesDone = 0;
	let recorded = false;
	try {
		save();
		for (const [index, target] of spec.targets.entries()) {
			const state = progress[index]!;
			const size = sizeOf(index);
			if (state.finding) {
				// Finished before the interruption: said again, not checked again.
				findings.push(state.finding);
				emitter.send({type: 'item:start', item: index, items: spec.targets.length, path: state.finding.file, output: null, size, chunkSize: 0, chunks: 0, ...(state.finding.result === 'ok' ? {chunksDone: 0, bytesDone: size} : {})});
				if (state.finding.result === 'ok') {
					bytesDone += size;
					emitter.send({type: 'item:done', item: index, path: state.finding.file, bytes: size, durationMs: 0});
				} else {
					emitter.send({type: 'item:skipped', item: index, path: state.finding.file, reason: `${state.finding.result === 'skipped' ? '' : 'failed: '}${spec.describe(state.finding)}`});
				}

				continue;
			}

			if ('gone' in target) {
				const finding = goneFinding(dir, target, target.file);
				state.finding = finding;
				findings.push(finding);
				emitter.send({type: 'item:start', item: index, items: spec.targets.length, path: finding.file, output: null, size: 0, chunkSize: 0, chunks: 0});
				emitter.send({type: 'item:skipped', item: index, path: finding.file, reason: spec.describe(finding)});
				save();
				continue;
			}

			const {source, generation, manifest} = target;
			const file = path.join(dir, generation.file);
			if (state.chunksDone === 0) {
				// What the chunks about to be checked are checked in, and against.
				const stamp = await stampOf(file);
				if (stamp) state.stamp = stamp;
				if (manifest) state.manifest = manifestDigest(manifest);
			}

			const doneBefore = state.chunksDone;
			const damagedBefore = new Set(state.damaged.map(chunk => chunk.id));
			const chunksBefore = (state.only ?? manifest?.chunks.map(chunk => chunk.id) ?? []).slice(0, doneBefore);
			const bytesBefore = manifest ? chunksBefore.filter(id => !damagedBefore.has(id)).reduce((sum, id) => sum + manifest.chunks[id]!.end - manifest.chunks[id]!.start, 0) : 0;
			// A sample's chunks are not the first ones: its cells are not marked done ahead.
			emitter.send({type: 'item:start', item: index, items: spec.targets.length, path: file, output: null, size, chunkSize: manifest?.chunkSize ?? 0, chunks: manifest?.chunks.length ?? 0, ...(doneBefore > 0 ? {chunksDone: state.only ? 0 : doneBefore, bytesDone: bytesBefore} : {})});
			const itemStarted = Date.now();
			let finding: VerifyFinding;
			try {
				finding = await verifyGeneration(dir, source, generation, manifest, {
					jobs: spec.jobs,
					pool,
					events: {emitter, item: index},
					...(spec.key ? {key: spec.key} : {}),
					...(state.only ? {only: state.only} : {}),
					resume: {done: state.chunksDone, damaged: state.damaged},
					onCommit(done, chunk) {
						state.chunksDone = done;
						if (chunk.problem !== undefined) state.damaged.push({id: chunk.id, problem: chunk.problem});
						const range = manifest?.chunks[chunk.id];
						chunksChecked++;
						bytesChecked += range ? range.end - range.start : 0;
						save();
					},
				});
			} catch (error_) {
				if (error_ instanceof AbortedError || (error_ as Error).name === 'AbortedError') {
					emitter.send({type: 'item:skipped', item: index, path: file, reason: 'interrupted'});
					outcome = 'interrupted';
					break;
				}

				throw error_;
			}

			state.finding = finding;
			findings.push(finding);
			save();
			if (finding.result === 'ok') {
				bytesDone += size;
				emitter.send({type: 'item:done', item: index, path: file, bytes: size, durationMs: Date.now() - itemStarted});
			} else {
				emitter.send({type: 'item:skipped', item: index, path: file, reason: `${finding.result === 'skipped' ? '' : 'failed: '}${spec.describe(finding)}`});
			}
		}

		await recordFindings(dir, findings);
		recorded = true;
		const bad = findings.filter(finding => ['damaged', 'missing', 'no-manifest', 'no-key'].includes(finding.result));
		if (outcome === 'completed' && bad.length > 0) {
			outcome = 'failed';
			error = new Error(`${bad.length} of ${spec.targets.length} generation(s) damaged, missing or not verifiable`);
		}
	} catch (error_) {
		outcome = 'failed';
		error = error_ as Error;
	} finally {
		spec.control.detach(control);
		await pool.close();
	}

	// A run that ended before its last generation, or could not record its findings (a full disk),
	// keeps its checkpoint (the newest state, on disk before the job says it ended); a finished
	// one, whatever it found, has nothing to resume.
	const unfinished = !recorded || progress.some(each => !each.finding);
	let keep = false;
	if (unfinished) {
		try {
			await store.settled();
			await store.save({...base, targets: progress});
			keep = true;
		} catch (error_) {
			error ??= new Error(`cannot save the verify's checkpoint ${checkpointPath} (${describeError(error_)})`);
			keep = (await readVerifyCheckpoint(checkpointPath).catch(() => undefined)) !== undefined;
		}
	} else {
		await store.settled();
	}

	emitter.send({
		type: 'job:done',
		outcome,
		bytesDone,
		durationMs: Date.now() - startedAt,
		itemsDone: findings.filter(finding => finding.result === 'ok').length,
		itemsSkipped: 0,
		...(error ? {error: error.message} : {}),
		...(keep ? {checkpoint: checkpointPath, resumeCommand} : {}),
	});
	return {result: {outcome, findings, ...(keep ? {checkpoint: checkpointPath} : {}), ...(error ? {error} : {})}, finished: !unfinished};
}
