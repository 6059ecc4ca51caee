/**
 * `cage backup create|resume|list|chunks|verify|restore|prune`: numbered, encrypted generations of
 * files in a backup directory, with chunk manifests, verification, restore and retention. The
 * logic lives in source/backup/; these parse flags, run jobs in sessions and print.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {ageChunkSize, decryptFile, encryptFile, resumeFile, type DecryptKey, type EncryptTarget} from '../age/engine.js';
import {parseRecipientArgs, readIdentityFiles, readRecipientsFiles} from '../age/keys.js';
import {JobEmitter} from '../chunker/emitter.js';
import {defaultBackupDir, type Settings} from '../config.js';
import {checkReadableFile, exists, InputError, OutputExistsError} from '../io/files.js';
import {ControlProxy} from '../jobs/control-proxy.js';
import {outputCheckpointPath, readCheckpointFor} from '../jobs/locate.js';
import {runSession} from '../session/session.js';
import {shellQuote} from '../shell-quote.js';
import {finishGeneration, generationOfOutput, partialGenerations, startGeneration} from '../backup/generations.js';
import {getManifest, readManifests} from '../backup/manifest.js';
import {prune, type PruneReport} from '../backup/prune.js';
import type {RetentionPolicy} from '../backup/retention.js';
import {BackupError, findGeneration, findSource, generationFileName, readRegistry, registryPath, type Generation, type Registry} from '../backup/registry.js';
import {openWith, recordFindings, verifyGeneration, type VerifyFinding} from '../backup/verify.js';
import {describeError} from '../errors.js';
import {readVerifyCheckpoint, verifyCheckpointPath, type VerifyKeyKind} from '../backup/verify-checkpoint.js';
import {runBackupVerify} from '../backup/verify-job.js';
import {runPruneJob} from '../backup/prune-job.js';
import {resolveChunkSize} from './chunk-plan.js';
import type {Io} from './command.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {ageJobSettings, resolveJobOptions, sessionOptions, type JobOptions} from './job-options.js';
import {encryptTargetFlags, intFlag, jobFlags, jobFlagsHelp, sizeFlag} from './options.js';
import {readPassphrase} from './passphrase.js';

const toFlag = {to: {type: 'string'}} as const;
const toHelp = `	      --to DIR              the backup directory (default: config 'backupDir', else $XDG_DATA_HOME/cage/backups)`;
const retentionFlags = {keepLast: {type: 'number'}, keepDays: {type: 'number'}} as const;
const retentionHelp = `	      --keep-last N         keep the N newest complete generations of each file (default: config 'backupKeepLast', 3; 0 = no count limit)
	      --keep-days D         keep generations younger than D days (with --keep-last: beyond the last N; default: config 'backupKeepDays', 0 = no age limit)`;

/** The backup directory: --to, else config backupDir, else $XDG_DATA_HOME/cage/backups. */
function backupDir(to: string | undefined, settings: Settings): string {
	return path.resolve(to ?? (settings.backupDir || defaultBackupDir()));
}

/** The directory of commands that read backups: it must hold a registry. */
async function existingBackupDir(to: string | undefined, settings: Settings): Promise<string> {
	const dir = backupDir(to, settings);
	if (!(await exists(registryPath(dir)))) throw new BackupError(`${dir} holds no backups (no ${path.basename(registryPath(dir))}); give the directory with --to DIR`);
	return dir;
}

function retentionPolicy(flags: {keepLast?: number | undefined; keepDays?: number | undefined}, settings: Settings): RetentionPolicy {
	return {
		keepLast: intFlag('keep-last', flags.keepLast, {min: 0, max: 1_000_000}) ?? settings.backupKeepLast,
		keepDays: intFlag('keep-days', flags.keepDays, {min: 0, max: 1_000_000}) ?? settings.backupKeepDays,
	};
}

function printPrune(report: PruneReport, io: Io, dryRun: boolean): void {
	const verb = dryRun ? 'would remove' : 'removed';
	for (const {source, generation, reason} of report.removed) {
		const why = reason === 'retention' ? 'retention' : reason === 'journal' ? 'an interrupted prune' : 'an interrupted create that cannot be resumed';
		io.stdout.write(`${verb} ${source} generation ${generation.generation} (${generation.file}; ${why})\n`);
	}

	for (const orphan of report.orphans) {
		io.stdout.write(
			orphan.dropped
				? `${dryRun ? 'would remove' : 'removed'} ${orphan.file} (a generation the registry no longer has)\n`
				: `not in the registry: ${orphan.file} — cage did not register it here; move it away or delete it\n`,
		);
	}
}

