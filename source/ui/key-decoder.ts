/**
 * The keys in what the terminal sent. Ink cuts its input into events where an escape sequence
 * ends, but whatever arrived in one read before that stays one event, and its `useInput` takes an
 * event for a single key: two Escapes read together ("\x1b\x1b": typed, or sent by tmux, while a
 * frame was being drawn) were one Escape. In CI at 200x50 that was the Escape meant to clear a
 * filter right after the one that closed the help: the filter stayed. So every key in a read
 * counts: an Escape followed by another Escape, by a control character (Enter, Tab, Ctrl keys) or
 * by nothing is an Escape of its own, and the rest is read as keys in turn; a burst of characters
 * ("p" then Enter, a paste) is a key per character.
 *
 * An Escape followed by a printable character in the same read is that character with Alt
 * (`meta`): terminals send Alt+x as ESC x in one write, and an Escape typed alone arrives alone,
 * as it does in vim, readline or ncurses programs. It is the same bytes as an Escape and an "x"
 * typed so fast that they were read together, which is what this decoder made of them before
 * (Escape, then x); Alt+x read that way closed a help or a filter and then acted on x. The
 * dashboard has no Alt keys, so an Alt key does nothing (use-dashboard-keys.ts); the one case
 * given up is an Escape and a character typed within one read, which a person at a keyboard does
 * not do (the two Escapes of the CI case are kept: an Escape is not printable).
 */

/** The keys with names; other keys are the character typed. */
export type KeyName = 'escape' | 'return' | 'tab' | 'backspace' | 'delete' | 'up' | 'down' | 'left' | 'right' | 'pageup' | 'pagedown' | 'home' | 'end';

/** One key. */
export type DecodedKey = {
	/** The character typed (printable), the letter of a Ctrl key, or '' for a named key. */
	input: string;
	name?: KeyName;
	ctrl: boolean;
	shift: boolean;
	/** Alt (Meta): an Escape and a printable character in one read. */
	meta: boolean;
};

const escape = '\u001B';

const finalKeys: Record<string, KeyName> = {A: 'up', B: 'down', C: 'right', D: 'left', H: 'home', F: 'end', Z: 'tab'};
/** `ESC [ n ~` keys (vt220 style), by n. */
const tildeKeys: Record<string, KeyName> = {1: 'home', 3: 'delete', 4: 'end', 5: 'pageup', 6: 'pagedown', 7: 'home', 8: 'end'};

const named = (name: KeyName, {ctrl = false, shift = false} = {}): DecodedKey => ({input: '', name, ctrl, shift, meta: false});

/** Whether `code` is a printable character (no control character, no C1 code). */
const isPrintable = (code: number) => code >= 0x20 && code !== 0x7f && !(code >= 0x80 && code < 0xa0);

/**
 * The index just past the control sequence that starts at `start` (at its ESC), or -1 when none
 * is complete there: CSI (`ESC [` parameters, intermediates, a final byte; `ESC [ [` x of the Linux
 * console too) or SS3 (`ESC O` and one byte).
 */
function sequenceEnd(data: string, start: number): number {
	const kind = data[start + 1];
	if (kind === 'O') return start + 2 < data.length && isFinal(data.charCodeAt(start + 2)) ? start + 3 : -1;
	if (kind !== '[') return -1;
	let index = start + 2;
	if (data[index] === '[') index++;
	for (; index < data.length; index++) {
		const code = data.charCodeAt(index);
		if (code >= 0x20 && code <= 0x3f) continue;
		return isFinal(code) ? index + 1 : -1;
	}

	return -1;
}

function isFinal(code: number): boolean {
	return code >= 0x40 && code <= 0x7e;
}

/** The key a complete control sequence stands for, if the dashboard knows it (others are ignored). */
function sequenceKey(sequence: string): DecodedKey | undefined {
	const final = sequence.at(-1)!;
	if (sequence[1] === 'O') return finalKeys[final] ? named(finalKeys[final]) : undefined;
	const parameters = sequence.slice(2, -1);
	if (parameters.startsWith('[')) return undefined;
	const [first = '', modifier = '1'] = parameters.split(';');
	// xterm's modifier parameter: 1 + (shift 1, alt 2, ctrl 4).
	const bits = Math.max(0, Number.parseInt(modifier, 10) - 1 || 0);
	const modifiers = {shift: (bits & 1) !== 0, ctrl: (bits & 4) !== 0};
	if (final === '~') return tildeKeys[first] ? named(tildeKeys[first], modifiers) : undefined;
	if (final === 'Z') return named('tab', {shift: true});
	return finalKeys[final] && (first === '' || first === '1') ? named(finalKeys[final], modifiers) : undefined;
}

/** The keys in `data` (an input event of Ink: what one read gave, up to where a sequence ended). */
export function decodeKeys(data: string): DecodedKey[] {
	const keys: DecodedKey[] = [];
	let index = 0;
	while (index < data.length) {
		if (data[index] === escape) {
			const end = sequenceEnd(data, index);
			if (end !== -1) {
				const key = sequenceKey(data.slice(index, end));
				if (key) keys.push(key);
				index = end;
			} else {
				const next = data.codePointAt(index + 1);
				if (next !== undefined && isPrintable(next)) {
					// Alt and the character (an unfinished `ESC [` or `ESC O` too: Alt+[ and Alt+O send just that).
					const character = String.fromCodePoint(next);
					keys.push({input: character, ctrl: false, shift: false, meta: true});
					index += 1 + character.length;
				} else {
					keys.push(named('escape'));
					index++;
				}
			}

			continue;
		}

		const code = data.codePointAt(index)!;
		const character = String.fromCodePoint(code);
		index += character.length;
		if (character === '\r' || character === '\n') keys.push(named('return'));
		else if (character === '\t') keys.push(named('tab'));
		else if (character === '\b') keys.push(named('backspace'));
		else if (code === 0x7f) keys.push(named('delete'));
		else if (code >= 1 && code <= 26) keys.push({input: String.fromCharCode(code + 96), ctrl: true, shift: false, meta: false});
		else if (isPrintable(code)) keys.push({input: character, ctrl: false, shift: false, meta: false});
		// Other control characters (NUL, C1 codes, Ctrl-\ …) are no key of the dashboard.
	}

	return keys;
}
