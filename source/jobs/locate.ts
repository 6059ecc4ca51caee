/**
 * Finding the checkpoint a user means: `cage resume` takes the checkpoint itself, the output path
 * of an encrypt/decrypt job, or the file a hash job read.
 */
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

	throw new CheckpointError(
		`no checkpoint for ${argument} (looked for ${candidates.map(candidate => path.basename(candidate)).join(', ')}); the job may have completed, or pass the .checkpoint.json file itself`,
	);
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
