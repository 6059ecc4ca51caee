import process from 'node:process';
import {Box, Text, useStdin, useStdout} from 'ink';
import {useCallback, useEffect, useRef, useState} from 'react';
import {defaultSilentMs} from '../telemetry/overview.js';
import type {JobControl} from '../chunker/events.js';
import {selectedJob, selectJob} from '../telemetry/reducer.js';
import {ChunkState, type JobView} from '../telemetry/state.js';
import {Anomalies} from './Anomalies.js';
import {AuditTail} from './AuditTail.js';
import {BatchFiles} from './BatchFiles.js';
import {ChunkGrid, chunkMapGeometry} from './ChunkGrid.js';
import {Header} from './Header.js';
import {ReadingLog} from './ReadingLog.js';
import {HelpOverlay, type HelpView} from './HelpOverlay.js';
import {useRefState} from './hooks/use-ref-state.js';
import {jobRows, jobSortKeys, JobsTable, type JobSortKey} from './JobsTable.js';
import {focusOrder, useDashboardKeys, type FocusPane} from './hooks/use-dashboard-keys.js';
import {useFrame} from './hooks/use-frame.js';
import {useTerminalSize, type TerminalSize} from './hooks/use-terminal-size.js';
import {computeLayout} from './layout.js';
import {StatusBar} from './StatusBar.js';
import type {DashboardStore} from './store.js';
import {Summary} from './Summary.js';
import type {Theme} from './theme.js';
import {Throughput} from './Throughput.js';

export type DashboardProps = {
	store: DashboardStore;
	theme: Theme;
	mode: 'live' | 'watch';
	/** The live job; absent when watching a log (keys p/s/r are then read-only). */
	control?: JobControl | undefined;
	/** Called when the user presses q or Ctrl-C. */
	onQuit?: () => void;
	/** Render the end-of-job summary instead of the panes. */
	final?: boolean;
	/** Frames per second at most. */
	fps?: number;
	/** Fixed size (tests); else the terminal's, following resizes. */
	size?: TerminalSize;
	/** Clock for the elapsed time of live jobs and the silence of watched ones (tests). */
	now?: () => number;
	/** A watched job with no line for this long, not paused and not ended, is silent (or dead). */
	silentMs?: number;
	/** Whether a pid runs on this host, and this host's name (tests). */
	alive?: (pid: number) => boolean;
	host?: string;
};

/**
 * How far a list pane is scrolled from its newest entry, and how many entries the list had had
 * then: while scrolled, the view moves with the entries that arrive, so it stays on the lines the
 * user scrolled to.
 */
type ScrollState = {offset: number; at: number};
const unscrolled: Record<FocusPane, ScrollState> = {chunks: {offset: 0, at: 0}, anomalies: {offset: 0, at: 0}, audit: {offset: 0, at: 0}};

/** Entries ever added to a list pane (the lists themselves are capped). */
function listTotal(job: JobView, pane: 'anomalies' | 'audit'): number {
	return pane === 'audit' ? job.auditCount : job.anomalyCounts.info + job.anomalyCounts.warn + job.anomalyCounts.error;
}

function anchored(scroll: ScrollState, total: number): number {
	return scroll.offset > 0 ? scroll.offset + total - scroll.at : 0;
}

