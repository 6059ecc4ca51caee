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
	/** enter: open the selected job (the jobs table), or end typing a filter. */
	enter(): void;
	/** esc: close the help, clear the filter, or go back to the jobs table. */
	escape(): void;
	/** `/`: start typing a filter. */
	startFilter(): void;
	/** True while a filter is being typed: keys are its text. */
	typing(): boolean;
	/** A character typed into the filter (`null`: backspace). */
	filterKey(text: string | null): void;
	/** `o` / `O`: sort the jobs table by the next column / reverse it. */
	sort(reverse: boolean): void;
	/** Ctrl-Z: suspend (or say why not). */
	suspend(): void;
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
			// plain character as a key of its own (Enter among them is Enter: it ends a filter being typed).
			if (input.length > 1 && !key.ctrl && !key.meta && !input.startsWith('\u001B')) {
				// Enter typed in the burst ends a filter being typed ("sql" then Enter arrives as "sql\r").
				for (const character of input) onKey(character === '\r' ? '' : character, {...key, return: character === '\r'});
				return;
			}

			if (key.ctrl && input === 'c') return actions.quit();
			if (actions.typing()) {
				if (key.escape) return actions.escape();
				if (key.return) return actions.enter();
				if (key.backspace || key.delete) return actions.filterKey(null);
				// Printable characters only: a control character in a title would break the frame.
				const text = [...input].filter(character => character >= ' ' && character !== '\u007F').join('');
				if (text && !key.ctrl && !key.meta && !key.tab && !key.upArrow && !key.downArrow && !key.leftArrow && !key.rightArrow) actions.filterKey(text);
				return;
			}

			if (key.ctrl && input === 'z') return actions.suspend();
			if (input === 'q') return actions.quit();
			if (key.escape) return actions.escape();
			if (key.return) return actions.enter();
			if (input === '/') return actions.startFilter();
			if (input === 'o' || input === 'O') return actions.sort(input === 'O');

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
