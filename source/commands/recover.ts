/**
 * `cage unlock --recover FILE.age`: rebuild the plaintext of an interrupted lock or unlock
 * (source/inplace/recover.ts) into a new file or stdout, and say what was found and how each part
 * was proved. The job's own files are only read; `cage resume` finishes the job.
 */
import path from 'node:path';
import type {DecryptKey} from '../age/engine.js';
import {displayPath} from '../display-path.js';
import {exists, InputError, OutputExistsError} from '../io/files.js';
import {PartialOutput} from '../io/partial-output.js';
import {batchCheckpointName} from '../jobs/batch-job.js';
import {partialPath} from '../jobs/locate.js';
import {hasRoomFor} from '../inplace/low-space.js';
import {openRecovery} from '../inplace/recover.js';
import {shellQuote} from '../shell-quote.js';
import {exitCodes, type Io} from './command.js';

/** The line that finishes the job in place, when a batch manifest is found beside the file. */
async function finishLine(file: string): Promise<string> {
	const directory = path.dirname(path.resolve(file));
	if (await exists(path.join(directory, batchCheckpointName))) return `to finish the job in place instead: cage resume ${shellQuote(directory)}`;
	return `no interrupted batch is recorded in ${displayPath(directory)}; 'cage status' lists those below a directory`;
}

/** Write all of `data` to stdout, waiting when its reader is slower. */
async function writeOut(io: Io, data: Buffer): Promise<void> {
	if (io.stdout.write(data)) return;
	await new Promise<void>(resolve => io.stdout.once('drain', resolve));
}

/** Run --recover of `name` with `key`; `output` is -o (a path or '-'), else FILE.recovered. */
export async function runRecover(name: string, key: DecryptKey, output: string | undefined, io: Io): Promise<number> {
	const say = (line: string) => io.stderr.write(`cage unlock --recover: ${line}\n`);
	const recovery = await openRecovery(name, key);
	say(`${recovery.state}.`);
	if (recovery.whole) {
		say(`nothing to rebuild: ${displayPath(recovery.whole)} is whole (${recovery.size} bytes).`);
		say(await finishLine(recovery.whole));
		return exitCodes.ok;
	}

	const plain = path.resolve(name).replace(/\.age$/, '');
	const target = output ?? `${plain}.recovered`;
	if (target !== '-') {
		if (await exists(target)) throw new OutputExistsError(`${target} already exists; give -o another path (--recover never overwrites)`);
		const room = await hasRoomFor(path.dirname(path.resolve(target)), recovery.size + 64 * 1024);
		if (!room.fits) {
			throw new InputError(
				`${displayPath(target)} needs ${recovery.size} bytes and ${room.free} are free there: give -o a path on another disk, or -o - for stdout; nothing was written (${await finishLine(plain)})`,
			);
		}
	}

	for (const part of recovery.parts) say(`  bytes ${part.start}-${part.end} from ${displayPath(part.file)}: ${part.proof}`);
	if (target === '-') {
		await recovery.write({write: async bytes => writeOut(io, bytes)});
		say(`rebuilt ${recovery.size} bytes to stdout.`);
	} else {
		const {partial, file} = await PartialOutput.create(partialPath(target), target);
		let position = 0;
		try {
			await recovery.write({
				async write(bytes) {
					await file.write(bytes, 0, bytes.length, position);
					position += bytes.length;
				},
			});
			await file.sync();
			await file.close();
			await partial.commit();
		} catch (error) {
			await file.close().catch(() => undefined);
			await partial.discard();
			throw error;
		}

		say(`rebuilt ${displayPath(target)} (${recovery.size} bytes, mode 0600).`);
	}

	say(recovery.finish ? recovery.finish(target === '-' ? 'what was written to stdout' : displayPath(target)) : await finishLine(plain));
	return exitCodes.ok;
}
