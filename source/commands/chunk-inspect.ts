import {CheckpointStore, fingerprint, fingerprintChanges} from '../chunker/checkpoint.js';
import {isBatchCheckpoint, readBatchCheckpoint} from '../jobs/batch-job.js';
import {locateCheckpoint} from '../jobs/locate.js';
import {formatBytes} from '../size.js';
import {defineCommand, exitCodes, UsageError} from './command.js';

/** `cage chunk inspect`: what a checkpoint says, and whether its source still matches. */
export const chunkInspectCommand = defineCommand({
	name: 'chunk inspect',
	help: `<checkpoint | output> [--json]

	Options
	  --json   print the facts as one JSON object

	Secrets in the checkpoint are wrapped to your resume identity and never printed.`,
	flags: {json: {type: 'boolean'}},
	async run(cli, io) {
		const [target, ...extra] = cli.input;
		if (!target) throw new UsageError('missing <checkpoint>');
		if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]!}'`);
		const file = await locateCheckpoint(target);
		if (await isBatchCheckpoint(file)) {
			const batch = await readBatchCheckpoint(file);
			const count = (status: string) => batch.items.filter(item => item.status === status).length;
			const facts = {
				checkpoint: file,
				version: batch.version,
				kind: 'batch',
				op: batch.op,
				job: batch.job,
				items: batch.items.map(({source, output, size, status, reason}) => ({source, output, size, status, ...(reason ? {reason} : {})})),
				done: count('done'),
				// Left `running` by a run that stopped without saving (kill -9): continued by a resume.
				interrupted: count('running'),
				pending: count('pending'),
				skipped: count('skipped'),
				failed: count('failed'),
				createdAt: batch.createdAt,
				updatedAt: batch.updatedAt,
			};
			if (cli.flags.json) {
				io.stdout.write(`${JSON.stringify(facts)}\n`);
				return exitCodes.ok;
			}

			io.stdout.write(
				[
					`checkpoint   ${file} (batch manifest, format ${batch.version})`,
					`kind         ${batch.op} batch of ${batch.items.length} file(s)`,
					`job          ${batch.job}`,
					`done         ${facts.done}, ${facts.interrupted > 0 ? `interrupted ${facts.interrupted} (continued by cage resume), ` : ''}pending ${facts.pending}, skipped ${facts.skipped}, failed ${facts.failed}`,
					`created      ${batch.createdAt}`,
					`updated      ${batch.updatedAt}`,
					...batch.items.map(item => `  ${item.status.padEnd(8)} ${item.source} -> ${item.output}${item.reason ? ` (${item.reason})` : ''}`),
					'',
				].join('\n'),
			);
			return exitCodes.ok;
		}

		const checkpoint = await new CheckpointStore(file).read();
		const now = await fingerprint(checkpoint.source.path).catch(() => undefined);
		const changes = now ? fingerprintChanges(checkpoint.source, now) : ['the source no longer exists'];
		const facts = {
			checkpoint: file,
			version: checkpoint.version,
			kind: checkpoint.kind,
			job: checkpoint.job,
			source: checkpoint.source.path,
			output: checkpoint.output,
			partial: checkpoint.partial,
			size: checkpoint.size,
			chunkSize: checkpoint.chunkSize,
			chunksDone: checkpoint.chunksDone,
			totalChunks: checkpoint.totalChunks,
			bytesDone: checkpoint.bytesDone,
			skipped: checkpoint.skipped,
			createdAt: checkpoint.createdAt,
			updatedAt: checkpoint.updatedAt,
			sourceMatches: changes.length === 0,
			sourceChanges: changes,
			secretsWrapped: checkpoint.secrets !== undefined,
		};
		if (cli.flags.json) {
			io.stdout.write(`${JSON.stringify(facts)}\n`);
			return exitCodes.ok;
		}

		const percent = checkpoint.size > 0 ? ` (${((checkpoint.bytesDone / checkpoint.size) * 100).toFixed(1)}%)` : '';
		io.stdout.write(
			[
				`checkpoint   ${file} (format ${checkpoint.version})`,
				`kind         ${checkpoint.kind}${checkpoint.kind === 'hash' ? ` (${String(checkpoint.params.algorithm)})` : ''}`,
				`job          ${checkpoint.job}`,
				`source       ${checkpoint.source.path}`,
				`output       ${checkpoint.output ?? '-'}${checkpoint.partial ? ` (writing ${checkpoint.partial})` : ''}`,
				`chunk size   ${formatBytes(checkpoint.chunkSize)}`,
				`done         ${checkpoint.chunksDone}/${checkpoint.totalChunks} chunks, ${formatBytes(checkpoint.bytesDone)} of ${formatBytes(checkpoint.size)}${percent}`,
				`skipped      ${checkpoint.skipped.length === 0 ? 'none' : checkpoint.skipped.join(', ')}`,
				`created      ${checkpoint.createdAt}`,
				`updated      ${checkpoint.updatedAt}`,
				`source       ${changes.length === 0 ? 'unchanged (size, mtime, inode match)' : `CHANGED: ${changes.join('; ')}`}`,
				'',
			].join('\n'),
		);
		return exitCodes.ok;
	},
});
