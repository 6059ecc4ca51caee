/**
 * kill -9 at random moments of a job and of the resumes that follow it: each kill is checked (the
 * data must be recoverable right then), and each job is then resumed — a resume killed in turn is
 * one more moment — until one runs to its end, whose result is checked. Chains of kills keep the
 * number of node start-ups (most of such a test's time on a loaded machine) near one per moment.
 */
import {expect} from 'vitest';
import {cage, startCage} from './cage.js';
import {prng} from './prng.js';

export type KillPlan = {
	/** How many kills in all. */
	moments: number;
	/** Kills in a row (a start, then resumes) before the job is let run to its end. */
	chain: number;
	seed: number;
	env: NodeJS.ProcessEnv;
	/** About how long one whole run takes (ms): the kills fall in [0, 1.1 × whole). */
	whole: number;
	/**
	 * When the job has begun the part under test (a --low-space job's first cut): half the kills
	 * wait for it, then fall in [0, 0.6 × whole) after it, so that more of them land in that part
	 * than in node's start-up.
	 */
	anchor?: () => boolean;
	/** Put the original back: a new job starts. */
	fresh(): void;
	/** The arguments of a fresh run. */
	start: string[];
	/** After a kill or a run: the arguments that continue the job, or undefined when it is finished. */
	next(): string[] | undefined;
	/** At a kill: throws (expect) unless the data is whole or recoverable; returns a name for the state found. */
	check(label: string): Promise<string>;
	/** A job ran to its end: throws unless its result is right. */
	finished(label: string): void;
};

/** Run the plan; returns the states the kills found, each with how many kills found it. */
export async function killAtMoments(plan: KillPlan): Promise<Map<string, number>> {
	const random = prng(plan.seed);
	const seen = new Map<string, number>();
	let moment = 0;
	while (moment < plan.moments) {
		plan.fresh();
		let args: string[] | undefined = plan.start;
		for (let link = 0; link < plan.chain && moment < plan.moments && args; link++) {
			const anchored = plan.anchor !== undefined && random() < 0.5;
			const delay = Math.floor(random() * plan.whole * (anchored ? 0.6 : 1.1));
			const job = startCage(args, {env: plan.env});
			let exited = false;
			void job.exited.then(() => (exited = true));
			while (anchored && !exited && !plan.anchor!()) await new Promise(resolve => setTimeout(resolve, 5));
			await new Promise(resolve => setTimeout(resolve, delay));
			job.child.kill('SIGKILL');
			await job.exited;
			const label = `moment ${moment} (${link === 0 ? 'start' : `resume ${link}`}, ${anchored ? `${delay} ms after the anchor` : `${delay} ms`})`;
			const state = await plan.check(label);
			seen.set(state, (seen.get(state) ?? 0) + 1);
			moment++;
			args = plan.next();
		}

		if (args) {
			const run = cage(args, {env: plan.env});
			expect(run.status, `the resume after moment ${moment - 1}: ${run.stderr}`).toBe(0);
			args = plan.next();
			expect(args, `after moment ${moment - 1}, the job is finished`).toBeUndefined();
		}

		plan.finished(`after moment ${moment - 1}`);
	}

	return seen;
}
