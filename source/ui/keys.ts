/**
 * Every key of each view and what it does: the help overlay lists them, the status bar shows the
 * first ones, and the tmux tests check that each does what it says.
 */

/** The views with keys of their own: a live job, a watched job, `cage watch`'s jobs table. */
export type KeyView = 'live' | 'watch' | 'overview';

export type KeyHelp = [keys: string, what: string];

const commonJobKeys: KeyHelp[] = [
	['tab', 'move focus: chunks, anomalies, audit tail (the focused pane is marked *)'],
	['↑/↓, PgUp/PgDn', 'chunk map: move the cursor; anomalies, audit tail: scroll'],
	['←/→', 'chunk map: move the cursor'],
	['/', 'filter the audit tail and the anomalies (type, then enter)'],
	['esc', 'close the help, clear the filter'],
	['Ctrl-Z', 'suspend (fg continues)'],
	['?', 'show / hide this help'],
];

/** The keys of a view. */
export const viewKeys: Record<KeyView, KeyHelp[]> = {
	live: [
		['p, space', 'pause / resume (a checkpoint is saved on pause)'],
		['s', 'skip the current file (batches)'],
		['r', 'retry failed chunks or files'],
		['q, Ctrl-C', 'quit: save the checkpoint and exit (resume with cage resume)'],
		...commonJobKeys,
	],
	watch: [
		['esc', 'back to the jobs table (after closing the help and the filter)'],
		['j/k', 'show the next / previous job (←/→ too, outside the chunk map)'],
		['q, Ctrl-C', 'stop watching'],
		['p, s, r', 'not available: watching a log is read-only'],
		...commonJobKeys.filter(([key]) => key !== 'esc'),
	],
	overview: [
		['↑/↓, PgUp/PgDn', 'select a job'],
		['enter', 'open the selected job in the full dashboard (esc comes back)'],
		['/', 'filter the jobs by id, kind, source or state (type, then enter)'],
		['esc', 'close the help, clear the filter'],
		['o', 'sort by the next column: last line, started, state, progress, rate'],
		['O', 'reverse the order'],
		['q, Ctrl-C', 'stop watching'],
		['Ctrl-Z', 'suspend (fg continues)'],
		['?', 'show / hide this help'],
	],
};
