/**
 * `cage verify FILE.age... (-i IDENTITY | -p)`: authenticate every block, write nothing. One file
 * is one job; several files (or --recursive directories) are one batch job, as for decrypt.
 */
import fs from 'node:fs';
import path from 'node:path';
import type {DecryptKey} from '../age/engine.js';
import {isArmored, dearmoredStart, armorSniffLength} from '../age/armor.js';
import {isPassphraseHeader, readStart} from '../age/header.js';
import {readIdentityFiles} from '../age/keys.js';
import {WorkerPool} from '../age/pool.js';
import {hasLockedSshIdentity, unlockSshIdentities} from '../age/ssh-identities.js';
import {verifyArmoredFile, verifyFile, type VerifyResult} from '../age/verify.js';
import {SharedControl} from '../chunker/control.js';
import {JobEmitter} from '../chunker/emitter.js';
import {displayPath} from '../display-path.js';
import {checkReadableFile, InputError} from '../io/files.js';
import {planBatch, runBatch, type BatchCheckpoint, type LeftOut} from '../jobs/batch-job.js';
import {ControlProxy} from '../jobs/control-proxy.js';
import {runSession} from '../session/session.js';
import {resolveChunkSize} from './chunk-plan.js';
import type {Io} from './command.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {resolveJobOptions, sessionOptions, type JobOptions} from './job-options.js';
import {jobFlags, jobFlagsHelp, sizeFlag} from './options.js';
import {readPassphrase} from './passphrase.js';

/** The key: identities (an encrypted SSH key unlocked now, before the dashboard takes the terminal) or a passphrase asked for. */
async function resolveKey(identityFiles: string[], passphrase: boolean): Promise<DecryptKey> {
	if (passphrase) return {passphrase: await readPassphrase({confirm: false})};
	const identities = await readIdentityFiles(identityFiles);
	if (hasLockedSshIdentity(identities)) await unlockSshIdentities(identities, null);
	return {identities};
}

async function verifyOne(file: string, identityFiles: string[], passphraseFlag: boolean, options: JobOptions, chunkSizeFlag: number | undefined, io: Io): Promise<number> {
	await checkReadableFile(file);
	const head = await readStart(file, armorSniffLength);
	const armored = isArmored(head);
	// As decrypt does: a passphrase-encrypted file asks for its passphrase without -p.
	const passphrase = passphraseFlag || (identityFiles.length === 0 && isPassphraseHeader(armored ? dearmoredStart(head) : head));
	if (!passphrase && identityFiles.length === 0) throw new UsageError('missing identities: give -i IDENTITY_FILE (or -p for files encrypted with a passphrase)');
	const key = await resolveKey(identityFiles, passphrase);
	const emitter = new JobEmitter();
	const control = new ControlProxy();
	const size = fs.statSync(file).size;
	const chunkSize = resolveChunkSize(size, chunkSizeFlag, options.settings.chunkSize);
	const common = {emitter, control, rate: options.rate, chunkSize};
	const {result, exitCode} = await runSession(sessionOptions(options, io, 'verify', path.resolve(file)), emitter, control, async () =>
		armored ? verifyArmoredFile(file, key, common) : verifyFile(file, key, {...common, jobs: options.jobs}),
	);
	if (exitCode === exitCodes.ok) io.stdout.write(`${displayPath(file)}: intact (${describeSize(result)})\n`);
	return exitCode;
}

function describeSize(result: VerifyResult): string {
	return result.size === undefined ? `${result.bytesDone} bytes authenticated` : `${result.size} bytes of plaintext, every block authenticated`;
}

