import {Box, Text} from 'ink';
import type {ReactNode} from 'react';
import {fit} from './format.js';
import type {JobView} from '../telemetry/state.js';
import type {Theme} from './theme.js';

type Props = {
	title: string;
	width: number;
	height: number;
	theme: Theme;
	focused?: boolean;
	children?: ReactNode;
};

/** A bordered pane with its title in the top border; content is `width - 4` by `height - 2`. */
export function Pane({title, width, height, theme, focused = false, children}: Props) {
	const colour = focused ? theme.pane.focus : theme.pane.border;
	const label = fit(focused ? `${title} *` : title, Math.max(0, width - 6));
	const rule = '─'.repeat(Math.max(0, width - label.length - 5));
	return (
		<Box flexDirection="column" width={width} height={height} flexShrink={0}>
			<Text color={colour} wrap="truncate">
				{'╭─ '}
				<Text bold color={focused ? theme.pane.focus : theme.pane.title}>
					{label}
				</Text>
				{` ${rule}╮`}
			</Text>
			<Box borderStyle="round" borderTop={false} borderColor={colour} flexDirection="column" paddingX={1} height={height - 1} overflow="hidden">
				{children}
			</Box>
		</Box>
	);
}

/** Props of a pane that lists a job's lines and scrolls when focused (anomalies, audit tail). */
export type ScrollPaneProps = {
	job: JobView;
	theme: Theme;
	width: number;
	height: number;
	focused?: boolean;
	/** Lines scrolled away from the newest. */
	scroll?: number;
	/** Show only the lines that contain this (any case). */
	filter?: string;
};
