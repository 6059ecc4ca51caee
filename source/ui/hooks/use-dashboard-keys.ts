import {useInput, useStdin} from 'ink';
import type {JobControl} from '../../chunker/events.js';

export type FocusPane = 'chunks' | 'anomalies' | 'audit';
export const focusOrder: readonly FocusPane[] = ['chunks', 'anomalies', 'audit'];

export type KeyActions = {
	togglePause(): void;
	skip(): void;
	retry(): void;
	quit(): void;
	cycleFocus(delta: number): void;
	scroll(delta: number): void;
	switchJob(delta: number): void;
	/** ←/→: the chunk map's cursor when it has focus, else (watching) the previous / next job. */
	horizontal(delta: number): void;
	toggleHelp(): void;
	readOnly(): void;
};

/**
 * The dashboard's keys. Only active when the key stream is a terminal (raw mode), so a dashboard
 * without a tty simply takes no keys.
 */
export function useDashboardKeys(actions: KeyActions, {mode, control}: {mode: 'live' | 'watch'; control?: JobControl | undefined}): void {
	const {isRawModeSupported} = useStdin();
	useInput(
		function onKey(input, key) {
			// Keys typed in one burst ("p" then Enter, or a paste) arrive as one string: take each
			// plain character as a key of its own (Enter and other characters mean nothing here).
			if (input.length > 1 && !key.ctrl && !key.meta && !input.startsWith('\u001B')) {
				for (const character of input) onKey(character, {...key, return: false});
				return;
			}

			if ((key.ctrl && input === 'c') || input === 'q') {
				actions.quit();
				return;
			}

			if (key.tab) {
				actions.cycleFocus(key.shift ? -1 : 1);
				return;
			}

			if (key.upArrow) return actions.scroll(-1);
			if (key.downArrow) return actions.scroll(1);
			if (key.pageUp) return actions.scroll(-10);
			if (key.pageDown) return actions.scroll(10);
			if (input === '?') return actions.toggleHelp();
			if (key.leftArrow) return actions.horizontal(-1);
			if (key.rightArrow) return actions.horizontal(1);
			if (mode === 'watch') {
				if (input === 'k') return actions.switchJob(-1);
				if (input === 'j') return actions.switchJob(1);
			}

			if (input === 'p' || input === ' ' || input === 's' || input === 'r') {
				if (!control) return actions.readOnly();
				if (input === 's') return actions.skip();
				if (input === 'r') return actions.retry();
				actions.togglePause();
			}
		},
		{isActive: Boolean(isRawModeSupported)},
	);
}
