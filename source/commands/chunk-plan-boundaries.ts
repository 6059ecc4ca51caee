/** `cage chunk plan FILE --boundaries jsonl|json`: the record-aligned split, read from the file. */
import path from 'node:path';
import {FileInput} from '../io/files.js';
import {formatBytes} from '../size.js';
import {planRecordParts, type Boundaries, type SplitPlan} from '../sweep/boundaries.js';
import type {Io} from './command.js';
import {exitCodes, UsageError} from './command.js';

/** The --boundaries flag. */
export function boundariesFlag(value: string | undefined): Boundaries | undefined {
	if (value === undefined) return undefined;
	if (value !== 'jsonl' && value !== 'json') throw new UsageError(`--boundaries must be jsonl or json (got '${value}')`);
	return value;
}

/** Plan `file`'s parts cut at record boundaries (reads the whole file, in bounded memory). */
export async function planFileParts(file: string, boundaries: Boundaries, chunkSize: number): Promise<{size: number; plan: SplitPlan}> {
	const input = await FileInput.open(file);
	try {
		const plan = await planRecordParts(async (buffer, length, position) => input.read(buffer, 0, length, position), input.size, boundaries, chunkSize);
		return {size: input.size, plan};
	} finally {
		await input.close();
	}
}

/** What a record larger than a chunk is called. */
export function oversizedLine(plan: SplitPlan, chunkSize: number): string | null {
	if (plan.oversizedCount === 0) return null;
	const first = plan.oversized[0]!;
	return `${plan.oversizedCount} record(s) larger than a chunk (${formatBytes(chunkSize)}), so in a part of their own or with others past the chunk size; the first at byte ${first.start}, ${first.bytes} bytes`;
}

export async function printBoundaryPlan(file: string, boundaries: Boundaries, chunkSize: number, json: boolean, io: Io): Promise<number> {
	const {size, plan} = await planFileParts(file, boundaries, chunkSize);
	if (json) {
		io.stdout.write(`${JSON.stringify({file: path.resolve(file), size, chunkSize, boundaries, shape: plan.shape, parts: plan.parts.map((part, id) => ({id, ...part, size: part.end - part.start})), oversized: plan.oversized, oversizedCount: plan.oversizedCount})}\n`);
		return exitCodes.ok;
	}

	const first = plan.parts[0]!;
	const last = plan.parts.at(-1)!;
	const what = plan.shape === 'lines' ? 'lines' : plan.shape === 'array' ? 'elements of the top-level array' : 'top-level values';
	const warning = oversizedLine(plan, chunkSize);
	io.stdout.write(
		[
			`file        ${path.resolve(file)}`,
			`size        ${size} bytes (${formatBytes(size)})`,
			`chunk size  ${chunkSize} bytes (${formatBytes(chunkSize)}), each cut moved to the next record boundary (${boundaries}: ${what})`,
			`parts       ${plan.parts.length}`,
			`first       #0  [${first.start}, ${first.end})  ${first.end - first.start} bytes, ${first.records} record(s)`,
			...(plan.parts.length > 1 ? [`last        #${plan.parts.length - 1}  [${last.start}, ${last.end})  ${last.end - last.start} bytes, ${last.records} record(s)`] : []),
			...(plan.shape === 'array' && plan.parts.length > 1 ? ["array       each part is written as an array of its own: '[' before and ']' after its elements"] : []),
			...(warning ? [`warning     ${warning}`] : []),
			'',
		].join('\n'),
	);
	return exitCodes.ok;
}