/** Run one encryption (new, or resumed from its checkpoint) in a session; its exit code. */
async function runCreateJob(options: JobOptions, io: Io, source: string, job: (emitter: JobEmitter, control: ControlProxy) => Promise<Awaited<ReturnType<typeof encryptFile>>>): Promise<number> {
	const emitter = new JobEmitter();
	const control = new ControlProxy();
	return (await runSession(sessionOptions(options, io, 'backup create', source), emitter, control, async () => job(emitter, control))).exitCode;
}

async function finishAndRetain(dir: string, source: string, number: number, options: JobOptions, policy: RetentionPolicy, io: Io): Promise<void> {
	const generation = await finishGeneration(dir, source, number, options.jobs);
	io.stdout.write(`${source}: generation ${generation.generation} written to ${path.join(dir, generation.file)} (${generation.fileSize ?? 0} bytes)\n`);
	printPrune(await prune(dir, policy, {source}), io, false);
}

/** `cage backup create`. */
export const backupCreateCommand = defineCommand({
	name: 'backup create',
	help: `FILE... (-r RECIPIENT... | -R RECIPIENTS_FILE... | -p) [--to DIR] [--keep-last N] [--keep-days D] [--force]

	Each FILE becomes a new generation in the backup directory: an ordinary age file written by
	the chunked, resumable encrypt job, and a manifest of SHA-256 digests of its ciphertext chunks
	(computed by one extra read of the finished file) that 'cage backup verify' checks without a
	key. A file unchanged since its newest complete generation (same size, modification time,
	inode and change time) is skipped. Retention is applied to the file's generations afterwards.

	Options
	  -r, --recipient R         encrypt to R (age1..., age1pq1...); repeatable
	  -R, --recipients-file F   encrypt to the recipients listed in F; repeatable
	  -p, --passphrase          use a passphrase (typed on the terminal, or CAGE_PASSPHRASE)
	  -f, --force               make a new generation even of an unchanged file
	      --chunk-size SIZE     unit of progress, resume and verification (default: config, else 16 MiB growing with the file)
${toHelp}
${retentionHelp}
${jobFlagsHelp}

	Interrupted (q, Ctrl-C, kill -9, a full disk): exit 75; continue with 'cage backup resume FILE',
	or run the same 'cage backup create' again: an interrupted generation of a file unchanged since,
	to the same recipients, is continued rather than begun again.

	Examples
	  $ cage backup create db.dump -R team.txt
	  $ cage backup create db.dump --to /mnt/backups --keep-last 7`,
	flags: {
		recipient: {type: 'string', shortFlag: 'r', isMultiple: true},
		recipientsFile: {type: 'string', shortFlag: 'R', isMultiple: true},
		passphrase: {type: 'boolean', shortFlag: 'p'},
		force: {type: 'boolean', shortFlag: 'f'},
		chunkSize: {type: 'string'},
		...toFlag,
		...retentionFlags,
		...jobFlags,
	},
	async run(cli, io) {
		if (cli.input.length === 0) throw new UsageError('missing FILE: name the files to back up');
		const {recipientArgs, recipientFiles} = encryptTargetFlags(cli.flags);
		const chunkSizeFlag = sizeFlag('chunk-size', cli.flags.chunkSize);
		const options = resolveJobOptions(cli.flags, io);
		const policy = retentionPolicy(cli.flags, options.settings);
		const recipients = cli.flags.passphrase ? [] : [...parseRecipientArgs(recipientArgs), ...(await readRecipientsFiles(recipientFiles))];
		const sizes = new Map<string, number>();
		for (const file of cli.input) {
			// checkReadableFile's hint (--recursive) is the encrypt commands'; a backup is of files.
			if ((await fs.stat(file).catch(() => undefined))?.isDirectory()) throw new InputError(`${file} is a directory: a backup is of files, one generation each; name the files, or archive the directory (tar) and back that up`);
			sizes.set(path.resolve(file), await checkReadableFile(file));
		}
		const dir = backupDir(cli.flags.to, options.settings);
		await fs.mkdir(dir, {recursive: true, mode: 0o700});
		for (const source of sizes.keys()) if (path.dirname(source) === dir) throw new UsageError(`${source} is inside the backup directory ${dir}; back up files from elsewhere`);
		const target: EncryptTarget = cli.flags.passphrase ? {passphrase: await readPassphrase({confirm: true})} : {recipients};
		let worst: number = exitCodes.ok;
		for (const [source, size] of sizes) {
			const chunkSize = ageChunkSize(resolveChunkSize(size, chunkSizeFlag, options.settings.chunkSize));
			const partials = await partialGenerations(dir, await readRegistry(dir), source);
			// A generation `cage resume` finished after an interruption gets its manifest now.
			for (const {generation} of partials.filter(found => found.state === 'finished')) {
				await finishGeneration(dir, source, generation.generation, options.jobs);
			}

			// An interrupted generation of this very file, to the same recipients, is continued rather
			// than begun again (a passphrase one is not: the passphrase typed now may be another).
			const interrupted = partials
				.filter(found => found.state === 'resumable' && !found.generation.passphrase && !cli.flags.passphrase && sameRecipients(found.generation.recipients, recipients))
				.sort((a, b) => b.generation.generation - a.generation.generation)[0];
			if (interrupted) {
				io.stderr.write(`cage backup create: continuing generation ${interrupted.generation.generation} of ${source}, which was interrupted\n`);
				const exitCode = await continueGeneration(dir, source, interrupted.generation, options, policy, io);
				if (exitCode === exitCodes.interrupted) return exitCode;
				if (exitCode !== exitCodes.ok) worst = exitCode;
				continue;
			}

			const started = await startGeneration(dir, source, {recipients, passphrase: Boolean(cli.flags.passphrase)}, chunkSize, {force: Boolean(cli.flags.force), retention: policy});
			if (started.kind === 'unchanged') {
				io.stderr.write(`cage backup create: ${source} is unchanged since generation ${started.newest.generation} (${started.newest.createdAt}); skipped (--force makes a new one)\n`);
				continue;
			}

			if (started.kind === 'running') {
				io.stderr.write(`cage backup create: ${source} is being backed up as it is now by another cage process (generation ${started.generation.generation}, 'cage backup list' shows it); skipped (--force makes another one)\n`);
				continue;
			}

			const {generation} = started;
			const exitCode = await runCreateJob(options, io, source, async (emitter, control) =>
				encryptFile(source, started.path, target, {emitter, control, ...ageJobSettings(options), chunkSize, checkpoint: true}),
			);
			if (exitCode === exitCodes.interrupted) {
				io.stderr.write(`cage backup create: generation ${generation.generation} of ${source} is not finished; continue it with 'cage backup resume ${shellQuote(source)} --to ${shellQuote(dir)}' (or the 'cage resume' above), or run this create again\n`);
				return exitCode;
			}

			if (exitCode !== exitCodes.ok) {
				worst = exitCode;
				continue;
			}

			await finishAndRetain(dir, source, generation.generation, options, policy, io);
		}

		return worst;
	},
});

