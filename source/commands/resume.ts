import fs from 'node:fs';
import {readHeader} from '../age/header.js';
import {releaseWarmWorkers} from '../age/warm-workers.js';
import type {Result} from 'meow';
import {CheckpointError, CheckpointStore} from '../chunker/checkpoint.js';
import {JobEmitter} from '../chunker/emitter.js';
import {ControlProxy} from '../jobs/control-proxy.js';
import type {HashAlgorithm} from '../hash/hasher.js';
import {runHashJob} from '../jobs/hash-job.js';
import {locateCheckpoint, partialPath, readCheckpointFor} from '../jobs/locate.js';
import {displayPath} from '../display-path.js';
import {runSession} from '../session/session.js';
import {printHashResult} from './chunk-hash.js';
import {resumeSweep} from './sweep.js';
import {defineCommand, UsageError, type Io} from './command.js';
import {resolveJobOptions, sessionOptions, type JobOptions} from './job-options.js';
import {jobFlags, jobFlagsHelp} from './options.js';
import {resumeAgeJob, runAgeBatch} from './age-jobs.js';
import {runInPlaceBatch} from './lock.js';
import {finishResumedGeneration, resumeBackupVerify} from './backup.js';
import {isVerifyCheckpoint} from '../backup/verify-checkpoint.js';
import {checkBatchNotRunning, isBatchCheckpoint, readBatchCheckpoint, type BatchCheckpoint} from '../jobs/batch-job.js';
import {describeError} from '../errors.js';
import {claim, claimPath} from '../jobs/claim.js';
import {FileInput, InputError} from '../io/files.js';
import {readIdentityFiles} from '../age/keys.js';
import {readPassphrase} from './passphrase.js';
import type {DecryptKey, EncryptTarget} from '../age/engine.js';

/** `cage resume`: continue an interrupted encrypt, decrypt or hash job. */
/**
 * The passphrase for the rest of a passphrase-encrypted batch. A mistyped one would leave the
 * batch under two passphrases, so it is checked against a file the batch already encrypted (its
 * header opens with it), or asked twice when there is none yet.
 */
async function batchPassphrase(manifest: BatchCheckpoint): Promise<string> {
	// Encrypting: a finished file, or the partial output of one in progress (its header is written
	// first). Decrypting: the first input still to do, so that no file is marked failed for a typo.
	const written =
		manifest.op === 'encrypt'
			? manifest.items.flatMap(item => (item.status === 'done' ? [item.output] : [partialPath(item.output)])).find(file => fs.existsSync(file))
			: manifest.items.find(item => item.status !== 'done' && fs.existsSync(item.source))?.source;
	if (!written) return readPassphrase({confirm: manifest.op === 'encrypt'});
	const passphrase = await readPassphrase({confirm: false});
	const file = await FileInput.open(written);
	try {
		await readHeader(async (...args) => file.read(...args), {passphrase}, written);
	} catch (error) {
		const what = manifest.op === 'encrypt' ? 'which this batch encrypted' : 'a file of this batch';
		throw new InputError(`that passphrase does not open ${displayPath(written)}, ${what}: run cage resume again with the batch's passphrase (${describeError(error)})`);
	} finally {
		await file.close();
	}

	return passphrase;
}

const resumeFlags = {
	recipient: {type: 'string', shortFlag: 'r', isMultiple: true},
	recipientsFile: {type: 'string', shortFlag: 'R', isMultiple: true},
	identity: {type: 'string', shortFlag: 'i', isMultiple: true},
	json: {type: 'boolean'},
	force: {type: 'boolean', shortFlag: 'f'},
	...jobFlags,
} as const;

