/**
 * The dashboard's mount API, shared by live jobs (the `--progress tui` session extension) and
 * `cage watch`: mount, push events, learn when the user quits, close with a final summary.
 */
// First: React's build is chosen when React loads. (No JSX in this file, so that no
// react/jsx-runtime import is hoisted above this one.)
import './production-react.js';
import {render} from 'ink';
import {createElement} from 'react';
import type {CageEvent, JobControl} from '../chunker/events.js';
import type {Settings} from '../config.js';
import {Dashboard} from './Dashboard.js';
import {openKeyInput} from './key-input.js';
import {DashboardStore} from './store.js';
import {loadTheme, ThemeError, type Theme} from './theme.js';

export {ThemeError};

export type DashboardOptions = {
	/** Where Ink renders. */
	stderr: NodeJS.WriteStream;
	/** Theme name or path (an invalid one throws ThemeError), or one already loaded. */
	theme: string | Theme;
	settings: Settings;
	/** Live job: keys act on it. Absent in watch mode: p/s/r say read-only; q just quits. */
	control?: JobControl;
	mode: 'live' | 'watch';
	/** Watch mode: open on the jobs table of every job seen (default), rather than one job's view. */
	overview?: boolean;
};

export type DashboardHandle = {
	/** Feed one event (live or tailed); cheap, batching is the dashboard's job. */
	push(event: CageEvent): void;
	/** Watch mode: the lines already in the logs are read (until then the views say they are being read). */
	historyRead(): void;
	/** Resolves when the user presses q or Ctrl-C. */
	quitRequested: Promise<void>;
	/** Render the final frame/summary, unmount, restore the terminal. */
	close(): Promise<void>;
};

/** The most frames per second the dashboard draws, however fast events arrive. */
export const maxFps = 10;

/** Mount the dashboard on `options.stderr`. Throws ThemeError before drawing anything. */
export function mountDashboard(options: DashboardOptions): DashboardHandle {
	const theme = typeof options.theme === 'string' ? loadTheme(options.theme) : options.theme;
	const store = new DashboardStore({overview: options.mode === 'watch' && options.overview !== false, history: options.mode === 'watch'});
	const keys = openKeyInput();
	let quit: () => void = () => undefined;
	const quitRequested = new Promise<void>(resolve => {
		quit = resolve;
	});
	const element = (final: boolean) =>
		createElement(Dashboard, {store, theme, mode: options.mode, control: options.control, onQuit: () => quit(), final, fps: maxFps});
	const instance = render(element(false), {
		stdout: options.stderr,
		stderr: options.stderr,
		stdin: keys.stream,
		exitOnCtrlC: false,
		patchConsole: false,
		maxFps,
		// Not incrementalRendering: in Ink 6.8 it leaves a stale line above the dashboard when a
		// frame is taller than the one before (the first frame is a two-line placeholder).
	});
	let closing: Promise<void> | undefined;
	return {
		push(event) {
			store.push(event);
		},
		historyRead() {
			store.endHistory();
		},
		quitRequested,
		async close() {
			closing ??= (async () => {
				instance.rerender(element(true));
				instance.unmount();
				await instance.waitUntilExit().catch(() => undefined);
				keys.close();
			})();
			return closing;
		},
	};
}