/** `cage backup resume`. */
export const backupResumeCommand = defineCommand({
	name: 'backup resume',
	help: `FILE [--to DIR] [--keep-last N] [--keep-days D]

	Continues the newest interrupted generation of FILE from its checkpoint (as 'cage resume' does
	for the age file), then records its manifest and applies retention. A generation that
	'cage resume' already finished only gets its manifest.

	Options
${toHelp}
${retentionHelp}
${jobFlagsHelp}`,
	flags: {...toFlag, ...retentionFlags, ...jobFlags},
	async run(cli, io) {
		const [file, ...extra] = cli.input;
		if (!file) throw new UsageError('missing FILE');
		if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]!}'`);
		const options = resolveJobOptions(cli.flags, io);
		const dir = await existingBackupDir(cli.flags.to, options.settings);
		const registry = await readRegistry(dir);
		const source = findSource(registry, file, dir);
		const partials = (await partialGenerations(dir, registry, source)).sort((a, b) => b.generation.generation - a.generation.generation);
		const found = partials.find(each => each.state !== 'dead');
		if (!found) throw new BackupError(`${source} has no interrupted generation to resume in ${dir}${partials.length > 0 ? ' (the interrupted ones cannot be resumed: they stopped before their first checkpoint, or the file changed since; run \'cage backup create\' again: it makes a new one, and removes them)' : ''}`);
		if (found.state === 'running') throw new BackupError(`generation ${found.generation.generation} of ${source} is being written by another cage process now`);
		// The retention of the create that began it, unless given now.
		const given = cli.flags.keepLast !== undefined || cli.flags.keepDays !== undefined;
		const policy = !given && found.generation.retention ? found.generation.retention : retentionPolicy(cli.flags, options.settings);
		if (found.state === 'finished') {
			await finishAndRetain(dir, source, found.generation.generation, options, policy, io);
			return exitCodes.ok;
		}

		return continueGeneration(dir, source, found.generation, options, policy, io);
	},
});

