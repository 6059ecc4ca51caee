/**
 * `cage lock` and `cage unlock`: encrypt or decrypt files where they lie (source/inplace/), as
 * one batch job with the dashboard, resumable with `cage resume`.
 */
import path from 'node:path';
import {WorkerPool} from '../age/pool.js';
import type {DecryptKey, EncryptTarget} from '../age/engine.js';
import {parseRecipientArgs, readIdentityFiles, readRecipientsFiles} from '../age/keys.js';
import {unlockSshIdentities} from '../age/ssh-identities.js';
import {SharedControl} from '../chunker/control.js';
import {JobEmitter} from '../chunker/emitter.js';
import {defaultBackupDir} from '../config.js';
import {displayPath} from '../display-path.js';
import {exists, FileInput, InputError, OutputExistsError} from '../io/files.js';
import {readHeader} from '../age/header.js';
import {describeError} from '../errors.js';
import {batchCheckpointPath, checkBatchNotRunning, runBatch, type BatchCheckpoint, type LeftOut} from '../jobs/batch-job.js';
import {ControlProxy} from '../jobs/control-proxy.js';
import {inPlaceItemRunner, type InPlaceSettings} from '../inplace/in-place.js';
import {planInPlace, type InPlaceOp} from '../inplace/plan.js';
import {deviceReadBackPossible} from '../inplace/read-back.js';
import {gatherStatus} from '../inplace/status.js';
import {formatBytes} from '../size.js';
import {runSession} from '../session/session.js';
import {resumeLine, shellQuote} from '../shell-quote.js';
import {ageSplit, resolveChunkSize} from './chunk-plan.js';
import {defineCommand, exitCodes, UsageError, type Io} from './command.js';
import {ageJobSettings, resolveJobOptions, sessionOptions, type JobOptions} from './job-options.js';
import {encryptTargetFlags, jobFlags, jobFlagsHelp, sizeFlag} from './options.js';
import {readPassphrase} from './passphrase.js';
import {runRecover} from './recover.js';

function report(io: Io, op: InPlaceOp, what: string, files: LeftOut[]): void {
	if (files.length === 0) return;
	const shown = files.slice(0, 10).map(({path: file, reason}) => `  ${displayPath(file)}: ${reason}`);
	io.stderr.write(`cage ${op}: ${what} ${files.length} file(s):\n${shown.join('\n')}${files.length > 10 ? `\n  … and ${files.length - 10} more` : ''}\n`);
}

/** Run (or continue) a lock or unlock batch as one session. */
export async function runInPlaceBatch(context: {manifest: BatchCheckpoint; checkpointPath: string; options: JobOptions; io: Io; resumed: boolean; target?: EncryptTarget; key?: DecryptKey}): Promise<number> {
	const {manifest, options, io} = context;
	const settings: InPlaceSettings = {...manifest.inPlace!};
	const emitter = new JobEmitter();
	const control = new ControlProxy();
	const pool = new WorkerPool(options.jobs, new SharedControl(), {lazy: true});
	const engine = ageJobSettings(options);
	const {result, exitCode} = await runSession({...sessionOptions(options, io, settings.op, null), batchCheckpoint: context.checkpointPath}, emitter, control, async () =>
		runBatch({
			manifest,
			checkpointPath: context.checkpointPath,
			emitter,
			control,
			jobs: options.jobs,
			resumed: context.resumed,
			resumeArgs: options.resumeArgs,
			runItem: inPlaceItemRunner({
				settings,
				...(context.target ? {target: context.target} : {}),
				...(context.key ? {key: context.key} : {}),
				pool,
				engine: {jobs: engine.jobs, rate: engine.rate, retries: engine.retries, resumeVerify: engine.resumeVerify, resumeArgs: engine.resumeArgs},
				chunking: size => ({chunkSize: resolveChunkSize(size, settings.chunkSize, options.settings.chunkSize), checkpoint: ageSplit(size, settings.chunkSize, options.settings).checkpoint}),
				stopBatch: reason => control.abort(reason),
				jobsForManifest: options.jobs,
			}),
		}),
	).finally(async () => pool.close());
	const verb = settings.op === 'lock' ? 'locked' : 'unlocked';
	if (result.outcome === 'completed' || result.done > 0) io.stderr.write(`cage ${settings.op}: ${result.done} file(s) ${verb}${result.skipped > 0 ? `, ${result.skipped} skipped (retry: ${resumeLine(context.checkpointPath, options.resumeArgs)})` : ''}\n`);
	return exitCode;
}

