import {Text} from 'ink';
import {viewKeys, type KeyView} from './keys.js';
import {Pane} from './Pane.js';
import type {Theme} from './theme.js';

export type HelpView = KeyView;

type Props = {theme: Theme; width: number; height: number; view: HelpView};

/** The keys of the current view and what they do. */
export function HelpOverlay({theme, width, height, view}: Props) {
	return (
		<Pane title="Help (? or esc to close)" width={width} height={height} theme={theme} focused>
			{viewKeys[view].map(([key, what]) => (
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