/** Whether two lists of recipients are the same set. */
function sameRecipients(a: readonly string[], b: readonly string[]): boolean {
	const sorted = (list: readonly string[]) => [...new Set(list)].sort().join('\n');
	return sorted(a) === sorted(b);
}

/**
 * After `cage resume` finished an age file: when it is a backup generation, its manifest is
 * recorded and the retention of the create that began it applied, as `backup resume` does.
 */
export async function finishResumedGeneration(output: string, options: JobOptions, io: Io): Promise<void> {
	const found = await generationOfOutput(output);
	if (!found) return;
	const {dir, source, generation} = found;
	const finished = await finishGeneration(dir, source, generation.generation, options.jobs);
	io.stdout.write(`${source}: generation ${finished.generation} written to ${path.join(dir, finished.file)} (${finished.fileSize ?? 0} bytes)\n`);
	if (generation.retention) printPrune(await prune(dir, generation.retention, {source}), io, false);
}

/** Continue an interrupted generation from its checkpoint, then record its manifest and apply retention; the exit code. */
async function continueGeneration(dir: string, source: string, generation: Generation, options: JobOptions, policy: RetentionPolicy, io: Io): Promise<number> {
	const output = path.join(dir, generation.file);
	const checkpoint = await readCheckpointFor(outputCheckpointPath(output));
	const exitCode = await runCreateJob(options, io, source, async (emitter, control) =>
		resumeFile(checkpoint, outputCheckpointPath(output), {emitter, control, ...ageJobSettings(options)}),
	);
	if (exitCode === exitCodes.interrupted) {
		io.stderr.write(`cage backup: generation ${generation.generation} of ${source} is not finished; continue it with 'cage backup resume ${shellQuote(source)} --to ${shellQuote(dir)}' (or the 'cage resume' above)\n`);
	}

	if (exitCode !== exitCodes.ok) return exitCode;
	await finishAndRetain(dir, source, generation.generation, options, policy, io);
	return exitCodes.ok;
}

function formatGeneration(generation: Generation): string {
	const damaged = generation.damagedChunks?.length ? ` (damaged chunks: ${generation.damagedChunks.join(', ')})` : '';
	return `  ${String(generation.generation).padStart(4)}  ${generation.createdAt}  ${generation.status.padEnd(8)}  ${String(generation.size).padStart(12)}  ${String(generation.fileSize ?? '-').padStart(12)}  ${generation.file}${damaged}`;
}

/** `cage backup list`. */
export const backupListCommand = defineCommand({
	name: 'backup list',
	help: `[FILE] [--to DIR] [--json]

	Each source file, then its generations: number, created, status (complete, partial, damaged,
	missing, pruning), plaintext size, age file size, file name.

	Options
${toHelp}
	      --json                print {"dir","sources":[{"source","generations":[…]}]}`,
	flags: {...toFlag, json: {type: 'boolean'}},
	async run(cli, io) {
		const [file, ...extra] = cli.input;
		if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]!}'`);
		const options = resolveJobOptions({}, io);
		const dir = await existingBackupDir(cli.flags.to, options.settings);
		const registry = await readRegistry(dir);
		const sources = file === undefined ? Object.keys(registry.sources).sort() : [findSource(registry, file, dir)];
		if (cli.flags.json) {
			io.stdout.write(`${JSON.stringify({dir, sources: sources.map(source => ({source, generations: [...registry.sources[source]!.generations].sort((a, b) => a.generation - b.generation)}))})}\n`);
			return exitCodes.ok;
		}

		io.stdout.write(`backups in ${dir}\n`);
		for (const source of sources) {
			io.stdout.write(`${source}\n     #  created                   status            size     file size  file\n`);
			for (const generation of [...registry.sources[source]!.generations].sort((a, b) => a.generation - b.generation)) io.stdout.write(`${formatGeneration(generation)}\n`);
		}

		return exitCodes.ok;
	},
});

function generationFlag(value: number | undefined): number | undefined {
	return intFlag('generation', value, {min: 1, max: Number.MAX_SAFE_INTEGER});
}