const sharedFlags = {
	recursive: {type: 'boolean'},
	keep: {type: 'boolean'},
	passphrase: {type: 'boolean', shortFlag: 'p'},
	follow: {type: 'boolean'},
	chunkSize: {type: 'string'},
	...jobFlags,
} as const;

type PlanFlags = {recursive?: boolean | undefined; keep?: boolean | undefined; follow?: boolean | undefined};

/** Plan the batch, report what is left out, refuse one already under way. */
async function planManifest(op: InPlaceOp, inputs: string[], flags: PlanFlags, inPlace: InPlaceSettings, who: Pick<BatchCheckpoint, 'recipients' | 'identityFiles' | 'passphrase'>, io: Io) {
	if (inputs.length === 0) throw new UsageError(`missing FILE: name the files or directories to ${op}`);
	if (inputs.includes('-')) throw new UsageError(`${op} works on files where they lie, not on stdin`);
	const plan = await planInPlace(op, inputs, {recursive: Boolean(flags.recursive), follow: Boolean(flags.follow)});
	report(io, op, op === 'lock' ? 'skipped, already locked:' : 'skipped, not locked:', plan.alreadyDone);
	report(io, op, 'left out', plan.leftOut);
	if (plan.items.length === 0) return undefined;
	const checkpointPath = batchCheckpointPath(inputs.map(input => path.resolve(input)), undefined);
	await checkBatchNotRunning(checkpointPath);
	if (await exists(checkpointPath)) {
		throw new OutputExistsError(`an interrupted batch is working here (${checkpointPath}); continue it with 'cage resume ${shellQuote(checkpointPath)}'`);
	}

	for (const item of plan.items) {
		if (await exists(item.output)) throw new OutputExistsError(`${item.output} already exists; move it away first (${op} never overwrites)`);
	}

	const now = new Date().toISOString();
	const job = new JobEmitter().job;
	const manifest: BatchCheckpoint = {version: 1, tool: 'cage', kind: 'batch', op: op === 'lock' ? 'encrypt' : 'decrypt', job, createdAt: now, updatedAt: now, items: plan.items, ...who, inPlace};
	return {manifest, checkpointPath};
}

/** What the read-back reads from here, for --help (told by the current directory's file system type). */
function readBackHelp(): string {
	return deviceReadBackPossible(process.cwd())
		? 'here (the current directory) from the device, with O_DIRECT (the page cache where a file system refuses it)'
		: 'here (the current directory) from the page cache: this file system keeps files in memory (tmpfs) or has no O_DIRECT';
}

/**
 * A wrong key changes nothing: every file's header is opened before the batch starts (with a
 * passphrase only the first: each try costs a deliberate scrypt).
 */
async function checkKeyOpens(manifest: BatchCheckpoint, key: DecryptKey): Promise<void> {
	const items = key.passphrase === undefined ? manifest.items : manifest.items.slice(0, 1);
	for (const item of items) {
		const file = await FileInput.open(item.source);
		try {
			await readHeader(async (...args) => file.read(...args), key.passphrase === undefined ? {identities: key.identities} : {passphrase: key.passphrase}, item.source);
		} catch (error) {
			throw new InputError(`${displayPath(item.source)}: ${describeError(error)}; nothing was unlocked`);
		} finally {
			await file.close();
		}
	}
}

