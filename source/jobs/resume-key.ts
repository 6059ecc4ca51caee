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

/** The resume identity file's name inside the config directory. */
export const resumeIdentityName = 'resume-identity.txt';

/** The path of the resume identity. */
export function resumeIdentityPath(dir = configDir()): string {
	return path.join(dir, resumeIdentityName);
}

async function loadOrCreateIdentity(dir: string): Promise<string> {
	const file = resumeIdentityPath(dir);
	try {
		return parseIdentity(await fs.readFile(file, 'utf8'), file);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
	}

	await fs.mkdir(dir, {recursive: true, mode: 0o700});
	const identity = await generateX25519Identity();
	const recipient = await identityToRecipient(identity);
	const text = `# cage resume identity: wraps the secrets of checkpoints; keep it private\n# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`;
	try {
		// 'wx': never overwrite one another process made meanwhile.
		await fs.writeFile(file, text, {mode: 0o600, flag: 'wx'});
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		return parseIdentity(await fs.readFile(file, 'utf8'), file);
	}

	return identity;
}

function parseIdentity(text: string, file: string): string {
	const line = text.split('\n').find(line => line.startsWith('AGE-SECRET-KEY-1'));
	if (!line) throw new CheckpointError(`the resume identity ${file} is damaged (no AGE-SECRET-KEY line); delete it (checkpoints made with it cannot be resumed then)`);
	return line.trim();
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
	let identity: string;
	try {
		identity = parseIdentity(await fs.readFile(file, 'utf8'), file);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
			throw new CheckpointError(`cannot resume ${checkpointFile}: its secrets are wrapped to a resume identity, and ${file} does not exist (was the job started with another CAGE_CONFIG_DIR or by another user?)`);
		}

		throw error;
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