/** `cage backup chunks`. */
export const backupChunksCommand = defineCommand({
	name: 'backup chunks',
	help: `FILE [--generation N] [--to DIR] [--json]

	The chunk plan of a generation (default: the newest complete one) and, per chunk, the byte
	range of the age file it occupies, the SHA-256 of those ciphertext bytes, and the last verify result.

	Options
	      --generation N        this generation
${toHelp}
	      --json                print the manifest as JSON`,
	flags: {...toFlag, generation: {type: 'number'}, json: {type: 'boolean'}},
	async run(cli, io) {
		const [file, ...extra] = cli.input;
		if (!file) throw new UsageError('missing FILE');
		if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]!}'`);
		const options = resolveJobOptions({}, io);
		const dir = await existingBackupDir(cli.flags.to, options.settings);
		const registry = await readRegistry(dir);
		const source = findSource(registry, file, dir);
		const generation = findGeneration(registry.sources[source]!, source, generationFlag(cli.flags.generation), {complete: false});
		const manifest = getManifest(await readManifests(dir), source, generation.generation);
		if (!manifest) throw new BackupError(`generation ${generation.generation} of ${source} has no manifest (status ${generation.status})${generation.status === 'partial' ? `; finish it with 'cage backup resume ${shellQuote(source)}'` : ''}`);
		if (cli.flags.json) {
			io.stdout.write(`${JSON.stringify({source, generation: generation.generation, file: path.join(dir, generation.file), status: generation.status, ...manifest})}\n`);
			return exitCodes.ok;
		}

		io.stdout.write(`${source} generation ${generation.generation}: ${path.join(dir, generation.file)}, ${generation.status}\n`);
		io.stdout.write(`plaintext ${manifest.size} bytes in chunks of ${manifest.chunkSize}; age file ${manifest.fileSize} bytes; last verified ${manifest.verifiedAt ?? 'never'}\n`);
		io.stdout.write(`header [0, ${manifest.header.end}) ${manifest.header.sha256}\n`);
		for (const chunk of manifest.chunks) io.stdout.write(`chunk ${chunk.id} [${chunk.start}, ${chunk.end}) ${chunk.sha256} ${chunk.lastVerify ?? '-'}\n`);
		return exitCodes.ok;
	},
});

/** The key from -i / -p, when given, and how it was given (what a resumed verify asks for again). */
async function keyFrom(flags: {identity?: string[] | undefined; passphrase?: boolean | undefined}): Promise<DecryptKey | undefined> {
	const identities = flags.identity ?? [];
	if (flags.passphrase && identities.length > 0) throw new UsageError('-p cannot be combined with -i');
	if (identities.length > 0) return {identities: await readIdentityFiles(identities)};
	if (flags.passphrase) return {passphrase: await readPassphrase({confirm: false})};
	return undefined;
}

function describeFinding(finding: VerifyFinding): string {
	const head = `${finding.source} generation ${finding.generation}`;
	const chunks = finding.chunks.map(chunk => `chunk ${chunk.id} (bytes [${chunk.start}, ${chunk.end}) of ${finding.file})`).join(', ');
	switch (finding.result) {
		case 'ok': {
			return `${head}: ok (${finding.bytes} bytes)`;
		}

		case 'damaged': {
			return `${head}: DAMAGED${chunks ? `: ${chunks}` : ''}${finding.detail ? `${chunks ? '; ' : ': '}${finding.detail}` : ''}`;
		}

		case 'missing': {
			return `${head}: MISSING: ${finding.detail ?? ''}`;
		}

		default: {
			return `${head}: ${finding.result === 'skipped' ? 'skipped' : finding.result === 'no-key' ? 'not authenticated' : 'not verifiable'}: ${finding.detail ?? ''}`;
		}
	}
}

/** `--sample PERCENT` (`10`, `2.5%`): a share of the chunks, more than 0 and at most 100 (100: all). */
function sampleFlag(value: string | undefined): number | undefined {
	if (value === undefined) return undefined;
	const match = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(value);
	const percent = match ? Number(match[1]) : Number.NaN;
	if (!(percent > 0 && percent <= 100)) throw new UsageError(`--sample must be a percentage above 0 and at most 100, as 10 or 2.5% (got '${value}')`);
	return percent >= 100 ? undefined : percent;
}

function selectGenerations(registry: Registry, sources: string[], generation: number | undefined): Array<{source: string; generation: Generation}> {
	return sources.flatMap(source => {
		const entry = registry.sources[source]!;
		const chosen = generation === undefined ? entry.generations : [findGeneration(entry, source, generation, {complete: false})];
		return [...chosen].sort((a, b) => a.generation - b.generation).map(each => ({source, generation: each}));
	});
}

