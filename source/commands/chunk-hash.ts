import path from 'node:path';
import {CheckpointStore} from '../chunker/checkpoint.js';
import {JobEmitter} from '../chunker/emitter.js';
import {chunkAt} from '../chunker/plan.js';
import {hashAlgorithms, type HashAlgorithm} from '../hash/hasher.js';
import {checkReadableFile} from '../io/files.js';
import {ControlProxy} from '../jobs/control-proxy.js';
import {hashCheckpointPath, runHashJob, type HashJobResult} from '../jobs/hash-job.js';
import {runSession} from '../session/session.js';
import {shellQuote} from '../shell-quote.js';
import type {Io} from './command.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {resolveChunkSize} from './chunk-plan.js';
import {resolveJobOptions, sessionOptions} from './job-options.js';
import {jobFlags, jobFlagsHelp, sizeFlag} from './options.js';

/** Print a hash job's digests: text lines, or one JSON object. */
export function printHashResult(result: HashJobResult, file: string, json: boolean, io: Io): void {
	const chunks = result.digests.map((digest, id) => {
		const chunk = chunkAt(result.size, result.chunkSize, id);
		return {id, start: chunk.start, end: chunk.end, digest};
	});
	if (json) {
		io.stdout.write(
			`${JSON.stringify({file: path.resolve(file), algorithm: result.algorithm, size: result.size, chunkSize: result.chunkSize, chunks, digest: result.digest ?? null})}\n`,
		);
		return;
	}

	for (const chunk of chunks) io.stdout.write(`# chunk ${chunk.id} [${chunk.start}, ${chunk.end}) ${chunk.digest || '(skipped)'}\n`);
	// The last line has the layout of sha256sum / b2sum, so it can be compared or checked directly.
	if (result.digest) io.stdout.write(`${result.digest}  ${file}\n`);
}

/** `cage chunk hash`: per-chunk and whole-file digests, resumable. */
export const chunkHashCommand = defineCommand({
	name: 'chunk hash',
	help: `<file> [--algo sha256|blake2b512] [--chunk-size SIZE] [--json] [--checkpoint PATH] [--force]

	Options
	  --algo NAME          sha256 (default) or blake2b512
	  --chunk-size SIZE    chunk size (default: config; files under the threshold are one chunk, no checkpoint)
	  --checkpoint PATH    where the checkpoint goes (default: <file>.<algo>.checkpoint.json)
	  --force              start over even when a checkpoint for this file exists
	  --json               print {"file","algorithm","size","chunkSize","chunks":[{"id","start","end","digest"}],"digest"}
${jobFlagsHelp}

	Interrupted jobs (Ctrl-C, SIGTERM, q) keep their checkpoint and exit 75; continue with 'cage resume <checkpoint>'.`,
	flags: {
		algo: {type: 'string', default: 'sha256'},
		chunkSize: {type: 'string'},
		checkpoint: {type: 'string'},
		force: {type: 'boolean', shortFlag: 'f'},
		json: {type: 'boolean'},
		...jobFlags,
	},
	async run(cli, io) {
		const [file, ...extra] = cli.input;
		if (!file) throw new UsageError('missing <file>');
		if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]!}'`);
		const algorithm = cli.flags.algo as HashAlgorithm;
		if (!hashAlgorithms.includes(algorithm)) throw new UsageError(`--algo must be one of ${hashAlgorithms.join(', ')} (got '${cli.flags.algo}')`);
		const chunkSizeFlag = sizeFlag('chunk-size', cli.flags.chunkSize);
		const options = resolveJobOptions(cli.flags, io);
		const size = await checkReadableFile(file);
		const small = chunkSizeFlag === undefined && size < options.settings.chunkThreshold;
		const chunkSize = small ? Math.max(1, size) : resolveChunkSize(size, chunkSizeFlag, options.settings.chunkSize);
		const checkpointPath = small ? null : path.resolve(cli.flags.checkpoint ?? hashCheckpointPath(file, algorithm));
		if (checkpointPath) {
			const store = new CheckpointStore(checkpointPath);
			if (await store.exists()) {
				if (!cli.flags.force) {
					throw new UsageError(
						`a checkpoint for this job exists (${checkpointPath}); continue it with 'cage resume ${shellQuote(checkpointPath)}' or start over with --force`,
					);
				}

				await store.remove();
			}
		}

		const emitter = new JobEmitter();
		const control = new ControlProxy();
		const {result, exitCode} = await runSession(sessionOptions(options, io, 'chunk hash', path.resolve(file)), emitter, control, async () =>
			runHashJob({file, algorithm, chunkSize, checkpoint: checkpointPath, emitter, control, rate: options.rate, resumeArgs: options.resumeArgs, retries: options.settings.retries}),
		);
		if (exitCode === exitCodes.ok) printHashResult(result, file, Boolean(cli.flags.json), io);
		return exitCode;
	},
});
