/**
 * Finding the checkpoint a user means: `cage resume` takes the checkpoint itself, the output path
 * of an encrypt/decrypt job, or the file a hash job read.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {CheckpointError, CheckpointStore, fingerprint, fingerprintChanges, refuseIfRunning, type Checkpoint} from '../chunker/checkpoint.js';
import {exists} from '../io/files.js';
import {hashAlgorithms} from '../hash/hasher.js';
import {SourceChangedError} from './chunked-job.js';
import {batchCheckpointName} from './batch-job.js';
import {findVerifyCheckpoints} from '../backup/verify-checkpoint.js';
import {shellQuote} from '../shell-quote.js';

/** The checkpoint of an encrypt or decrypt job writing `output`. */
export function outputCheckpointPath(output: string): string {
	return path.resolve(`${output}.checkpoint.json`);
}

/** The partial file an encrypt or decrypt job writes before renaming it to `output`. */
export function partialPath(output: string): string {
	return path.resolve(`${output}.partial`);
}

/** The suffix of a --low-space lock's or unlock's state file, beside its output. */
export const lowSpaceStateSuffix = '.low-space.json';

/** The state file of a --low-space lock or unlock writing `output`. */
export function lowSpaceStatePath(output: string): string {
	return `${output}${lowSpaceStateSuffix}`;
}

/** Resolve what the user passed to `cage resume` to a checkpoint file. */
export async function locateCheckpoint(argument: string): Promise<string> {
	const candidates = argument.endsWith('.checkpoint.json')
		? [argument]
		: [
				`${argument}.checkpoint.json`,
				...hashAlgorithms.map(algorithm => `${argument}.${algorithm}.checkpoint.json`),
				`${argument}.sweep.checkpoint.json`,
				...(argument.endsWith('.partial') ? [`${argument.slice(0, -'.partial'.length)}.checkpoint.json`] : []),
				path.join(argument, batchCheckpointName),
				// `cage chunk hash --checkpoint NAME.json` may name its checkpoint anything.
				...(argument.endsWith('.json') ? [argument] : []),
			];
	for (const candidate of candidates) {
		if (await exists(candidate)) return path.resolve(candidate);
	}

	// A backup directory: the checkpoint of an interrupted `backup verify` in it, when there is one.
	const verifies = await findVerifyCheckpoints(argument);
	if (verifies.length === 1) return path.resolve(verifies[0]!);
	if (verifies.length > 1) throw new CheckpointError(`${argument} holds ${verifies.length} interrupted backup verifies: resume one by its checkpoint (${verifies.map(file => `cage resume ${shellQuote(file)}`).join(', or ')})`);

	const orphan = await orphanLowSpaceState(argument);
	if (orphan) throw new CheckpointError(`no checkpoint for ${argument}: ${orphan}`);
	throw new CheckpointError(
		`no checkpoint for ${argument} (looked for ${candidates.map(candidate => path.basename(candidate)).join(', ')}); the job may have completed, or pass the .checkpoint.json file itself`,
	);
}

/**
 * A --low-space job's state file for `argument` (FILE, FILE.age or their directory) when its
 * batch checkpoint is gone: resume cannot go on without the batch, but the data is in the two
 * files, and --recover rebuilds it. Says so, or undefined.
 */
async function orphanLowSpaceState(argument: string): Promise<string | undefined> {
	const resolved = path.resolve(argument);
	const names = (await fs.stat(resolved).catch(() => undefined))?.isDirectory()
		? (await fs.readdir(resolved)).filter(name => name.endsWith(lowSpaceStateSuffix)).map(name => path.join(resolved, name))
		: [lowSpaceStatePath(resolved), lowSpaceStatePath(`${resolved}.age`), ...(resolved.endsWith('.age') ? [lowSpaceStatePath(resolved.slice(0, -'.age'.length))] : [])];
	for (const state of names.sort()) {
		if (!(await exists(state))) continue;
		const output = state.slice(0, -lowSpaceStateSuffix.length);
		const batch = path.join(path.dirname(state), batchCheckpointName);
		const stopped = `it was stopped, and the batch checkpoint ${batch} that 'cage resume' continues from is missing, so resume cannot finish it; nothing was changed`;
		if (output.endsWith('.age')) {
			const plain = output.slice(0, -'.age'.length);
			return `${state} is there: a --low-space lock of ${plain} had begun; ${stopped}. Your file is the first bytes in ${plain} followed by the encrypted rest in ${partialPath(output)}: 'cage unlock --recover ${shellQuote(output)} -i YOUR_IDENTITY' rebuilds it whole`;
		}

		return `${state} is there: a --low-space unlock of ${output}.age had begun; ${stopped}. Your file is the encrypted first part in ${output}.age followed by the plaintext rest in ${partialPath(output)}: 'cage unlock --recover ${shellQuote(`${output}.age`)} -i YOUR_IDENTITY' rebuilds it whole, proved against ${path.basename(state)}`;
	}

	return undefined;
}

/** Read a checkpoint and check that its source is still the file it was made from (fingerprint only). */
export async function readCheckpointFor(file: string): Promise<Checkpoint> {
	const checkpoint = await new CheckpointStore(file).read();
	refuseIfRunning(
		checkpoint,
		writer => new CheckpointError(`cannot resume ${file}: cage process ${writer} is running this job now; let it finish, or stop it (q, Ctrl-C or kill ${writer}) and resume then`),
	);

	const now = await fingerprint(checkpoint.source.path).catch(() => undefined);
	if (!now) throw new SourceChangedError(`cannot resume ${file}: the source ${checkpoint.source.path} no longer exists`);
	const changes = fingerprintChanges(checkpoint.source, now);
	if (changes.length > 0) {
		throw new SourceChangedError(
			`cannot resume ${file}: the source ${checkpoint.source.path} changed since the checkpoint (${changes.join('; ')}): start the job again with --force`,
		);
	}

	return checkpoint;
}
