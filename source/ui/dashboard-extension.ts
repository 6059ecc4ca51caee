/**
 * The `--progress tui` session extension: mounts the dashboard on stderr for a live job, feeds it
 * every event, and closes it (final summary, terminal restored) when the job ends, before the
 * session prints its resume line. Imported for its side effect by the CLI.
 */
// First: the CLI imports this module before any command, so React (loaded later by the dashboard
// or `cage watch`) gets its production build.
import './production-react.js';
import type {CageEvent} from '../chunker/events.js';
import {registerSessionExtension} from '../session/session.js';
import {loadTheme} from './theme.js';

registerSessionExtension({
	draws: true,
	async attach({emitter, control, options}) {
		if (options.progress !== 'tui') return undefined;
		const theme = options.theme ?? options.settings.theme;
		// A bad theme is refused before the job starts (and before any file is written).
		loadTheme(theme);
		// React, Ink and the layout engine take a good fraction of a second to load: the job starts
		// at once, and the dashboard mounts when they are ready, replaying what happened meanwhile.
		const early: CageEvent[] = [];
		let push = (event: CageEvent) => {
			early.push(event);
		};

		const detach = emitter.pipe(event => push(event));
		const mounted = import('./mount.js').then(({mountDashboard}) => {
			const dashboard = mountDashboard({stderr: options.io.stderr, theme, settings: options.settings, control, mode: 'live'});
			for (const event of early.splice(0)) dashboard.push(event);
			push = event => dashboard.push(event);
			return dashboard;
		});
		// A failure to load surfaces in the finisher (the session reports it), not as a crash.
		mounted.catch(() => undefined);
		return async () => {
			const dashboard = await mounted;
			detach();
			await dashboard.close();
		};
	},
});
