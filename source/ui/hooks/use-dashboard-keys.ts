import {useStdin} from 'ink';
import {useEffect} from 'react';
import type {JobControl} from '../../chunker/events.js';
import {decodeKeys, type DecodedKey} from '../key-decoder.js';

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
 * without a tty simply takes no keys. Read from Ink's input events (what Ink's own `useInput`
 * reads), decoded by `decodeKeys`: one event may hold several keys (see key-decoder.ts).
 */
export function useDashboardKeys(actions: KeyActions, {mode, control}: {mode: 'live' | 'watch'; control?: JobControl | undefined}): void {
	const {isRawModeSupported, setRawMode, internal_eventEmitter: inputEvents} = useStdin();
	const active = Boolean(isRawModeSupported);
	useEffect(() => {
		if (!active) return;
		setRawMode(true);
		return () => setRawMode(false);
	}, [active, setRawMode]);

	useEffect(() => {
		if (!active) return;
		const onKey = ({input, name, ctrl, shift, meta}: DecodedKey): void => {
			if (ctrl && input === 'c') return actions.quit();
			// No key of the dashboard takes Alt: Alt+x is neither Escape nor x (see key-decoder.ts), in a filter too.
			if (meta) return;
			if (actions.typing()) {
				if (name === 'escape') return actions.escape();
				if (name === 'return') return actions.enter();
				if (name === 'backspace' || name === 'delete') return actions.filterKey(null);
				// Printable characters only (the decoder gives no other input): a control character in a title would break the frame.
				if (input && !ctrl && !name) actions.filterKey(input);
				return;
			}

			if (ctrl && input === 'z') return actions.suspend();
			if (input === 'q') return actions.quit();
			if (name === 'escape') return actions.escape();
			if (name === 'return') return actions.enter();
			if (input === '/') return actions.startFilter();
			if (input === 'o' || input === 'O') return actions.sort(input === 'O');
			if (name === 'tab') return actions.cycleFocus(shift ? -1 : 1);
			if (name === 'up') return actions.scroll(-1);
			if (name === 'down') return actions.scroll(1);
			if (name === 'pageup') return actions.scroll(-10);
			if (name === 'pagedown') return actions.scroll(10);
			if (input === '?') return actions.toggleHelp();
			if (name === 'left') return actions.horizontal(-1);
			if (name === 'right') return actions.horizontal(1);
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
		};

		const onInput = (data: string) => {
			for (const key of decodeKeys(data)) onKey(key);
		};

		inputEvents.on('input', onInput);
		return () => {
			inputEvents.off('input', onInput);
		};
	}, [active, inputEvents, actions, mode, control]);
}