const lockHelpText = `FILE|DIR... (-r RECIPIENT... | -R RECIPIENTS_FILE... | -p) [--recursive] [--keep] [--no-verify] [--follow] [--low-space]

	Each FILE becomes FILE.age, encrypted in resumable parallel chunks. FILE is removed only after
	FILE.age is complete, synced, renamed into place, read back and authenticated block by block
	with the file key the job holds: read from the device with O_DIRECT where the file system
	allows it, else from the page cache (tmpfs, some network file systems). At no moment is there
	neither a whole FILE nor a whole, verified FILE.age. FILE.age gets FILE's mode, owner (where
	permitted) and times. Age files (by name or header) are skipped and counted; symbolic links
	are refused unless --follow; a hard-linked FILE is locked with a warning (its other links
	keep the plaintext). An interrupted lock continues with 'cage resume DIR' (s skips a file).
	Exit 1 when a file cannot be removed (both kept); 75 when the disk fills (both kept).

	Options
	  -r, --recipient R         encrypt to R (age1..., age1pq1..., SSH public key); repeatable
	  -R, --recipients-file F   encrypt to the recipients in F; repeatable
	  -p, --passphrase          use a passphrase
	      --recursive           DIR: every file below it
	      --keep                keep the originals
	      --no-verify           skip the read-back (FILE.age is still complete and synced)
	      --follow              lock the file a symbolic link points to (beside it)
	      --low-space           back to front, for a file larger than the free space: each chunk
	                            is encrypted to its final offset, synced, read back, and the source
	                            cut to the chunk's start; one chunk of room is enough. Chosen by
	                            itself (with a notice) when the free space is smaller than the file;
	                            refused when not even one chunk fits; never with --keep. Until it
	                            ends, neither file alone holds your data: FILE is its first bytes
	                            as they were, FILE.age.partial the encrypted rest, and the state
	                            file FILE.age.low-space.json (its key wrapped) says how far it got.
	                            'cage resume DIR' finishes it; 'cage unlock --recover FILE.age'
	                            rebuilds the plaintext from the two with your own identity
	      --chunk-size SIZE     unit of progress and resume (default: config, else 16 MiB growing with the file)
${jobFlagsHelp}

	Read-back: READ_BACK_SOURCE.`;

/** `cage lock`. */
export const lockCommand = defineCommand({
	name: 'lock',
	get help() {
		return lockHelpText.replace('READ_BACK_SOURCE', readBackHelp());
	},
	flags: {
		recipient: {type: 'string', shortFlag: 'r', isMultiple: true},
		recipientsFile: {type: 'string', shortFlag: 'R', isMultiple: true},
		verify: {type: 'boolean', default: true},
		lowSpace: {type: 'boolean'},
		...sharedFlags,
	},
	async run(cli, io) {
		const {recipientArgs, recipientFiles} = encryptTargetFlags(cli.flags);
		const options = resolveJobOptions(cli.flags, io);
		let target: EncryptTarget = cli.flags.passphrase
			? {passphrase: ''}
			: {recipients: [...parseRecipientArgs(recipientArgs), ...(await readRecipientsFiles(recipientFiles, warning => io.stderr.write(`cage lock: warning: ${warning}\n`)))]};
		const who = target.passphrase === undefined ? {recipients: target.recipients, passphrase: false} : {passphrase: true};
		const chunkSize = sizeFlag('chunk-size', cli.flags.chunkSize);
		if (cli.flags.lowSpace && cli.flags.keep) throw new UsageError('--low-space cuts the original as it goes: it cannot be combined with --keep');
		const inPlace: InPlaceSettings = {op: 'lock', keep: Boolean(cli.flags.keep), verify: cli.flags.verify !== false, ...(chunkSize ? {chunkSize} : {}), ...(cli.flags.lowSpace ? {lowSpace: true} : {})};
		const planned = await planManifest('lock', cli.input, cli.flags, inPlace, who, io);
		if (!planned) {
			io.stderr.write('cage lock: nothing to lock\n');
			return exitCodes.ok;
		}

		if (target.passphrase !== undefined) target = {passphrase: await readPassphrase({confirm: true})};
		return runInPlaceBatch({...planned, options, io, resumed: false, target});
	},
});

