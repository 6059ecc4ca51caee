import path from 'node:path';
import {chunkAt, chunkCount, planChunks, resolveChunkSize} from '../chunker/plan.js';
import {readSettings} from '../config.js';
import {ageChunkSize} from '../age/engine.js';
import {checkReadableFile} from '../io/files.js';
import {formatBytes} from '../size.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {sizeFlag} from './options.js';
import {boundariesFlag, printBoundaryPlan} from './chunk-plan-boundaries.js';

/** The chunk size of a job (in chunker/plan.ts, which loads no age code). */
export {resolveChunkSize};

/**
 * How `cage encrypt` / `decrypt` split a file of `size` bytes: whole 64 KiB STREAM blocks, and one
 * chunk without a checkpoint for a file under the chunking threshold unless --chunk-size is given.
 */
export function ageSplit(size: number, flag: number | undefined, settings: {chunkSize: number; chunkThreshold: number}): {chunkSize: number; chunks: number; checkpoint: boolean} {
	const checkpoint = flag !== undefined || size >= settings.chunkThreshold;
	const chunkSize = ageChunkSize(checkpoint ? resolveChunkSize(size, flag, settings.chunkSize) : size);
	return {chunkSize, chunks: chunkCount(size, chunkSize), checkpoint};
}

/** `cage chunk plan`: how a file would be split, without reading it. */
export const chunkPlanCommand = defineCommand({
	name: 'chunk plan',
	help: `<file> [--chunk-size SIZE] [--json] [--boundaries jsonl|json]

	Options
	  --chunk-size SIZE  chunk size: 1048576, 64KiB, 16MiB, 1GiB, 16M, 1G (default: config, else grows with the file)
	  --json             print {"file","size","chunkSize","chunks":[{"id","start","end","size"}]} on stdout
	  --boundaries B     move each cut to the next record boundary and list the parts (reads the
	                     file): jsonl after a newline; json between elements of the top-level array
	                     or between top-level values; says when a record is larger than a chunk

	Ranges are half-open: a chunk covers bytes start <= b < end. This is the split of
	'cage chunk hash'; encrypt and decrypt use whole 64 KiB blocks, and a file under the
	chunkThreshold setting as one chunk: the 'age jobs' line (JSON: "age") shows theirs.`,
	flags: {chunkSize: {type: 'string'}, json: {type: 'boolean'}, boundaries: {type: 'string'}},
	async run(cli, io) {
		const [file, ...extra] = cli.input;
		if (!file) throw new UsageError('missing <file>');
		if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]!}'`);
		const chunkSizeFlag = sizeFlag('chunk-size', cli.flags.chunkSize);
		const size = await checkReadableFile(file);
		const settings = readSettings();
		const chunkSize = resolveChunkSize(size, chunkSizeFlag, settings.chunkSize);
		const boundaries = boundariesFlag(cli.flags.boundaries);
		if (boundaries) return printBoundaryPlan(file, boundaries, chunkSize, Boolean(cli.flags.json), io);
		const count = chunkCount(size, chunkSize);
		const age = ageSplit(size, chunkSizeFlag, settings);
		if (cli.flags.json) {
			// Streamed, waiting for stdout to drain: a 1 TiB plan with small chunks has millions of entries.
			const write = async (text: string) => {
				if (!io.stdout.write(text)) await new Promise(resolve => io.stdout.once('drain', resolve));
			};

			await write(`{"file":${JSON.stringify(path.resolve(file))},"size":${size},"chunkSize":${chunkSize},"age":${JSON.stringify(age)},"chunks":[`);
			let buffer = '';
			for (const chunk of planChunks(size, chunkSize)) {
				buffer += `${chunk.id === 0 ? '' : ','}{"id":${chunk.id},"start":${chunk.start},"end":${chunk.end},"size":${chunk.size}}`;
				if (buffer.length > 65_536) {
					await write(buffer);
					buffer = '';
				}
			}

			await write(`${buffer}]}\n`);
			return exitCodes.ok;
		}

		const first = chunkAt(size, chunkSize, 0);
		const last = chunkAt(size, chunkSize, count - 1);
		io.stdout.write(
			[
				`file        ${path.resolve(file)}`,
				`size        ${size} bytes (${formatBytes(size)})`,
				`chunk size  ${chunkSize} bytes (${formatBytes(chunkSize)})`,
				`chunks      ${count}${count > 1 && last.size !== chunkSize ? ` (last one ${formatBytes(last.size)})` : ''}`,
				`first       #0  [${first.start}, ${first.end})  ${first.size} bytes`,
				...(count > 1 ? [`last        #${last.id}  [${last.start}, ${last.end})  ${last.size} bytes`] : []),
				`age jobs    ${age.chunks} chunk(s) of ${formatBytes(age.chunkSize)}${age.checkpoint ? ', with a checkpoint' : ', one piece without a checkpoint (under the chunkThreshold setting)'}: encrypt and decrypt use whole 64 KiB blocks`,
				'',
			].join('\n'),
		);
		return exitCodes.ok;
	},
});