/** `cage backup verify`. */
export const backupVerifyCommand = defineCommand({
	name: 'backup verify',
	help: `(FILE... | --all) [--generation N] [--sample PERCENT] [-i IDENTITY... | -p] [--to DIR]

	Without a key, every ciphertext chunk (and the header) of each generation is read and hashed
	again on the worker threads, several at once, and compared with the manifest: anyone can check
	a backup. With -i (or -p), the same single read of each chunk also authenticates every age
	block; no plaintext is written anywhere. Damaged chunks are named (generation, chunk, byte
	range), shown as failed cells and marked in the registry; a generation whose file is gone is
	marked missing. Exit 1 when anything is damaged or missing. The run is one job (dashboard,
	--progress, audit log), one item per generation.

	Interrupted (q, Ctrl-C, kill -9): exit 75; the chunks checked so far are kept in a checkpoint in
	the backup directory, and the same 'cage backup verify' again (or 'cage resume CHECKPOINT', as
	printed) continues from there. A generation file changed since is checked again from its start.

	Options
	      --all                 every generation of every file
	      --generation N        only generation N (with one FILE)
	      --sample PERCENT      check PERCENT of each generation's chunks, at random (always the
	                            last one); chunks found damaged before stay marked until checked
	  -i, --identity FILE       also authenticate with the identities in FILE; repeatable
	  -p, --passphrase          also authenticate with a passphrase
${toHelp}
${jobFlagsHelp}`,
	flags: {...toFlag, all: {type: 'boolean'}, generation: {type: 'number'}, sample: {type: 'string'}, identity: {type: 'string', shortFlag: 'i', isMultiple: true}, passphrase: {type: 'boolean', shortFlag: 'p'}, ...jobFlags},
	async run(cli, io) {
		if (cli.flags.all && cli.input.length > 0) throw new UsageError('give FILE... or --all, not both');
		if (!cli.flags.all && cli.input.length === 0) throw new UsageError('missing FILE (or --all for every backup)');
		const generation = generationFlag(cli.flags.generation);
		if (generation !== undefined && cli.input.length !== 1) throw new UsageError('--generation needs exactly one FILE');
		const sample = sampleFlag(cli.flags.sample);
		const options = resolveJobOptions(cli.flags, io);
		const dir = await existingBackupDir(cli.flags.to, options.settings);
		const key = await keyFrom(cli.flags);
		const keyKind: VerifyKeyKind = cli.flags.passphrase ? 'passphrase' : key ? 'identities' : 'none';
		const registry = await readRegistry(dir);
		const sources = cli.flags.all ? Object.keys(registry.sources).sort() : cli.input.map(file => findSource(registry, file, dir));
		const manifests = await readManifests(dir);
		const targets = selectGenerations(registry, sources, generation).map(({source, generation: chosen}) => ({source, generation: chosen, manifest: getManifest(manifests, source, chosen.generation)}));
		const checkpointPath = verifyCheckpointPath(dir, {targets: targets.map(target => ({source: target.source, generation: target.generation.generation})), key: keyKind, sample});
		const identityFiles = keyKind === 'identities' ? (cli.flags.identity ?? []).map(file => path.resolve(file)) : undefined;
		return runVerify({dir, targets, keyKind, checkpointPath, ...(key ? {key} : {}), ...(identityFiles ? {identityFiles} : {}), ...(sample === undefined ? {} : {sample})}, options, io);
	},
});

/** Run a verify job in a session, print its findings, and say how it ended (exit 75 when interrupted: resumable). */
async function runVerify(
	spec: Omit<Parameters<typeof runBackupVerify>[0], 'jobs' | 'rate' | 'emitter' | 'control' | 'describe' | 'resumeArgs'>,
	options: JobOptions,
	io: Io,
): Promise<number> {
	const emitter = new JobEmitter();
	const control = new ControlProxy();
	const {result, exitCode} = await runSession({...sessionOptions(options, io, 'backup verify', null), batchCheckpoint: spec.checkpointPath}, emitter, control, async () =>
		runBackupVerify({...spec, jobs: options.jobs, rate: options.rate, resumeArgs: options.resumeArgs, emitter, control, describe: describeFinding}),
	);
	// After the job, so that the dashboard has given the terminal back.
	for (const finding of result.findings) (finding.result === 'ok' || finding.result === 'skipped' ? io.stdout : io.stderr).write(`${describeFinding(finding)}\n`);
	const {findings} = result;
	const bad = findings.filter(finding => ['damaged', 'missing', 'no-manifest', 'no-key'].includes(finding.result)).length;
	if (result.outcome === 'interrupted') {
		io.stdout.write(`interrupted: ${findings.length} of ${spec.targets.length} generation(s) finished${bad > 0 ? `, ${bad} damaged, missing or not verifiable` : ''}\n`);
		return exitCode;
	}

	const what = `${findings.length} generation(s) ${spec.sample === undefined ? 'checked' : `sampled (${spec.sample}% of their chunks)`}${spec.key ? ' and authenticated' : ''}`;
	io.stdout.write(`${what}: ${bad === 0 ? 'all intact' : `${bad} damaged, missing or not verifiable`}\n`);
	return bad === 0 && result.outcome === 'completed' ? exitCodes.ok : exitCodes.failed;
}

