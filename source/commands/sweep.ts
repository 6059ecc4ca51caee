import path from 'node:path';
import {CheckpointStore, type Checkpoint} from '../chunker/checkpoint.js';
import {resolveChunkSize} from '../chunker/plan.js';
import {displayPath} from '../display-path.js';
import {JobEmitter} from '../chunker/emitter.js';
import {checkReadableFile} from '../io/files.js';
import {ControlProxy} from '../jobs/control-proxy.js';
import {runSession} from '../session/session.js';
import {shellQuote} from '../shell-quote.js';
import {sweepCheckpointPath, runSweepJob, type SweepJobResult} from '../sweep/job.js';
import {detectFormat, looksLikeAge, sweepStream} from '../sweep/detect.js';
import type {DecryptKey} from '../age/engine.js';
import {formatReport, isValid, reportData} from '../sweep/report.js';
import type {SweepOutcome} from '../sweep/processor.js';
import type {Io} from './command.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {resolveJobOptions, sessionOptions, type JobOptions} from './job-options.js';
import {intFlag, jobFlags, jobFlagsHelp, sizeFlag} from './options.js';

/** Print a sweep's report and map it to the exit code: 0 valid, 1 invalid. */
export function printSweepResult(outcome: SweepOutcome, file: string, json: boolean, io: Io): number {
	io.stdout.write(json ? `${JSON.stringify(reportData(outcome, file))}\n` : formatReport(outcome, file));
	return isValid(outcome) ? exitCodes.ok : exitCodes.failed;
}

/** Print the report of a finished sweep job, or pass on the session's exit code. */
export function finishSweep(result: SweepJobResult | undefined, exitCode: number, file: string, json: boolean, io: Io): number {
	if (exitCode !== exitCodes.ok || !result) return exitCode;
	return printSweepResult(result.sweep, file, json, io);
}

/** `cage resume` of a sweep checkpoint. */
export async function resumeSweep(checkpoint: Checkpoint, checkpointPath: string, options: JobOptions, io: Io, json: boolean): Promise<number> {
	const file = checkpoint.source.path;
	const emitter = new JobEmitter();
	const control = new ControlProxy();
	const {result, exitCode} = await runSession(sessionOptions(options, io, 'resume', file), emitter, control, async () =>
		runSweepJob({
			file,
			format: checkpoint.params.format as 'json' | 'jsonl',
			maxDepth: checkpoint.params.maxDepth as number,
			chunkSize: checkpoint.chunkSize,
			jobs: options.jobs,
			checkpoint: new CheckpointStore(checkpointPath).path,
			emitter,
			control,
			rate: options.rate,
			resumeArgs: options.resumeArgs,
			retries: options.settings.retries,
			resumeFrom: checkpoint,
		}),
	);
	return finishSweep(result, exitCode, displayPath(file), json, io);
}

