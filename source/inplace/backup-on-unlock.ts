/**
 * What an unlock does with the FILE.age it replaces when backups are on: it becomes the newest
 * generation of FILE in the backup registry (a rename when the backup directory is on the same
 * file system, else a synced copy), with its chunk manifest, and retention applies.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {ageChunkSize} from '../age/engine.js';
import {readHeaderStanzas} from '../age/header-stanzas.js';
import {finishGeneration, startGeneration} from '../backup/generations.js';
import {prune} from '../backup/prune.js';
import type {RetentionPolicy} from '../backup/retention.js';
import {syncDirectory} from '../io/files.js';
import {makePrivateDirectory} from '../io/private-file.js';

/** The chunk size recorded for generations an unlock keeps (their restore's unit of resume). */
const generationChunkSize = ageChunkSize(16 * 2 ** 20);

/** Whether the age file's header opens with a passphrase (scrypt) stanza. */
async function isPassphraseFile(ageFile: string): Promise<boolean> {
	const handle = await fs.open(ageFile, 'r');
	try {
		const head = Buffer.alloc(64 * 1024);
		const {bytesRead} = await handle.read(head, 0, head.length, 0);
		const stanzas = readHeaderStanzas(head.subarray(0, bytesRead), ageFile)?.stanzas ?? [];
		return stanzas.some(stanza => stanza.args[0] === 'scrypt');
	} finally {
		await handle.close();
	}
}

/** Move `ageFile` (the .age an unlock replaced with `plaintext`) into the backup registry in `dir`. Returns the generation's number. */
export async function keepAsBackup(ageFile: string, plaintext: string, dir: string, retention: RetentionPolicy, jobs: number): Promise<number> {
	await makePrivateDirectory(dir);
	const passphrase = await isPassphraseFile(ageFile);
	// The source of the generation is the plaintext the .age holds, as it is now (just written).
	const started = await startGeneration(dir, plaintext, {recipients: [], passphrase}, generationChunkSize, {force: true});
	if (started.kind !== 'started') throw new Error('a backup generation was not started');
	try {
		await fs.rename(ageFile, started.path);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
		// Another file system: a copy, synced before the .age goes.
		await fs.copyFile(ageFile, started.path, fs.constants.COPYFILE_EXCL);
		const handle = await fs.open(started.path, 'r');
		await handle.sync().finally(async () => handle.close());
		await fs.unlink(ageFile);
	}

	await syncDirectory(dir);
	await syncDirectory(path.dirname(ageFile));
	await finishGeneration(dir, plaintext, started.generation.generation, jobs);
	if (retention.keepLast > 0 || retention.keepDays > 0) await prune(dir, retention, {source: plaintext});
	return started.generation.generation;
}
