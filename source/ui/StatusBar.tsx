import {Box, Text} from 'ink';
import {fit} from './format.js';
import type {KeyView} from './keys.js';
import type {Theme} from './theme.js';

type Props = {
	theme: Theme;
	width: number;
	view: KeyView;
	paused: boolean;
	/** Whether `s` can skip something (a batch's current file); single files cannot be skipped. */
	skip?: boolean;
	/** A transient message (e.g. read-only in watch mode). */
	message?: string | undefined;
};

/** The keys, and a message line when there is one. */
export function StatusBar({theme, width, view, paused, skip = false, message}: Props) {
	const keys =
		view === 'live'
			? `${paused ? 'p resume' : 'p pause'}${skip ? ' · s skip' : ''} · r retry · q quit · tab focus · ↑↓ scroll · / filter · ? help`
			: view === 'watch'
				? 'esc jobs · j/k job · q quit · tab focus · ↑↓ scroll · / filter · ? help'
				: '↑↓ select · enter open · / filter · o sort · q quit · ? help';
	return (
		<Box width={width} justifyContent="space-between" flexShrink={0}>
			<Text color={theme.pane.muted} wrap="truncate">
				{fit(keys, message ? Math.max(10, width - message.length - 2) : width)}
			</Text>
			{message ? (
				<Text bold color={theme.pane.accent} wrap="truncate">
					{message}
				</Text>
			) : null}
		</Box>
	);
}