export const resumeCommand = defineCommand({
	name: 'resume',
	help: `<OUTPUT | CHECKPOINT> [options]

	Arguments
	  OUTPUT       the output of an interrupted encrypt/decrypt (its OUTPUT.checkpoint.json is used),
	               or the file of an interrupted 'chunk hash'
	  CHECKPOINT   the .checkpoint.json file itself (a batch's is DIR/.cage-batch.checkpoint.json,
	               an interrupted 'backup verify''s DIR/.cage_backups.verify-ID.checkpoint.json;
	               passing DIR finds either)

	Options
	  -r, --recipient R         (encrypt) the recipients given at the start; refused if they differ
	  -R, --recipients-file F   (encrypt) likewise, from a recipients file
	  -i, --identity FILE       (decrypt batch, backup verify) identity files to use instead of those recorded
	  -f, --force               replace a file that appeared at OUTPUT while the job was interrupted
	                            (without it the resume is refused and that file is kept)
	      --json                (hash) print the result as JSON
${jobFlagsHelp}

	The checkpoint is checked first: its seal (any edit of it is refused as damage), and that its
	plan and counts are ones the job could have written. The source must be unchanged since the
	checkpoint: its size, mtime and inode are checked, and a sample of completed chunks is redone
	from it (all of them when the source's change time moved, or with 'cage config set
	resumeVerify full'). After an unclean stop (kill -9, a crash, a power cut) every completed chunk
	of the partial output is read back and checked against the digest of what was written, and
	any that differs is redone. The secrets are unwrapped with your resume identity.

	An interrupted 'cage lock' or 'cage unlock' is a batch: 'cage resume DIR'. A --low-space one
	continues back to front from where the source's length says it stopped, after proving the
	finished tail again; to rebuild the plaintext instead, without finishing the job, run
	'cage unlock --recover FILE.age' (it needs only your own identity).`,
	flags: resumeFlags,
	async run(cli, io) {
		const [target, ...extra] = cli.input;
		if (!target) throw new UsageError('missing <OUTPUT | CHECKPOINT>');
		if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]!}'`);
		const file = await locateCheckpoint(target);
		const options = resolveJobOptions(cli.flags, io);
		// Claimed before anything is read or checked: a second resume of the job started at the same
		// moment is refused here, before it does any work.
		const held = await claim(claimPath(file), writer =>
			new CheckpointError(
				writer === undefined
					? `cannot resume ${file}: another cage process is starting this job this very moment; wait a moment and try again`
					: `cannot resume ${file}: cage process ${writer} is running this job now; let it finish, or stop it (q, Ctrl-C or kill ${writer}) and resume then`,
			),
		);
		try {
			return await resumeClaimed(file, cli, options, io);
		} finally {
			await held.release();
		}
	},
});

async function resumeClaimed(file: string, cli: Result<typeof resumeFlags>, options: JobOptions, io: Io): Promise<number> {
	if (await isVerifyCheckpoint(file)) {
		return resumeBackupVerify(file, cli.flags.identity, options, io);
	}

	if (await isBatchCheckpoint(file)) {
		await checkBatchNotRunning(file);
		const manifest = await readBatchCheckpoint(file);
		let who: {target?: EncryptTarget; key?: DecryptKey};
		if (manifest.op === 'encrypt') {
			who = {target: manifest.passphrase ? {passphrase: await batchPassphrase(manifest)} : {recipients: manifest.recipients ?? []}};
		} else {
			// meow gives [] for a repeatable flag that was not passed: fall back on the manifest's.
			const identityFiles = cli.flags.identity?.length ? cli.flags.identity : (manifest.identityFiles ?? []);
			who = {key: manifest.passphrase ? {passphrase: await batchPassphrase(manifest)} : {identities: await readIdentityFiles(identityFiles)}};
		}

		if (manifest.inPlace) return runInPlaceBatch({manifest, checkpointPath: file, options, io, resumed: true, ...who});
		return runAgeBatch({manifest, checkpointPath: file, emitter: new JobEmitter(), options, chunkSizeFlag: undefined, io, resumed: true, force: Boolean(cli.flags.force), ...who});
	}

	const checkpoint = await readCheckpointFor(file);
	if (checkpoint.kind === 'sweep') {
		releaseWarmWorkers();
		return resumeSweep(checkpoint, file, options, io, Boolean(cli.flags.json));
	}

	if (checkpoint.kind !== 'hash') {
		const exitCode = await resumeAgeJob({checkpoint, checkpointPath: file, options, io, recipients: cli.flags.recipient, recipientsFiles: cli.flags.recipientsFile, force: Boolean(cli.flags.force)});
		// A backup generation's age file: its manifest too, as 'cage backup resume' would.
		if (exitCode === 0 && checkpoint.kind === 'encrypt' && checkpoint.output) await finishResumedGeneration(checkpoint.output, options, io);
		return exitCode;
	}

	// A hash job has no cipher workers: stop the ones started on the chance of an age job.
	releaseWarmWorkers();
	// Each run is its own job in the audit log (seq restarts); the checkpoint keeps the first id.
	const emitter = new JobEmitter();
	const control = new ControlProxy();
	const {result, exitCode} = await runSession(sessionOptions(options, io, 'resume', checkpoint.source.path), emitter, control, async () =>
		runHashJob({
			file: checkpoint.source.path,
			algorithm: checkpoint.params.algorithm as HashAlgorithm,
			chunkSize: checkpoint.chunkSize,
			checkpoint: new CheckpointStore(file).path,
			emitter,
			control,
			rate: options.rate,
			resumeArgs: options.resumeArgs,
			retries: options.settings.retries,
			resumeFrom: checkpoint,
		}),
	);
	if (exitCode === 0) printHashResult(result, displayPath(checkpoint.source.path), Boolean(cli.flags.json), io);
	return exitCode;
}
