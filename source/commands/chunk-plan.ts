import path from 'node:path';
import {chunkAt, chunkCount, defaultChunkSize, planChunks} from '../chunker/plan.js';
import {readSettings} from '../config.js';
import {checkReadableFile} from '../io/files.js';
import {formatBytes} from '../size.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {sizeFlag} from './options.js';

/** Effective chunk size: the flag, else config, else the size-based default. */
export function resolveChunkSize(size: number, flag: number | undefined, configured: number): number {
	if (flag !== undefined) return flag;
	if (configured > 0) return configured;
	return defaultChunkSize(size);
}

/** `cage chunk plan`: how a file would be split, without reading it. */
export const chunkPlanCommand = defineCommand({
	name: 'chunk plan',
	summary: 'show how a file is split into chunks',
	help: `<file> [--chunk-size SIZE] [--json]

	Options
	  --chunk-size SIZE  chunk size: 1048576, 64KiB, 16MiB, 1GiB, 16M, 1G (default: config, else grows with the file)
	  --json             print {"file","size","chunkSize","chunks":[{"id","start","end","size"}]} on stdout

	Ranges are half-open: a chunk covers bytes start <= b < end.`,
	flags: {chunkSize: {type: 'string'}, json: {type: 'boolean'}},
	async run(cli, io) {
		const [file, ...extra] = cli.input;
		if (!file) throw new UsageError('missing <file>');
		if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]!}'`);
		const chunkSizeFlag = sizeFlag('chunk-size', cli.flags.chunkSize);
		const size = await checkReadableFile(file);
		const chunkSize = resolveChunkSize(size, chunkSizeFlag, readSettings().chunkSize);
		const count = chunkCount(size, chunkSize);
		if (cli.flags.json) {
			// Streamed line by line: a 1 TiB plan with small chunks has millions of entries.
			io.stdout.write(`{"file":${JSON.stringify(path.resolve(file))},"size":${size},"chunkSize":${chunkSize},"chunks":[`);
			let buffer = '';
			for (const chunk of planChunks(size, chunkSize)) {
				buffer += `${chunk.id === 0 ? '' : ','}{"id":${chunk.id},"start":${chunk.start},"end":${chunk.end},"size":${chunk.size}}`;
				if (buffer.length > 65_536) {
					io.stdout.write(buffer);
					buffer = '';
				}
			}

			io.stdout.write(`${buffer}]}\n`);
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
				'',
			].join('\n'),
		);
		return exitCodes.ok;
	},
});
