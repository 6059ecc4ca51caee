/**
 * Which files a lock or an unlock takes: every named file, or every file below a named directory
 * (--recursive), each with the name it gets (`FILE` -> `FILE.age`, `FILE.age` -> `FILE`). Files
 * that are age files already (a lock) are skipped and counted; symbolic links are refused unless
 * followed; nothing is dropped silently.
 */
import type {Stats} from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {ageMagic} from '../age/header.js';
import {InputError} from '../io/files.js';
import {filesOpenForWriting} from './open-writers.js';
import type {BatchItem, LeftOut} from '../jobs/batch-job.js';

/** Lock (encrypt in place) or unlock (decrypt in place). */
export type InPlaceOp = 'lock' | 'unlock';

/** The metadata of the file a lock or unlock replaces, recorded when the batch is planned. */
export type OriginalMeta = {mode: number; uid: number; gid: number; atimeMs: number; mtimeMs: number; nlink: number};

/** A batch item of a lock or unlock: the original's metadata rides along in the manifest (no secrets). */
export type InPlaceItem = BatchItem & {original?: OriginalMeta};

/** What planning found. */
export type InPlacePlan = {items: InPlaceItem[]; alreadyDone: LeftOut[]; leftOut: LeftOut[]};

const armorStart = '-----BEGIN AGE ENCRYPTED FILE-----';

/** Whether the file starts like an age file (binary or armored). */
export async function looksLikeAge(file: string): Promise<boolean> {
	const handle = await fs.open(file, 'r').catch(() => undefined);
	if (!handle) return false;
	try {
		const head = Buffer.alloc(armorStart.length);
		const {bytesRead} = await handle.read(head, 0, head.length, 0);
		const text = head.subarray(0, bytesRead).toString('latin1');
		return text.startsWith(ageMagic) || text.startsWith(armorStart);
	} finally {
		await handle.close();
	}
}

/** Files cage itself writes beside its outputs (partial outputs, checkpoints, locks, atomic temp files). */
export function isCageArtifact(name: string): boolean {
	return name.endsWith('.partial') || name.endsWith('.low-space.json') || name.endsWith('.checkpoint.json') || name.endsWith('.checkpoint.json.lock') || name === '.cage-batch.checkpoint.json' || name === '.cage-batch.checkpoint.json.journal' || /\.tmp-\d+(-[\da-f]+)?$/.test(name);
}

function metaOf(stat: Stats): OriginalMeta {
	return {mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, atimeMs: stat.atimeMs, mtimeMs: stat.mtimeMs, nlink: stat.nlink};
}

/** Plan a lock or unlock of `inputs`. */
export async function planInPlace(op: InPlaceOp, inputs: string[], {recursive, follow}: {recursive: boolean; follow: boolean}): Promise<InPlacePlan> {
	const plan: InPlacePlan = {items: [], alreadyDone: [], leftOut: []};
	const seen = new Set<string>();
	const take = async (file: string, named: boolean): Promise<void> => {
		let stat = await fs.lstat(file).catch(() => undefined);
		if (!stat) throw new InputError(`${file}: no such file or directory`);
		let real = path.resolve(file);
		if (stat.isSymbolicLink()) {
			if (!follow) {
				if (named) throw new InputError(`${file} is a symbolic link: refused (pass --follow to ${op} the file it points to, in its own directory)`);
				plan.leftOut.push({path: file, reason: `a symbolic link: refused (pass --follow to ${op} the file it points to, in its own directory)`});
				return;
			}

			real = await fs.realpath(file).catch(() => '');
			stat = real ? await fs.stat(real).catch(() => undefined) : undefined;
			if (!stat) {
				plan.leftOut.push({path: file, reason: 'a broken symbolic link'});
				return;
			}
		}

		if (stat.isDirectory()) {
			if (!recursive) throw new InputError(`${file} is a directory; pass --recursive to ${op} the files in it`);
			if (seen.has(real)) return;
			seen.add(real);
			const names = (await fs.readdir(real)).sort((a, b) => a.localeCompare(b));
			for (const name of names) await take(path.join(real, name), false);
			return;
		}

		if (!stat.isFile()) {
			plan.leftOut.push({path: file, reason: 'not a regular file'});
			return;
		}

		if (isCageArtifact(path.basename(real))) {
			if (named) throw new InputError(`${file} is a file cage writes (a partial output or checkpoint); resume or remove its job instead`);
			plan.leftOut.push({path: file, reason: 'a file cage itself writes (partial output, checkpoint)'});
			return;
		}

		if (seen.has(real)) return;
		seen.add(real);
		const isAge = real.endsWith('.age') || (await looksLikeAge(real));
		if (op === 'lock') {
			if (isAge) {
				plan.alreadyDone.push({path: file, reason: 'already locked (an age file)'});
				return;
			}

			plan.items.push({source: real, output: `${real}.age`, size: stat.size, status: 'pending', original: metaOf(stat)});
			return;
		}

		if (!real.endsWith('.age')) {
			const reason = isAge ? 'an age file without the .age suffix: cage cannot name its plaintext (decrypt it with -o)' : 'not locked (no .age suffix)';
			if (named && !isAge) throw new InputError(`${file} is not locked (it does not end in .age)`);
			(isAge ? plan.leftOut : plan.alreadyDone).push({path: file, reason});
			return;
		}

		plan.items.push({source: real, output: real.slice(0, -'.age'.length), size: stat.size, status: 'pending', original: metaOf(stat)});
	};

	for (const input of inputs) await take(input, true);
	if (op === 'lock' && plan.items.length > 0) {
		// Written by another process right now: it would go on writing a file about to be removed.
		const busy = await filesOpenForWriting(new Set(plan.items.map(item => item.source)));

		const named = inputs.map(input => path.resolve(input));
		const refusedNamed = [...busy].find(file => named.includes(file));
		if (refusedNamed) throw new InputError(`${refusedNamed} is open for writing by another process: refused (lock it once that process is done with it)`);
		for (const file of busy) plan.leftOut.push({path: file, reason: 'open for writing by another process: refused'});
		plan.items = plan.items.filter(item => !busy.has(item.source));
	}

	return plan;
}
