/**
 * Which file a name leads to, as far as a later run can tell: what a job records of a file it may
 * replace or has written, so that a file put there by anything else is never taken for it.
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';

/**
 * A file's identity: inode and device, and size, modification and change times (an inode number
 * is reused at once by a new file on ext4; all five together are not).
 */
export type FileIdentity = {ino: number; dev: number; size: number; mtimeMs: number; ctimeMs: number};

/** What a rename keeps of a file's identity (it moves the change time): a finished output's. */
export type WrittenIdentity = Omit<FileIdentity, 'ctimeMs'>;

/** The identity of the file at `file`, if there is one. */
export async function identityOf(file: string): Promise<FileIdentity | undefined> {
	return identityFrom(await fs.stat(file).catch(() => undefined));
}

/** `identityOf`, synchronously. */
export function identityOfSync(file: string): FileIdentity | undefined {
	try {
		return identityFrom(fsSync.statSync(file));
	} catch {
		return undefined;
	}
}

function identityFrom(stat: FileIdentity | undefined): FileIdentity | undefined {
	return stat ? {ino: stat.ino, dev: stat.dev, size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs} : undefined;
}

/** Whether the file at `file` is the one `identity` recorded (unchanged, when it has a change time). */
export async function isIdentity(file: string, identity: FileIdentity | WrittenIdentity | undefined): Promise<boolean> {
	return sameIdentity(await identityOf(file), identity);
}

/** `isIdentity`, synchronously. */
export function isIdentitySync(file: string, identity: FileIdentity | WrittenIdentity | undefined): boolean {
	return sameIdentity(identityOfSync(file), identity);
}

function sameIdentity(now: FileIdentity | undefined, identity: FileIdentity | WrittenIdentity | undefined): boolean {
	if (!now || !identity) return false;
	const same = now.ino === identity.ino && now.dev === identity.dev && now.size === identity.size && now.mtimeMs === identity.mtimeMs;
	return same && (!('ctimeMs' in identity) || now.ctimeMs === identity.ctimeMs);
}

/** A recorded identity read back from JSON, if it is one. */
export function parseIdentity(value: unknown): FileIdentity | undefined {
	const record = value as Partial<FileIdentity> | undefined;
	const fields = ['ino', 'dev', 'size', 'mtimeMs', 'ctimeMs'] as const;
	return record && typeof record === 'object' && fields.every(field => typeof record[field] === 'number') ? (record as FileIdentity) : undefined;
}