/**
 * `cage resume` of an interrupted `backup verify`: the generations its checkpoint names, the key
 * asked for again (the identity files it records, or `-i`; a passphrase typed again).
 */
export async function resumeBackupVerify(file: string, identity: string[] | undefined, options: JobOptions, io: Io): Promise<number> {
	const checkpoint = await readVerifyCheckpoint(file);
	if (!checkpoint) throw new BackupError(`no verify checkpoint at ${file}: nothing to resume (was the verify already finished?)`);
	const {dir} = checkpoint;
	const registry = await readRegistry(dir);
	const manifests = await readManifests(dir);
	const targets = checkpoint.targets.map(target => {
		const generation = registry.sources[target.source]?.generations.find(g => g.generation === target.generation);
		return generation
			? {source: target.source, generation, manifest: getManifest(manifests, target.source, target.generation)}
			: {source: target.source, generation: target.generation, file: generationFileName(target.source, target.generation), gone: true as const};
	});
	let key: DecryptKey | undefined;
	const identityFiles = identity?.length ? identity.map(each => path.resolve(each)) : checkpoint.identityFiles;
	if (checkpoint.key === 'identities') {
		if (!identityFiles?.length) throw new UsageError(`the interrupted verify ${file} authenticated with identity files it does not name: give them with -i`);
		key = {identities: await readIdentityFiles(identityFiles)};
	} else if (checkpoint.key === 'passphrase') {
		key = {passphrase: await readPassphrase({confirm: false})};
	}

	return runVerify({dir, targets, keyKind: checkpoint.key, checkpointPath: file, ...(key ? {key} : {}), ...(checkpoint.key === 'identities' && identityFiles ? {identityFiles} : {}), ...(checkpoint.sample === undefined ? {} : {sample: checkpoint.sample})}, options, io);
}

