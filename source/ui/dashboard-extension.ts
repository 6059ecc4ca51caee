/**
 * The `--progress tui` session extension: mounts the dashboard on stderr for a live job, feeds it
 * every event, and closes it (final summary, terminal restored) when the job ends, before the
 * session prints its resume line. Imported for its side effect by the CLI.
 */
// First: the CLI imports this module before any command, so React (loaded later by the dashboard
// or `cage watch`) gets its production build.
import './production-react.js';
import v8 from 'node:v8';
import type {CageEvent} from '../chunker/events.js';
import {registerSessionExtension} from '../session/session.js';
import type {DashboardHandle} from './mount.js';
import {loadTheme} from './theme.js';

/** The longest the dashboard waits for a job's first chunk before it loads anyway. */
const mountDelayMs = 250;

/**
 * V8 optimises a function once it has run a set amount of bytecode. React and Ink run a lot of
 * distinct code a few times per frame, so in a job's first seconds V8's optimising compiler spent
 * more CPU on them (on background threads, beside the cipher workers) than the frames themselves:
 * 0.2–0.3 s on a 1 GiB encryption. Sixteen times node 20's default budget (66 KiB) leaves that
 * code to the baseline compilers unless it stays hot, and cut the dashboard's CPU on that job by
 * half. The flag is process-wide; the cipher workers' JavaScript is a short loop around native
 * calls, which still gets optimised.
 */
function lazierOptimizer(): void {
	v8.setFlagsFromString('--interrupt-budget=1081344');
}

registerSessionExtension({
	draws: true,
	async attach({emitter, control, options}) {
		if (options.progress !== 'tui') return undefined;
		// A bad theme is refused before the job starts (and before any file is written).
		const theme = loadTheme(options.theme ?? options.settings.theme);
		// React, Ink and the layout engine take about 0.15 s of CPU to load. They load once the
		// workers have their first chunks (or after `mountDelayMs`, for a job that is slow to get
		// there, such as a resume re-verifying chunks), so that loading them never delays the
		// work; the dashboard then replays what happened meanwhile.
		const early: CageEvent[] = [];
		let push = (event: CageEvent) => {
			early.push(event);
			if (event.type === 'chunk:start' || event.type === 'job:done') setImmediate(load);
		};

		let mounted: Promise<DashboardHandle> | undefined;
		function load(): Promise<DashboardHandle> {
			clearTimeout(timer);
			if (mounted) return mounted;
			lazierOptimizer();
			mounted = import('./mount.js').then(({mountDashboard}) => {
				const dashboard = mountDashboard({stderr: options.io.stderr, theme, settings: options.settings, control, mode: 'live'});
				for (const event of early.splice(0)) dashboard.push(event);
				push = event => dashboard.push(event);
				return dashboard;
			});
			// A failure to load surfaces in the finisher (the session reports it), not as a crash.
			mounted.catch(() => undefined);
			return mounted;
		}

		const timer = setTimeout(load, mountDelayMs);
		const detach = emitter.pipe(event => push(event));
		return async () => {
			const dashboard = await load();
			detach();
			await dashboard.close();
		};
	},
});
