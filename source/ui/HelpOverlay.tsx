import {Text} from 'ink';
import {Pane} from './Pane.js';
import type {Theme} from './theme.js';

type Props = {theme: Theme; width: number; height: number; mode: 'live' | 'watch'};

const liveKeys: Array<[string, string]> = [
	['p, space', 'pause / resume (a checkpoint is saved on pause)'],
	['s', 'skip the current file (batches)'],
	['r', 'retry failed chunks or files'],
	['q, Ctrl-C', 'quit: save the checkpoint and exit (resume with cage resume)'],
];

const watchKeys: Array<[string, string]> = [
	['←/→, j/k', 'show the previous / next job'],
	['q, Ctrl-C', 'stop watching'],
	['p, s, r', 'not available: watching a log is read-only'],
];

const commonKeys: Array<[string, string]> = [
	['tab', 'move focus: chunks, anomalies, audit tail'],
	['↑/↓, PgUp/PgDn', 'scroll the focused pane'],
	['?', 'show / hide this help'],
];

/** The keys and what they do. */
export function HelpOverlay({theme, width, height, mode}: Props) {
	const keys = [...(mode === 'live' ? liveKeys : watchKeys), ...commonKeys];
	return (
		<Pane title="Help (? to close)" width={width} height={height} theme={theme} focused>
			{keys.map(([key, what]) => (
				<Text key={key} wrap="truncate">
					<Text bold color={theme.pane.accent}>
						{key.padEnd(16)}
					</Text>
					<Text color={theme.pane.text}>{what}</Text>
				</Text>
			))}
		</Pane>
	);
}