/** `cage unlock`. */
export const unlockCommand = defineCommand({
	name: 'unlock',
	help: `FILE.age|DIR... (-i IDENTITY_FILE... | -p) [--recursive] [--keep] [--low-space]
	       --recover FILE.age (-i IDENTITY_FILE... | -p) [-o OUT | -o -]

	Each FILE.age becomes FILE, decrypted in resumable parallel chunks, every block authenticated
	before it is written. FILE gets FILE.age's mode and times (never a wider mode). FILE.age is
	replaced only once FILE is complete, synced and renamed into place: with config
	backupOnUnlock on (the default), it becomes a generation of FILE in the backup registry
	(config backupDir, else $XDG_DATA_HOME/cage/backups; a rename on the same file system) with
	its manifest, subject to retention ('cage backup restore FILE' brings it back); off, it is
	deleted. A wrong key changes nothing. 'cage resume DIR' continues an interrupted unlock.

	Options
	  -i, --identity FILE       decrypt with the identities in FILE; repeatable
	  -p, --passphrase          use a passphrase
	      --recursive           DIR: every .age file below it
	      --keep                keep the .age files (no backup, no removal)
	      --low-space           back to front, for a FILE.age larger than the free space: every
	                            block of it is authenticated first (a damaged or truncated file is
	                            refused whole), then each chunk is decrypted to its final offset in
	                            a sparse FILE.partial, synced, read back and proved against its
	                            ciphertext, checkpointed, and FILE.age cut to the chunk's start;
	                            one chunk of room is enough. FILE.age is consumed, so no backup
	                            generation is kept. Chosen by itself (with a notice) when the free
	                            space is smaller than FILE; refused when not even one chunk fits.
	                            Until it ends, neither file alone holds your data: FILE.age is the
	                            header and the encrypted first part, FILE.partial the plaintext
	                            rest, and the state file FILE.low-space.json (no key, no
	                            plaintext) says how far it got. 'cage resume DIR' finishes it;
	                            --recover rebuilds the plaintext from the two (below)
	      --chunk-size SIZE     unit of progress and resume (default: config, else 16 MiB growing with the file)
${jobFlagsHelp}

	Recover
	  --recover FILE.age rebuilds the whole plaintext of FILE from whatever an interrupted lock or
	  unlock left, with your own identity (the resume identity and the checkpoints' keys are not
	  needed), and says which bytes came from which file and how each part was proved. It only
	  reads the job's files; 'cage resume DIR' finishes the job itself (a --low-space one in one chunk of room).
	  It writes FILE.recovered (mode 0600; -o OUT elsewhere, -o - to stdout) and refuses when OUT's
	  disk lacks the room for the whole file. What it finds:
	    a --low-space lock under way    FILE's prefix (your bytes, as cut, never written by cage)
	                                    + FILE.age.partial's tail, every block authenticated,
	                                    the final block first
	    a --low-space unlock under way  FILE.age's prefix, every block authenticated, + FILE.partial's
	                                    tail, each chunk encrypted again and its tags compared with
	                                    those FILE.low-space.json recorded from the ciphertext
	    a whole FILE.age                decrypted, every block authenticated
	    a whole FILE                    nothing to rebuild (a plain lock or unlock never cuts it)
	  Exit 1 with the reason when a part fails its proof (nothing is written under OUT's name;
	  with -o - the stream stops there).`,
	flags: {
		identity: {type: 'string', shortFlag: 'i', isMultiple: true},
		lowSpace: {type: 'boolean'},
		recover: {type: 'boolean'},
		output: {type: 'string', shortFlag: 'o'},
		...sharedFlags,
	},
	async run(cli, io) {
		const identityFiles = cli.flags.identity ?? [];
		if (cli.flags.passphrase && identityFiles.length > 0) throw new UsageError('-p cannot be combined with -i');
		if (cli.flags.lowSpace && cli.flags.keep) throw new UsageError('--low-space cuts FILE.age as it goes: it cannot be combined with --keep');
		if (!cli.flags.passphrase && identityFiles.length === 0) throw new UsageError('missing identities: give -i IDENTITY_FILE or -p');
		if (cli.flags.output !== undefined && !cli.flags.recover) throw new UsageError('-o goes with --recover (unlock writes FILE beside FILE.age)');
		if (cli.flags.recover) {
			if (cli.input.length !== 1) throw new UsageError('--recover takes one FILE.age (or FILE)');
			if (cli.flags.lowSpace || cli.flags.keep || cli.flags.recursive) throw new UsageError('--recover only reads the job\'s files: it takes no --low-space, --keep or --recursive');
			const identities = identityFiles.length > 0 ? await readIdentityFiles(identityFiles) : [];
			if (!cli.flags.passphrase) await unlockSshIdentities(identities, null);
			const key: DecryptKey = cli.flags.passphrase ? {passphrase: await readPassphrase({confirm: false})} : {identities};
			return runRecover(cli.input[0]!, key, cli.flags.output, io);
		}

		const options = resolveJobOptions(cli.flags, io);
		const identities = identityFiles.length > 0 ? await readIdentityFiles(identityFiles) : [];
		const backup = options.settings.backupOnUnlock === 'on' && !cli.flags.keep;
		const chunkSize = sizeFlag('chunk-size', cli.flags.chunkSize);
		const inPlace: InPlaceSettings = {
			op: 'unlock',
			...(chunkSize ? {chunkSize} : {}),
			keep: Boolean(cli.flags.keep),
			verify: false,
			...(cli.flags.lowSpace ? {lowSpace: true} : {}),
			...(backup ? {backupDir: path.resolve(options.settings.backupDir || defaultBackupDir()), retention: {keepLast: options.settings.backupKeepLast, keepDays: options.settings.backupKeepDays}} : {}),
		};
		const who = cli.flags.passphrase ? {passphrase: true} : {identityFiles: identityFiles.map(file => path.resolve(file)), passphrase: false};
		const planned = await planManifest('unlock', cli.input, cli.flags, inPlace, who, io);
		if (!planned) {
			io.stderr.write('cage unlock: nothing to unlock\n');
			return exitCodes.ok;
		}

		if (!cli.flags.passphrase) await unlockSshIdentities(identities, null);
		const key: DecryptKey = cli.flags.passphrase ? {passphrase: await readPassphrase({confirm: false})} : {identities};
		await checkKeyOpens(planned.manifest, key);
		return runInPlaceBatch({...planned, options, io, resumed: false, key});
	},
});


