/**
 * The `--progress tui` session extension: mounts the dashboard on stderr for a live job, feeds it
 * every event, and closes it (final summary, terminal restored) when the job ends, before the
 * session prints its resume line. Imported for its side effect by the CLI.
 */
// First: the CLI imports this module before any command, so React (loaded later by the dashboard
// or `cage watch`) gets its production build.
import './production-react.js';
import {registerSessionExtension} from '../session/session.js';

registerSessionExtension({
	draws: true,
	async attach({emitter, control, options}) {
		if (options.progress !== 'tui') return undefined;
		// Loaded only when drawing: other modes never pay for React and Ink.
		const {mountDashboard} = await import('./mount.js');
		const dashboard = mountDashboard({
			stderr: options.io.stderr,
			theme: options.theme ?? options.settings.theme,
			settings: options.settings,
			control,
			mode: 'live',
		});
		const detach = emitter.pipe(event => dashboard.push(event));
		return async () => {
			detach();
			await dashboard.close();
		};
	},
});
