import {Text} from 'ink';
import {auditTailJob} from '../audit/format.js';
import type {Overview} from '../telemetry/overview.js';
import {Pane} from './Pane.js';
import type {Theme} from './theme.js';

type Props = {
	overview: Overview;
	theme: Theme;
	width: number;
	height: number;
};

/**
 * The jobs table's place while the logs' history is read: how far the reading is, rather than
 * rows whose states are not final yet (a job shown running may have ended further on). A frame of
 * the table over a thousand jobs costs tens of milliseconds, redrawn for as long as a replay lasts.
 */
export function ReadingLog({overview, theme, width, height}: Props) {
	const jobs = overview.jobs.size - (overview.jobs.has(auditTailJob) ? 1 : 0);
	return (
		<Pane title="Jobs" width={width} height={height} theme={theme} focused>
			<Text color={theme.pane.muted} wrap="truncate">
				reading the log: {jobs} job{jobs === 1 ? '' : 's'} in {overview.version} line{overview.version === 1 ? '' : 's'} so far…
			</Text>
		</Pane>
	);
}