/** `cage backup restore`. */
export const backupRestoreCommand = defineCommand({
	name: 'backup restore',
	help: `FILE (-i IDENTITY... | -p) [--generation N] [-o OUT] [--to DIR]

	Checks the generation (default: the newest complete one) against its manifest, then decrypts
	it in resumable chunks to OUT (default: FILE's name in the current directory). OUT is never
	overwritten. Interrupted: exit 75, continue with 'cage resume OUT'.

	Options
	  -i, --identity FILE       decrypt with the identities in FILE; repeatable
	  -p, --passphrase          decrypt with a passphrase (asked without -p for a passphrase generation)
	      --generation N        restore generation N
	  -o, --output OUT          write here
${toHelp}
${jobFlagsHelp}`,
	flags: {...toFlag, generation: {type: 'number'}, identity: {type: 'string', shortFlag: 'i', isMultiple: true}, passphrase: {type: 'boolean', shortFlag: 'p'}, output: {type: 'string', shortFlag: 'o'}, ...jobFlags},
	async run(cli, io) {
		const [file, ...extra] = cli.input;
		if (!file) throw new UsageError('missing FILE');
		if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]!}'`);
		const options = resolveJobOptions(cli.flags, io);
		const dir = await existingBackupDir(cli.flags.to, options.settings);
		const registry = await readRegistry(dir);
		const source = findSource(registry, file, dir);
		const generation = findGeneration(registry.sources[source]!, source, generationFlag(cli.flags.generation));
		if (generation.status === 'partial' || generation.status === 'pruning') throw new BackupError(`generation ${generation.generation} of ${source} is ${generation.status === 'partial' ? 'not finished' : 'being pruned'}; choose another with --generation`);
		const output = path.resolve(cli.flags.output ?? path.basename(source));
		if (await exists(output)) throw new OutputExistsError(`${output} already exists; restore elsewhere with -o OUT`);
		if (await exists(outputCheckpointPath(output))) throw new OutputExistsError(`an interrupted restore is writing ${output}; continue it with 'cage resume ${shellQuote(output)}'`);
		let key = await keyFrom(cli.flags);
		if (!key && generation.passphrase) key = {passphrase: await readPassphrase({confirm: false})};
		if (!key) throw new UsageError('missing identities: give -i IDENTITY_FILE (or -p)');
		// Newer generations that are not complete are passed over: said, not silently.
		const passed = registry.sources[source]!.generations.filter(g => g.generation > generation.generation).sort((a, b) => a.generation - b.generation);
		if (passed.length > 0 && generationFlag(cli.flags.generation) === undefined) {
			io.stderr.write(`cage backup restore: restoring generation ${generation.generation}, the newest complete one (newer: ${passed.map(g => `${g.generation} ${g.status}`).join(', ')})\n`);
		}

		// The key first (a header read): a wrong key is said before the whole file is read to verify it.
		const generationFile = path.join(dir, generation.file);
		// (A file that is gone is the verify's to mark missing.)
		const opened = (await exists(generationFile)) ? await openWith(generationFile, key) : undefined;
		if (opened instanceof Error) throw new BackupError(`not restoring generation ${generation.generation} of ${source}: ${describeError(opened)}`);
		const finding = await verifyGeneration(dir, source, generation, getManifest(await readManifests(dir), source, generation.generation), {jobs: options.jobs});
		if (finding.result !== 'ok') {
			await recordFindings(dir, [finding]);
			throw new BackupError(`not restoring: ${describeFinding(finding)}${finding.result === 'damaged' || finding.result === 'missing' ? '; restore another generation with --generation' : ''}`);
		}

		const emitter = new JobEmitter();
		const control = new ControlProxy();
		const input = path.join(dir, generation.file);
		const resolved = key;
		const {exitCode} = await runSession(sessionOptions(options, io, 'backup restore', input), emitter, control, async () =>
			decryptFile(input, output, resolved, {emitter, control, ...ageJobSettings(options), chunkSize: generation.chunkSize, checkpoint: true}),
		);
		if (exitCode === exitCodes.ok) io.stdout.write(`${source} generation ${generation.generation} restored to ${output}\n`);
		return exitCode;
	},
});

/** `cage backup prune`. */
export const backupPruneCommand = defineCommand({
	name: 'backup prune',
	help: `[--dry-run] [--keep-last N] [--keep-days D] [--to DIR]

	Removes the generations retention lets go, decided newest-first by generation number: the
	newest N complete generations of each file stay, and (with --keep-days) older ones younger
	than D days. A generation still being written is never removed. The deletions are written to
	the registry before any file goes, so a prune killed at any moment is finished by the next one.
	Also removes interrupted creates that cannot be resumed, and files of generations the registry
	no longer has; other files it does not know are reported, not touched.

	Options
	      --dry-run             say what would be removed; remove nothing
${retentionHelp}
${toHelp}
	      --audit-log PATH      append the prune's events to this audit log (default: config 'auditLog')
	      --no-audit            do not write the audit log`,
	flags: {...toFlag, ...retentionFlags, dryRun: {type: 'boolean'}, auditLog: jobFlags.auditLog, audit: jobFlags.audit},
	async run(cli, io) {
		if (cli.input.length > 0) throw new UsageError(`unexpected argument '${cli.input[0]!}' (prune applies to every file of the directory)`);
		// A prune takes a moment: no progress, but its removals go to the audit log (a dry run removes nothing: none).
		const options = resolveJobOptions({progress: 'none', auditLog: cli.flags.auditLog, audit: cli.flags.audit}, io);
		const dir = await existingBackupDir(cli.flags.to, options.settings);
		const dryRun = Boolean(cli.flags.dryRun);
		const policy = retentionPolicy(cli.flags, options.settings);
		let report: PruneReport;
		if (dryRun) {
			report = await prune(dir, policy, {dryRun});
		} else {
			const emitter = new JobEmitter();
			const {result, exitCode} = await runSession(sessionOptions(options, io, 'backup prune', null), emitter, new ControlProxy(), async () => runPruneJob(dir, policy, emitter));
			if (!result.report) return exitCode;
			report = result.report;
		}

		printPrune(report, io, dryRun);
		if (report.removed.length === 0 && report.orphans.length === 0) io.stdout.write('nothing to remove\n');
		return exitCodes.ok;
	},
});

export const backupCommands = [backupCreateCommand, backupResumeCommand, backupListCommand, backupChunksCommand, backupVerifyCommand, backupRestoreCommand, backupPruneCommand];
