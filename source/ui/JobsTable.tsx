import os from 'node:os';
import {Text} from 'ink';
import {useMemo} from 'react';
import {auditTailJob} from '../audit/format.js';
import {formatDuration, formatRate} from '../size.js';
import {describeEvent} from '../telemetry/describe.js';
import {jobProgress, jobRate, liveState, type JobSummary, type LiveState, type Overview} from '../telemetry/overview.js';
import {fit, fitPath} from './format.js';
import {Pane} from './Pane.js';
import type {Theme} from './theme.js';

/** What the table can be sorted by (`o` cycles, `O` reverses). */
export const jobSortKeys = ['last', 'started', 'state', 'progress', 'rate'] as const;
export type JobSortKey = (typeof jobSortKeys)[number];

/** Whether a process runs here; a pid we may not signal (EPERM) is alive too. */
export function processAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** A row of the table: the job and what it is now. */
export type JobRow = {job: JobSummary; state: LiveState};

/** How bad a state is, for sorting by state: the ones that need a look first. */
const stateRank: Record<LiveState, number> = {dead: 0, failed: 1, silent: 2, interrupted: 3, paused: 4, running: 5, done: 6};

/** The rows shown: filtered by `filter` (id, kind, source, state; any case), sorted. */
export function jobRows(overview: Overview, {now, silentMs, filter, sort, reverse, alive = processAlive, host = os.hostname()}: {now: number; silentMs: number; filter: string; sort: JobSortKey; reverse: boolean; alive?: (pid: number) => boolean; host?: string}): JobRow[] {
	const needle = filter.toLowerCase();
	const rows: JobRow[] = [];
	for (const job of overview.jobs.values()) {
		// The watcher's own reports (malformed lines, silences) are no job: they show in its anomalies.
		if (job.id === auditTailJob) continue;
		const state = liveState(job, now, silentMs, host, alive);
		if (needle && ![job.id, job.kind ?? '', job.source ?? '', state].some(field => field.toLowerCase().includes(needle))) continue;
		rows.push({job, state});
	}

	const value = ({job, state}: JobRow): number => {
		switch (sort) {
			case 'last': {
				return -job.lastTs;
			}

			case 'started': {
				return job.order;
			}

			case 'state': {
				return stateRank[state];
			}

			case 'progress': {
				return -(jobProgress(job) ?? -1);
			}

			case 'rate': {
				return -jobRate(job);
			}
		}
	};

	rows.sort((a, b) => value(a) - value(b) || a.job.order - b.job.order);
	if (reverse) rows.reverse();
	return rows;
}

type Props = {
	overview: Overview;
	theme: Theme;
	width: number;
	height: number;
	rows: JobRow[];
	/** Index of the selected row. */
	selected: number;
	sort: JobSortKey;
	reverse: boolean;
	filter: string;
	/** Typing a filter now (shows the cursor). */
	editing: boolean;
	now: number;
	/** Changes when the overview may have changed. */
	frame: number;
};

function stateColour(theme: Theme, state: LiveState): string | undefined {
	if (state === 'dead') return theme.severity.error;
	if (state === 'silent') return theme.severity.warn;
	return theme.state[state];
}

/** Fixed columns: state, kind, progress, rate, pid; source and the last line share the rest. */
const columns = {state: 11, kind: 7, progress: 6, rate: 11, pid: 7};

function ago(ms: number): string {
	return ms < 1000 ? 'now' : `${formatDuration(ms)} ago`;
}

/**
 * Every job in the watched logs, one row each: state (silent and dead included), kind, source,
 * progress, rate, pid and its last line. The selected row is marked with ▸ and shown inverse.
 */
export function JobsTable({overview, theme, width, height, rows, selected, sort, reverse, filter, editing, now, frame}: Props) {
	const inner = Math.max(1, width - 4);
	const visible = Math.max(1, height - 3);
	const flexible = Math.max(10, inner - 2 - Object.values(columns).reduce((a, b) => a + b + 1, 0));
	const sourceWidth = Math.max(6, Math.floor(flexible * 0.4));
	const lastWidth = Math.max(4, flexible - sourceWidth - 1);
	const first = Math.max(0, Math.min(selected - Math.floor(visible / 2), rows.length - visible));
	const shown = rows.slice(first, first + visible);
	const counts = useMemo(() => {
		const all: Partial<Record<LiveState, number>> = {};
		for (const row of rows) all[row.state] = (all[row.state] ?? 0) + 1;
		return all;
		// eslint-disable-next-line react-hooks/exhaustive-deps -- rows are rebuilt every frame
	}, [rows, frame]);
	const summary = (['running', 'paused', 'silent', 'dead', 'failed', 'interrupted', 'done'] as const)
		.filter(state => counts[state])
		.map(state => `${counts[state]} ${state}`)
		.join(' · ');
	const title = `Jobs ${rows.length}${filter || editing ? ` of ${overview.jobs.size} matching '${filter}${editing ? '▏' : ''}'` : ''}${summary ? ` · ${summary}` : ''}`;
	const arrow = reverse ? '▲' : '▼';
	const head = (name: string, key: JobSortKey | null, size: number, end = false) => {
		const text = `${name}${key === sort ? arrow : ''}`;
		return end ? text.padStart(size) : text.padEnd(size);
	};

	const header = `  ${head('state', 'state', columns.state)} ${head('kind', null, columns.kind)} ${head('source', null, sourceWidth)} ${head('done', 'progress', columns.progress, true)} ${head('rate', 'rate', columns.rate, true)} ${head('pid', null, columns.pid, true)} ${head('last line', 'last', lastWidth)}`;
	return (
		<Pane title={title} width={width} height={height} theme={theme} focused>
			<Text wrap="truncate" bold color={theme.pane.muted}>
				{fit(header, inner)}
			</Text>
			{rows.length === 0 ? <Text color={theme.pane.muted}>{overview.jobs.size === 0 ? 'no jobs in the log yet' : 'no job matches the filter (esc clears it)'}</Text> : null}
			{shown.map(({job, state}, index) => {
				const at = first + index === selected;
				const progress = jobProgress(job);
				const last = `${ago(Math.max(0, now - job.lastTs))} ${describeEvent(job.last)}`;
				return (
					<Text key={job.id} wrap="truncate" inverse={at}>
						{at ? '▸ ' : '  '}
						<Text color={at ? undefined : stateColour(theme, state)}>{state.padEnd(columns.state)}</Text> {(job.kind ?? '?').padEnd(columns.kind)}{' '}
						{fitPath(job.source ?? (job.kind === null ? job.id : 'stdin'), sourceWidth).padEnd(sourceWidth)} {(progress === null ? '--' : `${(progress * 100).toFixed(1)}%`).padStart(columns.progress)}{' '}
						{formatRate(jobRate(job)).padStart(columns.rate)} {String(job.pid ?? '').padStart(columns.pid)} <Text color={at ? undefined : theme.pane.muted}>{fit(last, lastWidth)}</Text>
					</Text>
				);
			})}
		</Pane>
	);
}
