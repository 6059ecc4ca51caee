/**
 * Leaving the process, also after its terminal went away (its window closed, its connection
 * dropped).
 */
import fs from 'node:fs';
import tty from 'node:tty';

/** Which of stdin, stdout and stderr were terminals when cage started. */
const startedOnTerminal = [0, 1, 2].map(fd => tty.isatty(fd));

/**
 * `process.exit(code)`. node 20 puts back, at exit, the terminal settings stdin, stdout and
 * stderr had at start, and aborts the process (SIGABRT, status 134, after the job had ended well)
 * when that fails, as it does on a terminal that is gone (EIO; later versions of node ignore the
 * failure, nodejs/node#58200). A descriptor that was a terminal and is one no longer is closed
 * first: node skips a closed one, and there is nothing left to restore on it.
 */
export function exitProcess(code: number): never {
	for (const [fd, was] of startedOnTerminal.entries()) {
		if (!was || tty.isatty(fd)) continue;
		try {
			fs.closeSync(fd);
		} catch {
			// Closed already.
		}
	}

	process.exit(code);
}