/** `cage status`. */
export const statusCommand = defineCommand({
	name: 'status',
	help: `[DIR|FILE...] [--json]

	Walks each DIR (default: the current directory; symbolic links are not followed) and lists
	every file as locked — an age file, told by its header, with the recipient types it is
	encrypted to (X25519, mlkem768x25519, scrypt, ssh-ed25519, ssh-rsa, …) — or not locked, with
	its size; then every lock or unlock batch found there that is interrupted (or running), with
	the line that resumes it. A --low-space lock or unlock stopped part way is singled out: its
	source is cut (listed as 'cut') and the file's data is in two files, so it says where each
	part is, the line that finishes the job and the 'cage unlock --recover' line that rebuilds
	the file instead (or why one of them cannot, e.g. a lost state file). Nothing is decrypted and
	no key is needed.

	Options
	      --json                the report as JSON ({"version":1,"files":[…],"jobs":[…],"lowSpace":[…],…})`,
	flags: {json: {type: 'boolean'}},
	async run(cli, io) {
		const report = await gatherStatus(cli.input.length > 0 ? cli.input : ['.']);
		if (cli.flags.json) {
			io.stdout.write(`${JSON.stringify(report)}\n`);
			return exitCodes.ok;
		}

		const cut = new Map(report.lowSpace.map(job => [job.source, job]));
		for (const file of report.files) {
			const job = cut.get(file.path);
			const what = job
				? `cut       ${formatBytes(file.size).padStart(10)}  ${displayPath(file.path)}  (a --low-space ${job.op} is ${job.state === 'running' ? 'running' : 'interrupted'}: see below)`
				: `${file.state === 'locked' ? `locked    ${formatBytes(file.size).padStart(10)}  ${file.armored ? 'armored' : file.recipients.join(', ') || 'damaged header'}` : `unlocked  ${formatBytes(file.size).padStart(10)}`}  ${displayPath(file.path)}`;
			io.stdout.write(`${what}\n`);
		}

		io.stdout.write(`${report.locked} locked, ${report.unlocked} not locked\n`);
		for (const job of report.jobs) {
			const state = job.state === 'running' ? `running (cage process ${job.pid ?? '?'})` : 'interrupted';
			io.stdout.write(`${job.op} ${state}: ${job.done} of ${job.files} file(s) done — ${job.state === 'running' ? `watch it with 'cage watch'` : job.resume}\n`);
		}

		for (const job of report.lowSpace) {
			const state = job.state === 'running' ? `running (cage process ${job.pid ?? '?'})` : job.stateFile === null ? 'interrupted, its state file lost' : 'interrupted';
			io.stdout.write(`--low-space ${job.op} ${state}: ${displayPath(job.file)}\n  ${job.holds}\n`);
			if (job.state === 'running') {
				io.stdout.write(`  watch it with 'cage watch'\n`);
				continue;
			}

			if (job.resume) io.stdout.write(`  finish it:  ${job.resume}\n`);
			if (job.recover) io.stdout.write(`  or rebuild the file without finishing the job:  ${job.recover}\n`);
			if (job.note) io.stdout.write(`  ${job.note}\n`);
		}

		return exitCodes.ok;
	},
});
