/**
 * Fault points for crash tests: `CAGE_FAULT=NAME` makes the process kill itself with SIGKILL at
 * the point named NAME, the way a power cut or `kill -9` would stop it there, at an instant no
 * outside signal can hit reliably. Unset (always, outside tests), a fault point does nothing.
 */

/** The points a test can name. */
export type FaultPoint = 'after-final-rename' | 'backup-prune-journaled' | 'backup-prune-deleted';

/** Die here, at once and uncleanly, when the environment names this point. */
export function faultPoint(name: FaultPoint): void {
	if (process.env.CAGE_FAULT === name) process.kill(process.pid, 'SIGKILL');
}
