/**
 * `cage encrypt`, `cage decrypt`, and the age half of `cage resume`: flags as the age CLI spells
 * them, checked at the edge, then a file job (chunked, resumable) or a stream job (stdin/stdout).
 */
import fs from 'node:fs';
import path from 'node:path';
import {finished} from 'node:stream/promises';
import {WorkerPool} from '../age/pool.js';
import {releaseWarmWorkers} from '../age/warm-workers.js';
import {readWriterRecord, refuseIfRunning, type Checkpoint} from '../chunker/checkpoint.js';
import {SharedControl} from '../chunker/control.js';
import {JobEmitter} from '../chunker/emitter.js';
import {decryptFile, encryptFile, resumeFile, type AgeJobResult, type DecryptKey, type EncryptTarget} from '../age/engine.js';
import {parseRecipientArgs, readIdentityFiles, readRecipientsFiles} from '../age/keys.js';
import {ageMagic, checkAgeFileStart, checkAgeStart, isPassphraseHeader, passphraseHeaderStart, plaintextSizeOfFile, readStart} from '../age/header.js';
import {decryptStream, encryptStream} from '../age/streams.js';
import {ArmorEncoder, ArmorReader, armorDecided, armorSniffLength, dearmor, dearmoredStart, isArmored} from '../age/armor.js';
import {readHeaderStanzas} from '../age/header-stanzas.js';
import {hasLockedSshIdentity, unlockSshIdentities} from '../age/ssh-identities.js';
import {checkReadableFile, checkReadableFileSync, exists, existsSync, InputError, OutputExistsError, partialExistsError} from '../io/files.js';
import {PartialOutput} from '../io/partial-output.js';
import {makePrivateDirectory, makePrivateDirectorySync} from '../io/private-file.js';
import {peekUntil} from '../io/peek.js';
import {batchCheckpointPath, checkBatchNotRunning, planBatch, runBatch, type BatchCheckpoint, type LeftOut} from '../jobs/batch-job.js';
import {claim, claimPath, type Claim} from '../jobs/claim.js';
import {identityOf, isIdentity, isIdentitySync} from '../io/identity.js';
import {readCheckpointFor} from '../jobs/locate.js';
import {displayPath} from '../display-path.js';
import {describeError} from '../errors.js';
import {ControlProxy} from '../jobs/control-proxy.js';
import {outputCheckpointPath, partialPath} from '../jobs/locate.js';
import {runSession} from '../session/session.js';
import {resumeLine, shellQuote} from '../shell-quote.js';
import {ageSplit, resolveChunkSize} from './chunk-plan.js';
import type {Io} from './command.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {decryptSpec, encryptSpec} from './age-help.js';
import {ageJobSettings, resolveJobOptions, sessionOptions, type JobOptions} from './job-options.js';
import {encryptTargetFlags, sizeFlag} from './options.js';
import {readPassphrase} from './passphrase.js';
import {boundariesFlag} from './chunk-plan-boundaries.js';



function isRegularFile(descriptor: number): boolean {
	return regularFileSize(descriptor) !== undefined;
}

/** The size of the regular file open as `descriptor`; undefined for a pipe, a terminal, or a closed one. */
function regularFileSize(descriptor: number): number | undefined {
	try {
		const stat = fs.fstatSync(descriptor);
		return stat.isFile() ? stat.size : undefined;
	} catch {
		return undefined;
	}
}