/** `cage sweep`: validate JSON / JSON Lines and report what it holds, in bounded memory. */
export const sweepCommand = defineCommand({
	name: 'sweep',
	help: `<file | -> [--format json|jsonl|auto] [--json] [-j N] [--max-depth N]
	<file.age> (-i IDENTITY_FILE... | -p) [--format …] [--json] [--max-depth N]

	Options
	  --format F           json (one document), jsonl (one document a line), auto (default: by the
	                       name's extension .json / .jsonl / .ndjson, else by the first lines)
	  --max-depth N        nesting deeper than N is reported as anomaly json-deep-nesting (default 512)
	  --json               print the report as one JSON object
	  --chunk-size SIZE    chunk size (default: config, 16 MiB growing with the file)
	  --checkpoint PATH    where the checkpoint goes (default: <file>.sweep.checkpoint.json; files
	                       under the chunking threshold have none)
	  --force              start over even when a checkpoint for this file exists
	  -i, --identity FILE  the file is an age file: sweep its plaintext while decrypting it with
	                       these identities (as cage decrypt -i); repeatable
	  -p, --passphrase     the file is an age file encrypted with a passphrase (asked, or
	                       CAGE_PASSPHRASE); a passphrase-encrypted age file asks without -p
${jobFlagsHelp}

	JSON Lines chunks are swept in parallel (-j). One JSON document is swept in parallel too: each
	chunk from a guessed start (between elements of the top-level array), checked against the
	real state when the chunks are joined in order and scanned again where the guess was wrong,
	so the report is the one-job report; arrays of records gain, other shapes go in order.
	The report lists the first error (byte, line, column, JSON path, expected and found), for JSON
	Lines every bad line counted and the first 20 listed (its values are left out of the statistics
	below, which are those of the good lines), values by type, depths, the most frequent
	keys (a bounded sketch: approximate past 1024 distinct keys), lengths, the largest token, key
	paths with types (the first 256) and anomalies. Key names from the file appear in the report;
	the checkpoint holds none (hashes and counts only).
	'-' reads stdin, in one pass (not resumable). An age file is decrypted and swept in one pass,
	every block authenticated before it is scanned, and nothing is written anywhere (not
	resumable; --format auto goes by the name without .age, else by the first lines).

	Exit codes: 0 valid, 1 invalid (or failed), 2 usage error, 75 interrupted (checkpoint saved;
	continue with 'cage resume <checkpoint>').`,
	flags: {
		format: {type: 'string', default: 'auto'},
		maxDepth: {type: 'number'},
		json: {type: 'boolean'},
		chunkSize: {type: 'string'},
		checkpoint: {type: 'string'},
		force: {type: 'boolean', shortFlag: 'f'},
		identity: {type: 'string', shortFlag: 'i', isMultiple: true},
		passphrase: {type: 'boolean', shortFlag: 'p'},
		...jobFlags,
	},
	async run(cli, io) {
		const [file, ...extra] = cli.input;
		if (!file) throw new UsageError('missing <file> (or - for stdin)');
		if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]!}'`);
		const formatFlag = cli.flags.format;
		if (!['json', 'jsonl', 'auto'].includes(formatFlag)) throw new UsageError(`--format must be json, jsonl or auto (got '${formatFlag}')`);
		const maxDepth = intFlag('max-depth', cli.flags.maxDepth, {min: 1, max: 1 << 20}) ?? 512;
		const json = Boolean(cli.flags.json);
		const chunkSizeFlag = sizeFlag('chunk-size', cli.flags.chunkSize);
		const options = resolveJobOptions(cli.flags, io);
		if (file === '-') {
			const outcome = await sweepStream(io.stdin, {format: formatFlag as 'json' | 'jsonl' | 'auto', maxDepth});
			return printSweepResult(outcome, 'stdin', json, io);
		}

		const size = await checkReadableFile(file);
		const identityFiles = cli.flags.identity ?? [];
		if (cli.flags.passphrase && identityFiles.length > 0) throw new UsageError('-p cannot be combined with -i');
		const age = await looksLikeAge(file);
		if (identityFiles.length > 0 || cli.flags.passphrase || age) {
			if (!age) throw new UsageError(`${file} is not an age file (-i and -p are for sweeping the plaintext of one)`);
			// Loaded only for an age file: the age library and its keys took 10 MiB of every sweep's memory
			// (passphrase.ts too: it sets the key prompt, so it imports the keys).
			const [{readIdentityFiles}, {hasLockedSshIdentity, unlockSshIdentities}, {isPassphraseHeader, readStart}, {formatOfAgeName, sweepAgeFile}, {readPassphrase}] = await Promise.all([
				import('../age/keys.js'),
				import('../age/ssh-identities.js'),
				import('../age/header.js'),
				import('../sweep/age-input.js'),
				import('./passphrase.js'),
			]);
			const passphrase = Boolean(cli.flags.passphrase) || (identityFiles.length === 0 && isPassphraseHeader(await readStart(file, 64)));
			if (!passphrase && identityFiles.length === 0) throw new UsageError(`${file} is an age file: give -i IDENTITY_FILE (or -p) to sweep its plaintext`);
			const identities = identityFiles.length > 0 ? await readIdentityFiles(identityFiles) : [];
			if (hasLockedSshIdentity(identities)) await unlockSshIdentities(identities, null);
			const key: DecryptKey = passphrase ? {passphrase: await readPassphrase({confirm: false})} : {identities};
			const format = formatFlag === 'auto' ? formatOfAgeName(file) : (formatFlag as 'json' | 'jsonl');
			const emitter = new JobEmitter();
			const control = new ControlProxy();
			const {result, exitCode} = await runSession(sessionOptions(options, io, 'sweep', path.resolve(file)), emitter, control, async () =>
				sweepAgeFile(file, key, {format, maxDepth, emitter, control, rate: options.rate, chunkSize: Math.max(1, resolveChunkSize(size, chunkSizeFlag, options.settings.chunkSize))}),
			);
			if (exitCode !== exitCodes.ok || !result?.sweep) return exitCode === exitCodes.ok ? exitCodes.failed : exitCode;
			return printSweepResult(result.sweep, file, json, io);
		}

		const format = formatFlag === 'auto' ? await detectFormat(file) : (formatFlag as 'json' | 'jsonl');
		const chunkSize = Math.max(1, resolveChunkSize(size, chunkSizeFlag, options.settings.chunkSize));
		const checkpointPath = size < options.settings.chunkThreshold && chunkSizeFlag === undefined ? null : path.resolve(cli.flags.checkpoint ?? sweepCheckpointPath(file));
		if (checkpointPath) {
			const store = new CheckpointStore(checkpointPath);
			if (await store.exists()) {
				if (!cli.flags.force) {
					throw new UsageError(`a checkpoint for this sweep exists (${checkpointPath}); continue it with 'cage resume ${shellQuote(checkpointPath)}' or start over with --force`);
				}

				await store.remove();
			}
		}

		const emitter = new JobEmitter();
		const control = new ControlProxy();
		const {result, exitCode} = await runSession(sessionOptions(options, io, 'sweep', path.resolve(file)), emitter, control, async () =>
			runSweepJob({
				file,
				format,
				maxDepth,
				chunkSize,
				jobs: options.jobs,
				checkpoint: checkpointPath,
				emitter,
				control,
				rate: options.rate,
				resumeArgs: options.resumeArgs,
				retries: options.settings.retries,
			}),
		);
		return finishSweep(result, exitCode, file, json, io);
	},
});
