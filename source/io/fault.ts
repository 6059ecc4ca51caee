/**
 * Fault points for crash tests: `CAGE_FAULT=NAME` makes the process kill itself with SIGKILL at
 * the point named NAME, the way a power cut or `kill -9` would stop it there, at an instant no
 * outside signal can hit reliably (`batch-item-running`: a batch's manifest has just marked its
 * first file running, before that file's job starts); `slow-check` slows a resume's check of its partial output
 * (25 ms a MiB) so that a test can stop it in the middle; `slow-prune` pauses a prune for 15 ms
 * before each of its steps (each write, each file removed), so that random kills land inside it;
 * `slow-manifest` pauses a backup create for 3 s once its generation is encrypted, renamed into
 * place and its manifest built, just before the manifest is written (under the registry's lock),
 * so that a test can fill the disk at that very step; `low-space-state-removed`: a --low-space
 * lock or unlock has removed its source and its state, before its batch marks the file done. Unset (always, outside tests), nothing.
 */

/** The points a test can name. */
export type FaultPoint = 'after-final-rename' | 'slow-check' | 'batch-item-running' | 'backup-prune-journaled' | 'backup-prune-deleted' | 'slow-prune' | 'slow-manifest' | 'low-space-state-removed';

/** Whether the environment names this fault. */
export function faultActive(name: FaultPoint): boolean {
	return process.env.CAGE_FAULT === name;
}

/** Die here, at once and uncleanly, when the environment names this point. */
export function faultPoint(name: FaultPoint): void {
	if (faultActive(name)) process.kill(process.pid, 'SIGKILL');
}

/** Pause `ms` when the environment names this point (a slowed step for kill tests); else nothing. */
export async function faultPause(name: FaultPoint, ms: number): Promise<void> {
	if (faultActive(name)) await new Promise(resolve => setTimeout(resolve, ms));
}