/** Where stdin's file offset is (Linux's /proc; 0 where it cannot be told). */
function stdinOffset(): number {
	try {
		return Number(/^pos:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/fdinfo/0', 'utf8'))?.[1] ?? 0);
	} catch {
		return 0;
	}
}

/**
 * The start of stdin, left for the job to read: read by position when stdin is a regular file (so
 * its offset, which tells the job its size, does not move), else peeked and put back.
 */
async function stdinHead(io: Io, enough: (head: Buffer) => boolean, max: number): Promise<Buffer> {
	const size = io.stdin === process.stdin ? regularFileSize(0) : undefined;
	if (size === undefined) return peekUntil(io.stdin, enough, max);
	const at = stdinOffset();
	const head = Buffer.alloc(Math.max(0, Math.min(max, size - at)));
	const read = fs.readSync(0, head, 0, head.length, at);
	return head.subarray(0, read);
}

/** A directory is never overwritten, --force or not: the job would only fail at its very end. */
function refuseDirectory(output: string): void {
	if (fs.statSync(output, {throwIfNoEntry: false})?.isDirectory()) throw new InputError(`${output} is a directory; the output must be a file (-o FILE), or give several inputs with --output-dir DIR`);
}

/** Another cage process writing `output` right now is never disturbed, --force or not. */
function refuseRunning(output: string): void {
	// The checkpoint names the process that writes it; the claim, a process that has not written
	// one yet (a resume checking what it continues).
	for (const record of [outputCheckpointPath(output), claimPath(outputCheckpointPath(output))]) {
		refuseIfRunning(
			readWriterRecord(record),
			writer => new OutputExistsError(`cage process ${writer} is writing ${output} now; let it finish, or stop it (q, Ctrl-C or kill ${writer}) first`),
		);
	}
}

/**
 * Refuse to clobber, to write onto the input, or to start over an interrupted job silently. With
 * --force, returns the job's claim, taken before its old files were removed (release it after the job).
 */
async function checkOutput(input: string | null, output: string, force: boolean): Promise<Claim | undefined> {
	const resolved = path.resolve(output);
	if (input !== null) {
		const same = path.resolve(input) === resolved || (fs.existsSync(resolved) && fs.statSync(resolved).ino === fs.statSync(input).ino && fs.statSync(resolved).dev === fs.statSync(input).dev);
		if (same) throw new InputError(`the input and the output are the same file (${output}); choose another -o`);
		// Its partial output or checkpoint: --force would remove it before reading it.
		if ([partialPath(resolved), outputCheckpointPath(resolved)].includes(path.resolve(input))) {
			throw new InputError(`the input ${input} is a file cage writes for -o ${output} (its partial output or checkpoint); choose another -o`);
		}
	}

	refuseDirectory(output);
	refuseRunning(output);
	const checkpoint = outputCheckpointPath(output);
	if (!force && (await exists(checkpoint))) {
		throw new OutputExistsError(
			`an interrupted job is writing ${output} (checkpoint ${checkpoint}); continue it with 'cage resume ${shellQuote(output)}' or start over with --force`,
		);
	}

	if (!force && (await exists(output))) throw new OutputExistsError(`${output} already exists; pass --force to overwrite it`);
	if (!force) return undefined;
	// Claimed before anything is removed: a resume of the same output that is starting this very
	// moment (it holds the claim, not yet a checkpoint naming it) keeps its files.
	const held = await claim(claimPath(checkpoint), writer =>
		new OutputExistsError(writer === undefined ? `another cage process is starting a job writing ${output}; wait a moment and try again` : `cage process ${writer} is writing ${output} now; let it finish, or stop it (q, Ctrl-C or kill ${writer}) first`),
	);
	await fs.promises.rm(checkpoint, {force: true});
	await fs.promises.rm(partialPath(output), {force: true});
	return held;
}

/** How much of an input is read ahead for its header's stanzas. */
const headerAhead = 64 * 1024;

/** The stanzas of the header at the start of `head` (dearmored when armored), or null when not all there. */
function stanzasAhead(head: Buffer, name: string): Array<{args: string[]}> | null {
	let bytes = head;
	if (isArmored(head)) {
		const reader = new ArmorReader(name);
		try {
			bytes = Buffer.concat(reader.take(head));
		} catch {
			return null;
		}
	}

	try {
		return readHeaderStanzas(bytes, name)?.stanzas ?? null;
	} catch {
		// Not an age header: the job says why.
		return [];
	}
}

/** `armored`: the output is armored (encrypt -a) or the input is (decrypt): then the job is a stream. */
type Plan = {input: string | null; output: string | null; size: number | null; armored?: boolean; force?: boolean; held?: Claim};

async function planIo(cli: {input: string[]; flags: {output?: string | undefined; force?: boolean | undefined}}, io: Io, kind: 'encrypt' | 'decrypt', armored = false): Promise<Plan> {
	const raw = cli.input[0];
	const input = raw === undefined || raw === '-' ? null : raw;
	const size = input === null ? null : await checkReadableFile(input);
	const output = cli.flags.output === undefined || cli.flags.output === '-' ? null : cli.flags.output;
	if (output === null && kind === 'encrypt' && !armored && io.stdout.isTTY) {
		throw new UsageError('refusing to write binary ciphertext to the terminal; use -o OUTPUT or redirect stdout');
	}

	// An age file cannot be typed; read from the terminal, the dashboard's keys would be taken as
	// ciphertext too, and q could not stop it.
	if (input === null && kind === 'decrypt' && io.stdin.isTTY) {
		throw new UsageError('refusing to read an age file from the terminal; give INPUT, or redirect stdin from a file or a pipe');
	}

	const held = output === null ? undefined : await checkOutput(input, output, Boolean(cli.flags.force));
	return {input, output, size, force: Boolean(cli.flags.force), ...(held ? {held} : {})};
}

/** Run the job the command planned; the claim a --force start took is released after it. */
async function runFileOrStream(...args: Parameters<typeof runPlanned>): Promise<number> {
	try {
		return await runPlanned(...args);
	} finally {
		await args[1].held?.release();
	}
}

async function runPlanned(
	kind: 'encrypt' | 'decrypt',
	plan: Plan,
	options: JobOptions,
	chunkSizeFlag: number | undefined,
	io: Io,
	start: {
		file: (input: string, output: string, common: Parameters<typeof encryptFile>[3]) => Promise<AgeJobResult>;
		stream: (input: NodeJS.ReadableStream, output: NodeJS.WritableStream, common: Parameters<typeof encryptStream>[3]) => ReturnType<typeof encryptStream>;
	},
): Promise<number> {
	const emitter = new JobEmitter();
	const control = new ControlProxy();
	const session = sessionOptions(options, io, kind, plan.input === null ? null : path.resolve(plan.input));
	if (plan.input !== null && plan.output !== null && !plan.armored) {
		const size = plan.size ?? 0;
		const chunked = ageSplit(size, chunkSizeFlag, options.settings).checkpoint;
		const chunkSize = resolveChunkSize(size, chunkSizeFlag, options.settings.chunkSize);
		const input = plan.input;
		const output = plan.output;
		const force = Boolean(plan.force);
		return (
			await runSession(session, emitter, control, async () =>
				start.file(input, output, {emitter, control, ...ageJobSettings(options), chunkSize, checkpoint: chunked, force}),
			)
		).exitCode;
	}

	// A stream runs on the main thread: stop the cipher workers started on the chance of a file.
	releaseWarmWorkers();
	// An input that is no age file is one error line, before the job (and its progress lines) start.
	if (kind === 'decrypt' && !plan.armored && plan.input !== null) await checkAgeFileStart(plan.input);
	else if (kind === 'decrypt' && !plan.armored) checkAgeStart(await stdinHead(io, head => head.length >= ageMagic.length, ageMagic.length), 'stdin');
	const raw = plan.input === null ? stdinStream(io, kind) : fs.createReadStream(plan.input, {highWaterMark: 1024 * 1024});
	// Armor is a stream too: decoded on the way in, or encoded on the way out (below).
	const input = plan.armored && kind === 'decrypt' ? dearmor(raw as AsyncIterable<Uint8Array>, plan.input ?? 'stdin') : raw;
	// A file output is opened first, so that a missing directory or a permission problem is a
	// one-line error before any work; it is synced before it takes its final name. stdout that is
	// a regular file (`> out.age`) is written through a file stream too: node's stdout writes to a
	// file synchronously and ignores a short write, so a full disk went unnoticed.
	const partial = plan.output === null ? null : partialPath(plan.output);
	// Created, never reused: a second process starting on the same output is refused (see engine.ts).
	const created = partial === null ? null : PartialOutput.createSync(partial, plan.output!);
	const fd = created?.fd ?? null;
	const stdoutIsFile = fd === null && io.stdout === process.stdout && isRegularFile(1);
	const file = fd === null ? (stdoutIsFile ? fs.createWriteStream('', {fd: 1, autoClose: false}) : null) : fs.createWriteStream('', {fd, flush: true});
	const destination = file ?? io.stdout;
	const armorer = plan.armored && kind === 'encrypt' ? new ArmorEncoder() : null;
	if (armorer) {
		armorer.pipe(destination, {end: false});
		destination.on('error', (error: Error) => armorer.destroy(error));
	}

	const output = armorer ?? destination;
	// Every error of the file stream, from its first write to its close (the last write can fail
	// after the job's own loop is over); a write through a descriptor reports no path, so name it.
	let writeError: Error | undefined;
	file?.on('error', (error: NodeJS.ErrnoException) => {
		error.path ??= partial ?? 'stdout';
		writeError ??= error;
	});
	const closed = file === null ? Promise.resolve() : new Promise<void>(resolve => file.once(stdoutIsFile ? 'finish' : 'close', () => resolve()));
	const done = async (): Promise<void> => {
		if (file === null) return;
		file.end();
		await Promise.race([closed, new Promise<void>(resolve => file.once('error', () => resolve()))]);
		if (writeError ?? file.errored) throw writeError ?? file.errored;
	};

	let exitCode: number = exitCodes.failed;
	try {
		// Progress counts plaintext: a file decrypted to stdout has the plaintext size its header tells.
		// stdin redirected from a file (`cage encrypt < big.tar`) has a size too: then the progress
		// bar and ETA work as for a named input (its header is read by position, stdin stays where it is).
		// What a shell read of it left is what counts (`{ dd count=1 …; cage encrypt; } < file`).
		const stdinSize = plan.input === null && io.stdin === process.stdin ? regularFileSize(0) : undefined;
		const stdinAt = stdinSize === undefined ? 0 : stdinOffset();
		const named = plan.input ?? (stdinSize !== undefined && stdinAt === 0 ? '/dev/stdin' : null);
		const size = kind === 'decrypt' ? (named === null ? null : await plaintextSizeOfFile(named)) : (plan.size ?? (stdinSize === undefined ? null : Math.max(0, stdinSize - stdinAt)));
		const result = await runSession(session, emitter, control, async () =>
			start.stream(input, output, {
				emitter,
				control,
				rate: options.rate,
				chunkSize: resolveChunkSize(size ?? 0, chunkSizeFlag, options.settings.chunkSize),
				size,
				source: plan.input === null ? null : path.resolve(plan.input),
				output: plan.output === null ? null : path.resolve(plan.output),
			}),
		);
		exitCode = result.exitCode;
		if (exitCode !== 0) return exitCode;
		if (armorer) {
			// The last line and the end line, into the destination before it is closed.
			armorer.end();
			await finished(armorer);
		}

		// The last writes and the sync can still fail here (a full disk): then the output is not complete.
		await done();
		await created?.partial.commit();

		return exitCode;
	} catch (error) {
		io.stderr.write(`cage ${kind}: ${describeError(error)}; ${plan.output === null ? 'the output on stdout is incomplete' : `nothing was written to ${plan.output}`}\n`);
		return exitCodes.failed;
	} finally {
		if (fd !== null) {
			file?.destroy();
			await closed;
		}

		// Gone after the rename; else this job's own unfinished file, never one that replaced it.
		created?.partial.discardSync();
	}
}

type BatchFlags = {input: string[]; flags: {output?: string | undefined; outputDir?: string | undefined; recursive?: boolean | undefined; force?: boolean | undefined}};

/**
 * The stream of stdin. An encryption from a regular file (`< file`, not yet read from) reads it in
 * 1 MiB reads rather than node's 64 KiB ones: each read is a trip to the thread pool, and small
 * ones left the main thread idle for over a second per GiB. (A pipe is non-blocking and read by
 * node's own stream; a decryption has peeked at stdin already, and goes on with the same stream.)
 */
function stdinStream(io: Io, kind: string): NodeJS.ReadableStream {
	if (kind !== 'encrypt' || io.stdin !== process.stdin || regularFileSize(0) === undefined) return io.stdin;
	return fs.createReadStream('', {fd: 0, highWaterMark: 1024 * 1024, autoClose: false});
}

/** True when the command line asks for a batch: several inputs, a directory or --output-dir. */
function isBatch(cli: BatchFlags): boolean {
	return cli.input.length > 1 || Boolean(cli.flags.recursive) || cli.flags.outputDir !== undefined;
}

/** Plan a new batch: items, refusals (existing outputs, a batch in progress), the manifest. */
async function planNewBatch(op: 'encrypt' | 'decrypt', cli: BatchFlags, who: Pick<BatchCheckpoint, 'recipients' | 'identityFiles' | 'passphrase'>, job: string, io: Io) {
	if (cli.flags.output !== undefined) throw new UsageError('-o names one output; for several inputs use --output-dir DIR (or none: outputs go beside the inputs)');
	if (cli.input.includes('-') || cli.input.length === 0) throw new UsageError('a batch reads files, not stdin: name the files or directories');
	const leftOut: LeftOut[] = [];
	const items = await planBatch(op, cli.input, {recursive: Boolean(cli.flags.recursive), leftOut, ...(cli.flags.outputDir ? {outputDir: cli.flags.outputDir} : {})});
	if (leftOut.length > 0) {
		// Never silently: a backup missing files must say so before it starts.
		const shown = leftOut.slice(0, 10).map(({path: file, reason}) => `  ${file}: ${reason}`);
		io.stderr.write(`cage ${op}: left out ${leftOut.length} file(s):\n${shown.join('\n')}${leftOut.length > 10 ? `\n  … and ${leftOut.length - 10} more` : ''}\n`);
	}

	const checkpointPath = batchCheckpointPath(cli.input, cli.flags.outputDir);
	if (cli.flags.outputDir) await makePrivateDirectory(cli.flags.outputDir);
	const force = Boolean(cli.flags.force);
	await checkBatchNotRunning(checkpointPath);
	if (!force && (await exists(checkpointPath))) {
		throw new OutputExistsError(`an interrupted batch is writing here (${checkpointPath}); continue it with 'cage resume ${shellQuote(checkpointPath)}' or start over with --force`);
	}

	for (const item of items) {
		refuseDirectory(item.output);
		refuseRunning(item.output);
		if (force) {
			await fs.promises.rm(outputCheckpointPath(item.output), {force: true});
			await fs.promises.rm(partialPath(item.output), {force: true});
			// What --force was asked to replace: that file, not one that appears there later.
			const replaces = await identityOf(item.output);
			if (replaces) item.replaces = replaces;
		} else if (existsSync(item.output)) {
			// Synchronous, as the items' own checks (runItem): three per file, microseconds each.
			throw new OutputExistsError(`${item.output} already exists; pass --force to overwrite it`);
		} else if (existsSync(outputCheckpointPath(item.output))) {
			throw new OutputExistsError(`an interrupted job is writing ${item.output}; continue it with 'cage resume ${shellQuote(item.output)}' or start over with --force`);
		} else if (existsSync(partialPath(item.output))) {
			throw partialExistsError(partialPath(item.output), item.output);
		}
	}

	const now = new Date().toISOString();
	const manifest: BatchCheckpoint = {version: 1, tool: 'cage', kind: 'batch', op, job, createdAt: now, updatedAt: now, items, ...who, ...(force ? {force} : {})};
	return {manifest, checkpointPath};
}

/** Run (or continue) a batch of age jobs as one session. */
export async function runAgeBatch(context: {
	manifest: BatchCheckpoint;
	checkpointPath: string;
	emitter: JobEmitter;
	options: JobOptions;
	chunkSizeFlag: number | undefined;
	io: Io;
	resumed: boolean;
	target?: EncryptTarget;
	key?: DecryptKey;
	/** `cage resume --force`: files that appeared at an output are replaced. */
	force?: boolean;
}): Promise<number> {
	const {manifest, options, chunkSizeFlag, emitter} = context;
	const control = new ControlProxy();
	// One set of worker threads for every file (each file brings its own control), started as
	// files need them.
	const pool = new WorkerPool(options.jobs, new SharedControl(), {lazy: true});
	// The output directories made so far: made (0700) once, not once a file.
	const made = new Set<string>();
	const {result, exitCode} = await runSession({...sessionOptions(options, context.io, manifest.op, null), batchCheckpoint: context.checkpointPath}, emitter, control, async () =>
		runBatch({
			manifest,
			checkpointPath: context.checkpointPath,
			emitter,
			control,
			jobs: options.jobs,
			resumed: context.resumed,
			resumeArgs: options.resumeArgs,
			// Renamed into place, nothing left to resume: the file finished before a crash. Only the file
			// the batch recorded just before the rename counts (not one from before a --force run, nor
			// one that appeared there since).
			async isComplete(item) {
				return !(await exists(outputCheckpointPath(item.output))) && !(await exists(partialPath(item.output))) && (await isIdentity(item.output, item.written));
			},
			async runItem(item, {index, count, emitter, control, leftRunning, recordWritten}) {
				const common = {
					emitter,
					control,
					...ageJobSettings(options),
					item: {index, count, replacePartial: leftRunning},
					pool,
					// --force now (cage resume --force) replaces what is there; else only the file the
					// batch was started with --force to replace.
					force: Boolean(context.force),
					...(item.replaces ? {replaces: item.replaces} : {}),
					beforeRename: recordWritten,
				};
				// The checks are synchronous: each takes microseconds, and a batch of small files makes them
				// for every file (a trip to libuv's thread pool and back for each cost more).
				const perFile = outputCheckpointPath(item.output);
				if (existsSync(perFile)) {
					// A file interrupted or skipped earlier continues where it stopped.
					const checkpoint = await readCheckpointFor(perFile);
					return resumeFile(checkpoint, perFile, common);
				}

				if (!context.force && existsSync(item.output) && !isIdentitySync(item.output, item.replaces)) {
					throw new OutputExistsError(`${item.output} already exists (made outside this batch?); move it away, then resume the batch, or resume it with --force to replace it`);
				}

				const size = checkReadableFileSync(item.source);
				const directory = path.dirname(item.output);
				if (!made.has(directory)) {
					makePrivateDirectorySync(directory);
					made.add(directory);
				}
				const chunked = ageSplit(size, chunkSizeFlag, options.settings).checkpoint;
				const chunkSize = resolveChunkSize(size, chunkSizeFlag, options.settings.chunkSize);
				const fileOptions = {...common, chunkSize, checkpoint: chunked};
				return manifest.op === 'encrypt' ? encryptFile(item.source, item.output, context.target!, fileOptions) : decryptFile(item.source, item.output, context.key!, fileOptions);
			},
		}),
	).finally(async () => pool.close());
	if (exitCode === exitCodes.ok && result.skipped > 0) {
		const skipped = manifest.items.filter(item => item.status === 'skipped').map(item => displayPath(item.source));
		const named = skipped.length > 3 ? `${skipped.slice(0, 3).join(', ')} and ${skipped.length - 3} more` : skipped.join(', ');
		context.io.stderr.write(`cage: ${result.skipped} file(s) skipped (${named}); retry them with: ${resumeLine(context.checkpointPath, options.resumeArgs)}\n`);
	}

	return exitCode;
}

/** `cage encrypt`. */
export const encryptCommand = defineCommand({
	...encryptSpec,
	async run(cli, io) {
		const split = sizeFlag('split', cli.flags.split);
		const boundaries = boundariesFlag(cli.flags.boundaries);
		if ((split === undefined) !== (boundaries === undefined)) throw new UsageError('--split and --boundaries go together');
		if (split !== undefined && (cli.input.length !== 1 || cli.input[0] === '-' || !cli.flags.output || cli.flags.armor || isBatch(cli))) {
			throw new UsageError('--split needs one input file and -o PREFIX (no stdin, --armor or batch)');
		}

		if (cli.flags.armor && isBatch(cli)) throw new UsageError('--armor writes one sequential stream; encrypt the files of a batch without it (or one at a time with -a)');
		const {recipientArgs, recipientFiles} = encryptTargetFlags(cli.flags);
		const chunkSizeFlag = sizeFlag('chunk-size', cli.flags.chunkSize);
		const options = resolveJobOptions(cli.flags, io);
		let target: EncryptTarget;
		if (cli.flags.passphrase) {
			target = {passphrase: ''};
		} else {
			target = {recipients: [...parseRecipientArgs(recipientArgs), ...(await readRecipientsFiles(recipientFiles, warning => io.stderr.write(`cage encrypt: warning: ${warning}\n`)))]};
		}

		if (split !== undefined) {
			if (target.passphrase !== undefined) target = {passphrase: await readPassphrase({confirm: true})};
			// Loaded only here: most encryptions never split.
			const {encryptSplit} = await import('./encrypt-split.js');
			return encryptSplit({file: cli.input[0]!, prefix: cli.flags.output!, splitSize: split, boundaries: boundaries!, target, force: Boolean(cli.flags.force), io});
		}

		if (isBatch(cli)) {
			const emitter = new JobEmitter();
			const who = target.passphrase === undefined ? {recipients: target.recipients, passphrase: false} : {passphrase: true};
			const batch = await planNewBatch('encrypt', cli, who, emitter.job, io);
			if (target.passphrase !== undefined) target = {passphrase: await readPassphrase({confirm: true})};
			return runAgeBatch({...batch, emitter, options, chunkSizeFlag, io, resumed: false, target});
		}

		const plan = {...(await planIo(cli, io, 'encrypt', Boolean(cli.flags.armor))), armored: Boolean(cli.flags.armor)};
		if (target.passphrase !== undefined) target = {passphrase: await readPassphrase({confirm: true})};
		const resolved = target;
		return runFileOrStream('encrypt', plan, options, chunkSizeFlag, io, {
			file: async (input, output, common) => encryptFile(input, output, resolved, common),
			stream: async (input, output, common) => encryptStream(input as never, output as never, resolved, common),
		});
	},
});

/** `cage decrypt`. */
export const decryptCommand = defineCommand({
	...decryptSpec,
	async run(cli, io) {
		const identityFiles = cli.flags.identity ?? [];
		if (cli.flags.armor) throw new UsageError('-a/--armor is for encrypt: armored input is detected by itself');
		if (cli.flags.offset !== undefined || cli.flags.length !== undefined) return (await import('./decrypt-range.js')).decryptRangeCommand(cli.input, cli.flags, io);
		if (cli.flags.passphrase && identityFiles.length > 0) throw new UsageError('-p cannot be combined with -i');
		// Like age, a passphrase-encrypted file or stream asks for its passphrase without -p: a
		// stream's first bytes are looked at (and put back) before the job starts.
		// Armored input is told by its first bytes, as age does, and decrypted as a stream.
		const single = cli.input.length === 1 && cli.input[0] !== '-' && !isBatch(cli) && fs.statSync(cli.input[0]!, {throwIfNoEntry: false})?.isFile();
		const stdin = cli.input.length <= 1 && (cli.input[0] ?? '-') === '-' && !isBatch(cli) && !io.stdin.isTTY;
		const unsaid = !cli.flags.passphrase && identityFiles.length === 0;
		// From stdin, no more than tells: whether it is armored, and (without -i or -p) whether it
		// is encrypted with a passphrase, so that a writer that pauses is not waited for.
		const told = (bytes: Buffer) => armorDecided(bytes) && (!unsaid || (isArmored(bytes) ? dearmoredStart(bytes) : bytes).length >= passphraseHeaderStart.length);
		const head = single === true ? await readStart(cli.input[0]!, armorSniffLength) : stdin ? await stdinHead(io, told, armorSniffLength) : Buffer.alloc(0);
		const armored = isArmored(head);
		const passphrase = Boolean(cli.flags.passphrase) || (unsaid && isPassphraseHeader(armored ? dearmoredStart(head) : head));
		if (!passphrase && identityFiles.length === 0) throw new UsageError('missing identities: give -i IDENTITY_FILE (or -p for a batch encrypted with a passphrase)');
		const chunkSizeFlag = sizeFlag('chunk-size', cli.flags.chunkSize);
		const options = resolveJobOptions(cli.flags, io);
		const identities = identityFiles.length > 0 ? await readIdentityFiles(identityFiles) : [];
		if (isBatch(cli)) {
			const emitter = new JobEmitter();
			const who = passphrase ? {passphrase: true} : {identityFiles: identityFiles.map(file => path.resolve(file)), passphrase: false};
			const batch = await planNewBatch('decrypt', cli, who, emitter.job, io);
			// Before the dashboard takes the terminal: the files' headers are not read yet, so every one.
			if (!passphrase) await unlockSshIdentities(identities, null);
			const key: DecryptKey = passphrase ? {passphrase: await readPassphrase({confirm: false})} : {identities};
			return runAgeBatch({...batch, emitter, options, chunkSizeFlag, io, resumed: false, key});
		}

		const plan = {...(await planIo(cli, io, 'decrypt')), armored};
		// An encrypted SSH key asks for its passphrase now, if the file is for it: once the job has
		// started, its dashboard reads the keys typed.
		if (!passphrase && hasLockedSshIdentity(identities)) {
			const ahead = single === true ? await readStart(cli.input[0]!, headerAhead) : stdin ? await stdinHead(io, bytes => stanzasAhead(bytes, 'stdin') !== null, headerAhead) : head;
			await unlockSshIdentities(identities, stanzasAhead(ahead, cli.input[0] ?? 'stdin'));
		}
		const key: DecryptKey = passphrase ? {passphrase: await readPassphrase({confirm: false})} : {identities};
		return runFileOrStream('decrypt', plan, options, chunkSizeFlag, io, {
			file: async (input, output, common) => decryptFile(input, output, key, common),
			stream: async (input, output, common) => decryptStream(input as never, output as never, key, common),
		});
	},
});

/** The age half of `cage resume`. */
export async function resumeAgeJob(context: {
	checkpoint: Checkpoint;
	checkpointPath: string;
	options: JobOptions;
	io: Io;
	recipients: string[] | undefined;
	recipientsFiles: string[] | undefined;
	/** Replace a file that appeared at OUTPUT while the job was interrupted. */
	force?: boolean;
}): Promise<number> {
	const {checkpoint, checkpointPath, options, io} = context;
	const given = [...parseRecipientArgs(context.recipients ?? []), ...(await readRecipientsFiles(context.recipientsFiles ?? []))];
	const emitter = new JobEmitter();
	const control = new ControlProxy();
	const {exitCode} = await runSession(sessionOptions(options, io, 'resume', checkpoint.source.path), emitter, control, async () =>
		resumeFile(checkpoint, checkpointPath, {
			emitter,
			control,
			...ageJobSettings(options),
			force: Boolean(context.force),
			...(given.length > 0 ? {recipients: {recipients: given}} : {}),
		}),
	);
	return exitCode;
}
