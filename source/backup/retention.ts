/**
 * Retention: which generations of one source a prune removes. Decided newest-first by generation
 * number, never by list order or clock (the older Cage's bug deleted the newest generation).
 *
 * - keep-all: keepLast 0 and keepDays 0.
 * - keep-last N: the N newest complete generations stay, older ones go.
 * - keep-days D: generations created more than D days ago go, except the newest complete one.
 * - keep-last-and-days: the N newest complete ones always stay; the others go only when older than D days.
 *
 * A generation still being written (`partial`) is never chosen, nor counted among the N; a
 * `damaged` or `missing` one newer than the N-th complete one stays (it is there to be looked at).
 */
import type {Generation} from './registry.js';

export type RetentionPolicy = {keepLast: number; keepDays: number};

const dayMs = 24 * 60 * 60 * 1000;

/** The generations `policy` removes, newest first. */
export function expiredGenerations(generations: readonly Generation[], policy: RetentionPolicy, now = Date.now()): Generation[] {
	if (policy.keepLast <= 0 && policy.keepDays <= 0) return [];
	const newestFirst = [...generations].sort((a, b) => b.generation - a.generation);
	const expired: Generation[] = [];
	let completeSeen = 0;
	for (const generation of newestFirst) {
		if (generation.status === 'partial') continue;
		if (generation.status === 'pruning') {
			expired.push(generation);
			continue;
		}

		const withinCount = policy.keepLast > 0 ? completeSeen < policy.keepLast : completeSeen === 0;
		if (generation.status === 'complete') completeSeen++;
		if (withinCount) continue;
		const old = now - Date.parse(generation.createdAt) > policy.keepDays * dayMs;
		if (policy.keepDays <= 0 || old) expired.push(generation);
	}

	return expired;
}