/** The live dashboard: header, throughput, chunk grid, anomalies, audit tail, status bar. */
export function Dashboard({store, theme, mode, control, onQuit, final = false, fps = 10, size, now = Date.now, silentMs = defaultSilentMs, alive, host}: DashboardProps) {
	const frame = useFrame(store, fps);
	const {columns, rows} = useTerminalSize(size);
	const {setRawMode, isRawModeSupported} = useStdin();
	const {stdout} = useStdout();
	// `cage watch` opens on the jobs table; enter shows a job in full, esc comes back.
	const [view, setView, viewRef] = useRefState<'overview' | 'job'>(store.overview ? 'overview' : 'job');
	const [row, setRow, rowRef] = useRefState(0);
	const [sort, setSort, sortRef] = useRefState<{key: JobSortKey; reverse: boolean}>({key: 'last', reverse: false});
	// One filter per view: the jobs table's, and the job view's (its audit tail and anomalies).
	const [filters, setFilters, filtersRef] = useRefState<{overview: string; job: string}>({overview: '', job: ''});
	const [typing, setTyping, typingRef] = useRefState(false);
	const helpRef = useRef(false);
	const [focus, setFocus] = useState<FocusPane>('chunks');
	const [scroll, setScroll] = useState<Record<FocusPane, ScrollState>>(unscrolled);
	const [help, setHelpState] = useState(false);
	const setHelp = (shown: boolean) => {
		helpRef.current = shown;
		setHelpState(shown);
	};
	// The chunk map's cursor, a cell index; read from a ref too, for keys faster than renders.
	const [cursor, setCursor] = useState(0);
	const cursorRef = useRef(0);
	const [message, setMessage] = useState<string | undefined>();
	const [stopping, setStopping] = useState(false);
	const messageTimer = useRef<NodeJS.Timeout | undefined>(undefined);
	// Keys may arrive faster than renders: read the latest focus and stop request from refs.
	const focusRef = useRef<FocusPane>('chunks');
	const stoppingRef = useRef(false);

	// A message that lasts until something happens (a skip, until the file is left) rather than 3 s.
	const messageUntil = useRef<(() => boolean) | undefined>(undefined);
	const say = useCallback((text: string, until?: () => boolean) => {
		setMessage(text);
		messageUntil.current = until;
		if (messageTimer.current) clearTimeout(messageTimer.current);
		if (until) return;
		messageTimer.current = setTimeout(() => setMessage(undefined), 3000);
		messageTimer.current.unref();
	}, []);
	useEffect(() => () => clearTimeout(messageTimer.current), []);

	/** Move the chunk map's cursor by `cells`, or by `lines` rows of cells. */
	const moveCursor = (cells: number, lines: number) => {
		const shown = selectedJob(store.state);
		if (!shown) return;
		const layout = computeLayout(columns, rows, {batch: Boolean(shown.batch)});
		const geometry = chunkMapGeometry(shown, layout.gridWidth, layout.grid, true);
		const next = Math.max(0, Math.min(Math.max(0, geometry.cells - 1), Math.min(cursorRef.current, geometry.cells - 1) + cells + lines * geometry.perRow));
		cursorRef.current = next;
		setCursor(next);
	};

	const overviewRows = () =>
		store.overview ? jobRows(store.overview, {now: now(), silentMs, filter: filtersRef.current.overview, sort: sortRef.current.key, reverse: sortRef.current.reverse, ...(alive ? {alive} : {}), ...(host ? {host} : {})}) : [];
	const resetJobView = () => {
		setScroll(unscrolled);
		cursorRef.current = 0;
		setCursor(0);
	};

	const switchJob = (delta: number) => {
		selectJob(store.state, delta);
		resetJobView();
		store.touch();
	};

	useDashboardKeys(
		{
			togglePause() {
				if (!control) return;
				if (control.paused) control.resume();
				else control.pause();
			},
			skip() {
				// Every chunk of a file is needed for a valid output: only a batch can skip (a file).
				if (!selectedJob(store.state)?.batch) return say('only a batch can skip (its current file)');
				control?.skip();
				const file = selectedJob(store.state)?.batch?.current?.index;
				// Said until the file is left (skipped, or done before the skip took).
				say('skip requested', () => selectedJob(store.state)?.batch?.current?.index !== file);
			},
			retry() {
				const shown = selectedJob(store.state);
				if (shown && !shown.batch && shown.chunkCounts[ChunkState.failed] === 0) return say('nothing has failed: nothing to retry');
				control?.retry();
				say('retry requested');
			},
			quit() {
				if (control && !stoppingRef.current) {
					stoppingRef.current = true;
					setStopping(true);
					say('stopping: saving the checkpoint…');
					control.abort('quit');
				}

				onQuit?.();
			},
			cycleFocus(delta) {
				if (viewRef.current === 'overview') return;
				const next = focusOrder[(focusOrder.indexOf(focusRef.current) + delta + focusOrder.length) % focusOrder.length]!;
				focusRef.current = next;
				setFocus(next);
			},
			scroll(delta) {
				if (viewRef.current === 'overview') {
					const next = Math.max(0, Math.min(overviewRows().length - 1, rowRef.current + delta));
					setRow(next);
					return;
				}

				const pane = focusRef.current;
				const shown = selectedJob(store.state);
				if (pane === 'chunks') return moveCursor(0, delta);
				if (!shown) return;
				// No further than the last screenful of the list.
				const visible = computeLayout(columns, rows, {batch: Boolean(shown.batch)}).bottom - 2;
				const length = pane === 'anomalies' ? shown.anomalies.length : shown.audit.length;
				const limit = Math.max(0, length - visible);
				// Up is newer in the anomalies (newest on top) and older in the audit tail (newest at the bottom).
				const step = pane === 'audit' ? -delta : delta;
				const total = listTotal(shown, pane);
				setScroll(current => ({...current, [pane]: {offset: Math.max(0, Math.min(limit, anchored(current[pane], total) + step)), at: total}}));
			},
			switchJob,
			horizontal(delta) {
				if (viewRef.current === 'overview') return;
				if (focusRef.current === 'chunks') moveCursor(delta, 0);
				else if (mode === 'watch') switchJob(delta);
			},
			toggleHelp() {
				setHelp(!helpRef.current);
			},
			readOnly() {
				say('read-only (watching a log)');
			},
			enter() {
				if (typingRef.current) return setTyping(false);
				if (viewRef.current !== 'overview' || !store.overview) return;
				const picked = overviewRows()[rowRef.current];
				if (!picked) return;
				if (!store.state.jobs.has(picked.job.id)) {
					return say(`job ${picked.job.id} is no longer held in full (the latest ${store.state.limits.jobs} are): cage watch --from-start --job ${picked.job.id}`);
				}

				store.state.selected = picked.job.id;
				resetJobView();
				setView('job');
				store.touch();
			},
			escape() {
				const which = viewRef.current;
				if (typingRef.current) {
					setTyping(false);
					setFilters({...filtersRef.current, [which]: ''});
				} else if (helpRef.current) {
					setHelp(false);
				} else if (filtersRef.current[which]) {
					setFilters({...filtersRef.current, [which]: ''});
				} else if (which === 'job' && store.overview) {
					setView('overview');
				}

				store.touch();
			},
			startFilter() {
				setHelp(false);
				setTyping(true);
				store.touch();
			},
			typing: () => typingRef.current,
			filterKey(text) {
				const which = viewRef.current;
				const current = filtersRef.current[which];
				setFilters({...filtersRef.current, [which]: text === null ? current.slice(0, -1) : current + text});
				if (which === 'overview') setRow(0);
				store.touch();
			},
			sort(reverse) {
				if (viewRef.current !== 'overview') return;
				const current = sortRef.current;
				setSort(reverse ? {...current, reverse: !current.reverse} : {key: jobSortKeys[(jobSortKeys.indexOf(current.key) + 1) % jobSortKeys.length]!, reverse: false});
			},
			suspend() {
				// Stopped by the shell's job control; `fg` continues it (SIGCONT) and the frame is drawn anew.
				if (process.platform === 'win32' || !isRawModeSupported) return say('Ctrl-Z: cannot suspend here (no job control); q quits');
				process.once('SIGCONT', () => {
					setRawMode(true);
					stdout.write('\u001B[2J\u001B[H');
					say('continued');
					store.touch();
				});
				setRawMode(false);
				process.kill(process.pid, 'SIGTSTP');
			},
		},
		{mode, control},
	);

	const {state} = store;
	const job = selectedJob(state);
	// A message of a key first; while the logs' history is read, that it is (the states are not final).
	const shownMessage = (messageUntil.current?.() ? undefined : message) ?? (store.history ? 'reading the log…' : undefined);
	if (final) {
		const jobs = state.order.map(id => state.jobs.get(id)!).filter(Boolean);
		const shown = jobs.slice(-3);
		return (
			<Box flexDirection="column" width={Math.min(columns, 100)}>
				{/* A live job that failed before it started has nothing to sum up: its error follows. */}
				{shown.length === 0 && mode === 'watch' ? <Text>no job events were received</Text> : null}
				{shown.map(view => (
					<Summary key={view.id} job={view} theme={theme} width={Math.min(columns, 100)} />
				))}
				{jobs.length > shown.length ? <Text color={theme.pane.muted}>…and {jobs.length - shown.length} earlier job(s)</Text> : null}
			</Box>
		);
	}

	const helpView: HelpView = mode === 'live' ? 'live' : view === 'overview' ? 'overview' : 'watch';
	const filterText = filters[view];
	const filterLine = typing ? `/${filterText}▏ (enter keeps it, esc clears it)` : filterText ? `filter '${filterText}' (esc clears it)` : undefined;
	if (view === 'overview' && store.overview) {
		const width = Math.max(60, columns);
		const height = Math.max(16, rows) - 1;
		const tableRows = store.history ? [] : overviewRows();
		const selectedRow = Math.min(row, Math.max(0, tableRows.length - 1));
		return (
			<Box flexDirection="column" width={width} height={height}>
				{help ? (
					<HelpOverlay theme={theme} width={width} height={height - 1} view="overview" />
				) : store.history ? (
					<ReadingLog overview={store.overview} theme={theme} width={width} height={height - 1} />
				) : (
					<JobsTable overview={store.overview} theme={theme} width={width} height={height - 1} rows={tableRows} selected={selectedRow} sort={sort.key} reverse={sort.reverse} filter={filterText} editing={typing} now={now()} frame={frame} />
				)}
				<StatusBar theme={theme} width={width} view="overview" paused={false} message={filterLine ?? shownMessage} />
			</Box>
		);
	}

	const layout = computeLayout(columns, rows, {batch: Boolean(job?.batch)});
	if (!job) {
		return (
			<Box flexDirection="column" width={layout.width}>
				<Text color={theme.pane.muted}>{mode === 'watch' ? 'waiting for events in the log…' : 'starting…'}</Text>
				<StatusBar theme={theme} width={layout.width} view={helpView} paused={false} message={shownMessage} />
			</Box>
		);
	}

	const elapsedMs = job.ending ? job.ending.durationMs : mode === 'live' ? Math.max(0, now() - job.startedAt) : job.lastTs - job.startedAt;
	const position = state.order.length > 1 ? `job ${state.order.indexOf(job.id) + 1}/${state.order.length}` : undefined;
	return (
		<Box flexDirection="column" width={layout.width} height={layout.height}>
			<Header job={job} theme={theme} width={layout.width} elapsedMs={elapsedMs} stopping={stopping} {...(position ? {position} : {})} />
			<Throughput job={job} theme={theme} width={layout.width} height={layout.throughput} frame={frame} />
			{/* Help takes the grid's rows too: at 80x24 the bottom panes alone are too short for it. */}
			{help ? (
				<HelpOverlay theme={theme} width={layout.width} height={layout.grid + layout.bottom} view={helpView} />
			) : (
				<>
					<Box flexDirection="row" width={layout.width} height={layout.grid}>
						{job.batch ? <BatchFiles job={job} theme={theme} width={layout.filesWidth} height={layout.grid} /> : null}
						<ChunkGrid job={job} theme={theme} width={layout.gridWidth} height={layout.grid} focused={focus === 'chunks'} frame={frame} cursor={cursor} />
					</Box>
					<Box flexDirection="row" width={layout.width} height={layout.bottom}>
						<Anomalies job={job} theme={theme} width={layout.anomaliesWidth} height={layout.bottom} focused={focus === 'anomalies'} scroll={anchored(scroll.anomalies, listTotal(job, 'anomalies'))} filter={filters.job} />
						<AuditTail job={job} theme={theme} width={layout.width - layout.anomaliesWidth} height={layout.bottom} focused={focus === 'audit'} scroll={anchored(scroll.audit, listTotal(job, 'audit'))} filter={filters.job} />
					</Box>
				</>
			)}
			<StatusBar theme={theme} width={layout.width} view={helpView} paused={job.state === 'paused'} skip={Boolean(job.batch)} message={filterLine ?? shownMessage} />
		</Box>
	);
}