async function verifyBatch(inputs: string[], recursive: boolean, identityFiles: string[], passphrase: boolean, options: JobOptions, chunkSizeFlag: number | undefined, io: Io): Promise<number> {
	if (identityFiles.length === 0 && !passphrase) throw new UsageError('missing identities: give -i IDENTITY_FILE (or -p for a batch encrypted with a passphrase)');
	const leftOut: LeftOut[] = [];
	const items = await planBatch('verify', inputs, {recursive, leftOut});
	if (leftOut.length > 0) {
		const shown = leftOut.slice(0, 10).map(({path: file, reason}) => `  ${file}: ${reason}`);
		io.stderr.write(`cage verify: left out ${leftOut.length} file(s):\n${shown.join('\n')}${leftOut.length > 10 ? `\n  … and ${leftOut.length - 10} more` : ''}\n`);
	}

	const key = await resolveKey(identityFiles, passphrase);
	const emitter = new JobEmitter();
	const control = new ControlProxy();
	const now = new Date().toISOString();
	const manifest: BatchCheckpoint = {version: 1, tool: 'cage', kind: 'batch', op: 'verify', job: emitter.job, createdAt: now, updatedAt: now, items, passphrase};
	// One set of worker threads for every file, started as files need them.
	const pool = new WorkerPool(options.jobs, new SharedControl(), {lazy: true});
	const results = new Map<string, VerifyResult>();
	const {exitCode} = await runSession(sessionOptions(options, io, 'verify', null), emitter, control, async () =>
		runBatch({
			manifest,
			checkpointPath: null,
			emitter,
			control,
			jobs: options.jobs,
			resumed: false,
			resumeArgs: options.resumeArgs,
			async runItem(item, {index, count, emitter, control}) {
				if (isArmored(await readStart(item.source, armorSniffLength))) {
					throw new InputError(`${item.source} is armored (PEM): its blocks are read one after another, so verify it on its own ('cage verify ${item.source}')`);
				}

				const chunkSize = resolveChunkSize(item.size, chunkSizeFlag, options.settings.chunkSize);
				const result = await verifyFile(item.source, key, {emitter, control, jobs: options.jobs, rate: options.rate, chunkSize, item: {index, count}, pool});
				results.set(item.source, result);
				return result;
			},
		}),
	).finally(async () => pool.close());
	// One line per file on stdout, for scripts; the failures' reasons went to stderr already.
	for (const item of items) {
		const said = item.status === 'done' ? 'intact' : item.status === 'failed' ? `FAILED: ${item.reason ?? 'failed'}` : `not verified (${item.reason ?? item.status})`;
		io.stdout.write(`${displayPath(item.source)}: ${said}\n`);
	}

	return exitCode;
}

/** `cage verify`. */
export const verifyCommand = defineCommand({
	name: 'verify',
	help: `FILE.age... (-i IDENTITY_FILE... | -p) [options]

	Decrypts every 64 KiB block of each file on all cores, checks its authentication tag and
	throws the plaintext away: nothing is written to disk. Exit 0 when every file is intact; 1
	when one is not, naming the file, the first bad chunk and block, and its byte offset. A
	truncated file, or one with data appended, fails too. Armored (PEM) files are verified one
	block after another. Several files, or --recursive directories (their .age files), run as
	one batch; s skips the file in progress. A verify keeps no checkpoint: an interrupted one is
	run again.

	Options
	  -i, --identity FILE       identities to open the files with (age-keygen format, SSH private
	                            keys, identity files encrypted with age -p); repeatable
	  -p, --passphrase          the files are encrypted with a passphrase (asked on the terminal, or
	                            CAGE_PASSPHRASE); a single file that is asks without -p
	      --chunk-size SIZE     unit of progress and of parallel work (default: config, else 16 MiB
	                            growing with the file)
	      --recursive           FILE may be a directory: every .age file below it
${jobFlagsHelp}

	Examples
	  $ cage verify backup.tar.age -i key.txt
	  $ cage verify --recursive /backup -i key.txt --progress plain`,
	flags: {
		identity: {type: 'string', shortFlag: 'i', isMultiple: true},
		passphrase: {type: 'boolean', shortFlag: 'p'},
		chunkSize: {type: 'string'},
		recursive: {type: 'boolean'},
		...jobFlags,
	},
	async run(cli, io) {
		const identityFiles = cli.flags.identity ?? [];
		if (cli.input.length === 0) throw new UsageError('missing FILE.age: name the files (or directories, with --recursive) to verify');
		if (cli.input.includes('-')) throw new UsageError('cage verify reads files, not stdin: name the file (age -d -o /dev/null checks a stream)');
		if (cli.flags.passphrase && identityFiles.length > 0) throw new UsageError('-p cannot be combined with -i');
		const chunkSizeFlag = sizeFlag('chunk-size', cli.flags.chunkSize);
		const options = resolveJobOptions(cli.flags, io);
		const single = cli.input.length === 1 && !cli.flags.recursive && fs.statSync(cli.input[0]!, {throwIfNoEntry: false})?.isDirectory() !== true;
		if (single) return verifyOne(cli.input[0]!, identityFiles, Boolean(cli.flags.passphrase), options, chunkSizeFlag, io);
		return verifyBatch(cli.input, Boolean(cli.flags.recursive), identityFiles, Boolean(cli.flags.passphrase), options, chunkSizeFlag, io);
	},
});
