/**
 * Small private files (keys, settings) that appear whole or not at all: the text goes to a temp
 * file beside the target, created with mode 0600 and O_EXCL (so it is never readable by others,
 * not even for a moment, and a symlink planted under its name is not followed), is fsynced, and
 * only then takes the target's name. A full disk or a crash leaves the old file (or none), never
 * an empty or half-written one under the final name.
 */
import {randomBytes} from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {syncDirectory} from './files.js';

/** link() errors of file systems without hard links (FAT, some network and FUSE mounts). */
const noHardLinks = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Create `file` (O_CREAT | O_EXCL: a new file, mode 0600 from its first moment), write `text`
 * and fsync it; on any failure the file is removed again.
 */
async function writeNew(file: string, text: string): Promise<void> {
	const handle = await fs.open(file, 'wx', 0o600);
	try {
		await handle.writeFile(text);
		await handle.sync();
		await handle.close();
	} catch (error) {
		await handle.close().catch(() => undefined);
		await fs.rm(file, {force: true}).catch(() => undefined);
		throw error;
	}
}

/** Write `text` to a new 0600 temp file in `file`'s directory; returns its path. */
async function writeTemporary(file: string, text: string): Promise<string> {
	const temporary = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
	await writeNew(temporary, text);
	return temporary;
}

/**
 * Put `text` at `file` (mode 0600), whole or not at all. `replace` renames it over whatever
 * `file` is (a symlink is replaced, not followed); without it an existing `file` (or symlink) is
 * never touched: the error has code EEXIST. A system error's `path` is `file`, never the temp
 * name. On a file system without hard links the no-replace case creates `file` with O_EXCL and
 * writes it there, removing it again if that fails.
 */
export async function writePrivateFile(file: string, text: string, {replace}: {replace: boolean}): Promise<void> {
	try {
		const temporary = await writeTemporary(file, text);
		try {
			if (replace) {
				await fs.rename(temporary, file);
			} else {
				try {
					await fs.link(temporary, file);
				} catch (error) {
					if (!noHardLinks.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
					// No hard links: a new file under the final name, removed if writing it fails.
					await writeNew(file, text);
				}
			}
		} finally {
			// After a rename the temp name is gone already; after link() or a failure it must go.
			await fs.rm(temporary, {force: true}).catch(() => undefined);
		}
	} catch (error) {
		// The user knows `file`, not the temp file: messages (describeError) name it.
		if ((error as NodeJS.ErrnoException).code !== undefined) (error as NodeJS.ErrnoException).path = file;
		throw error;
	}

	await syncDirectory(path.dirname(file));
}

/**
 * The directories `mkdir -p` just made, from `first` (the outermost one it created, as
 * `mkdir({recursive: true})` returns it) down to `dir`.
 */
function createdChain(first: string, dir: string): string[] {
	const top = path.resolve(first);
	const chain: string[] = [];
	for (let current = path.resolve(dir); ; current = path.dirname(current)) {
		chain.unshift(current);
		if (current === top || path.dirname(current) === current) return chain;
	}
}

/**
 * Create `dir` and any missing parents with mode 0700 (owner only), whatever the umask: mkdir's
 * mode is masked by it (a umask of 0 gave 0777 directories), so each directory this call created
 * is chmod'ed after it is made. Directories that already existed keep their mode: they are the
 * user's to set.
 */
export async function makePrivateDirectory(dir: string): Promise<void> {
	const first = await fs.mkdir(dir, {recursive: true, mode: 0o700});
	if (first === undefined) return;
	for (const created of createdChain(first, dir)) await fs.chmod(created, 0o700);
}

/** `makePrivateDirectory`, synchronous (for the audit logger, which appends synchronously). */
export function makePrivateDirectorySync(dir: string): void {
	const first = fsSync.mkdirSync(dir, {recursive: true, mode: 0o700});
	if (first === undefined) return;
	for (const created of createdChain(first, dir)) fsSync.chmodSync(created, 0o700);
}
