/**
 * Which files other processes hold open for writing (Linux's /proc): a lock refuses those, as the
 * file may be written while it is encrypted and removed. Processes of other users are not visible
 * without privileges; a file written later during the job is caught by its change (the job stops).
 */
import fs from 'node:fs/promises';

/** O_WRONLY | O_RDWR in /proc/PID/fdinfo's octal `flags`. */
const writeModes = 0o1 | 0o2;

/**
 * Which of `files` (absolute real paths) another process has open for writing, as far as /proc
 * shows; none where there is no /proc. Each descriptor's link is read (cheap), and its flags only
 * for the files asked about.
 */
export async function filesOpenForWriting(files: Set<string>): Promise<Set<string>> {
	const found = new Set<string>();
	const pids = (await fs.readdir('/proc').catch(() => [] as string[])).filter(pid => /^\d+$/.test(pid) && Number(pid) !== process.pid);
	await Promise.all(
		pids.map(async pid => {
			const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
			for (const fd of fds) {
				const target = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
				if (!files.has(target)) continue;
				const info = await fs.readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
				const flags = Number.parseInt(/^flags:\s+([0-7]+)/m.exec(info)?.[1] ?? '0', 8);
				if ((flags & writeModes) !== 0) found.add(target);
			}
		}),
	);
	return found;
}
