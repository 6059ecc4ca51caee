/**
 * The per-user resume identity: an age X25519 key in the config directory (mode 0600) to which a
 * checkpoint's secrets (file key, MAC key) are wrapped, so a checkpoint alone reveals nothing and
 * only this user on this machine (or whoever holds the key file) can resume the job.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {Decrypter, Encrypter, generateX25519Identity, identityToRecipient} from 'age-encryption';
import {configDir} from '../config.js';
import {CheckpointError} from '../chunker/checkpoint.js';
import {collect, streamOf} from '../age/library-io.js';
import {identityProblem} from '../age/keys.js';
import {makePrivateDirectory, writePrivateFile} from '../io/private-file.js';

/** The resume identity file's name inside the config directory. */
export const resumeIdentityName = 'resume-identity.txt';

/** The path of the resume identity. */
export function resumeIdentityPath(dir = configDir()): string {
	return path.join(dir, resumeIdentityName);
}

/**
 * How long a resume identity that holds no valid key is taken to be still being written by
 * another process, rather than damaged. cage itself links a whole file into place, but a file
 * system without hard links, or an older cage, creates it under its final name and writes it
 * afterwards, so a reader can see it empty for a moment.
 */
const beingCreatedMs = 5000;

/**
 * The resume identity in `file`, or undefined when there is none. A file without a valid key
 * that is younger than `beingCreatedMs` is read again until it has one; an older one is damaged.
 */
async function readIdentity(file: string): Promise<string | undefined> {
	const started = Date.now();
	for (;;) {
		let text: string;
		let modified: number;
		try {
			text = await fs.readFile(file, 'utf8');
			modified = (await fs.stat(file)).mtimeMs;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
			throw error;
		}

		const parsed = parseResumeIdentity(text);
		if ('identity' in parsed) return parsed.identity;
		// Bounded by our own clock too, so a modification time in the future cannot keep us here.
		const now = Date.now();
		if (now - modified > beingCreatedMs || now - started > beingCreatedMs) {
			throw new CheckpointError(
				`the resume identity ${file} is damaged (${parsed.problem}); restore it from a backup: checkpoints made with it cannot be resumed without it (only if it is lost, delete the file: new jobs then make a new one)`,
			);
		}

		await new Promise(resolve => setTimeout(resolve, 20));
	}
}

/** The key in the text of a resume identity file, or what is wrong with the file (never quoting a key). */
function parseResumeIdentity(text: string): {identity: string} | {problem: string} {
	const line = text.split('\n').find(line => line.startsWith('AGE-SECRET-KEY-1'));
	if (!line) return {problem: text.trim() === '' ? 'empty' : 'no AGE-SECRET-KEY line'};
	const identity = line.trim();
	const problem = identityProblem(identity);
	return problem === undefined ? {identity} : {problem: `its key is not valid: ${problem}`};
}

/**
 * The resume identity, made on first use. Concurrent first jobs (a batch, several terminals) race
 * to make it: each writes a whole key to a temp file and link()s it into place, so the file is
 * never seen empty or half-written, and exactly one wins; the others read the winner's (EEXIST).
 */
async function loadOrCreateIdentity(dir: string): Promise<string> {
	const file = resumeIdentityPath(dir);
	const existing = await readIdentity(file);
	if (existing !== undefined) return existing;
	await makePrivateDirectory(dir);
	const identity = await generateX25519Identity();
	const recipient = await identityToRecipient(identity);
	const text = `# cage resume identity: wraps the secrets of checkpoints; keep it private\n# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`;
	try {
		await writePrivateFile(file, text, {replace: false});
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		const winner = await readIdentity(file);
		// Made and deleted again meanwhile: try once more from the start.
		return winner ?? loadOrCreateIdentity(dir);
	}

	return identity;
}

/** Encrypt a small JSON-able secret to the resume identity; returns base64 of the age file. */
export async function wrapSecrets(secrets: Record<string, string>, dir = configDir()): Promise<{wrapped: string; recipient: string}> {
	const identity = await loadOrCreateIdentity(dir);
	const recipient = await identityToRecipient(identity);
	const encrypter = new Encrypter();
	encrypter.addRecipient(recipient);
	const wrapped = await collect(await encrypter.encrypt(streamOf(Buffer.from(JSON.stringify(secrets)))));
	return {wrapped: Buffer.from(wrapped).toString('base64'), recipient};
}

/** Decrypt secrets wrapped by `wrapSecrets`; the error says what to do when the key is missing. */
export async function unwrapSecrets(wrapped: string, checkpointFile: string, dir = configDir()): Promise<Record<string, string>> {
	const file = resumeIdentityPath(dir);
	const identity = await readIdentity(file);
	if (identity === undefined) {
		throw new CheckpointError(`cannot resume ${checkpointFile}: its secrets are wrapped to a resume identity, and ${file} does not exist (was the job started with another CAGE_CONFIG_DIR or by another user?)`);
	}

	const decrypter = new Decrypter();
	decrypter.addIdentity(identity);
	try {
		const plain = await collect(await decrypter.decrypt(streamOf(Buffer.from(wrapped, 'base64'))));
		return JSON.parse(Buffer.from(plain).toString('utf8')) as Record<string, string>;
	} catch {
		throw new CheckpointError(`cannot resume ${checkpointFile}: its secrets were wrapped to a different resume identity than ${file} (started with another CAGE_CONFIG_DIR or by another user?)`);
	}
}
