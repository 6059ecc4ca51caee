/**
 * decodeKeys on the raw strings a terminal sends and Ink hands on as one input event: keys that
 * arrived in one read are each a key (two Escapes are two), an Escape and a printable character
 * are Alt and that character, sequences are their keys, a burst is a key per character.
 */
import {describe, expect, it} from 'vitest';
import {decodeKeys, type DecodedKey} from '../../source/ui/key-decoder.js';

/** A compact form: the name of a named key (with m- / c- / s- for Alt, Ctrl and Shift), else the character. */
const keys = (data: string) => decodeKeys(data).map(({input, name, ctrl, shift, meta}: DecodedKey) => `${meta ? 'm-' : ''}${ctrl ? 'c-' : ''}${shift ? 's-' : ''}${name ?? input}`);

describe('decodeKeys', () => {
	it('an Escape is a key of its own when followed by nothing, another Escape, a control character or a sequence', () => {
		expect(keys('\u001B')).toEqual(['escape']);
		expect(keys('\u001B\u001B')).toEqual(['escape', 'escape']);
		expect(keys('\u001B\u001B\u001B')).toEqual(['escape', 'escape', 'escape']);
		expect(keys('\u001B\r')).toEqual(['escape', 'return']);
		expect(keys('\u001B\t')).toEqual(['escape', 'tab']);
		expect(keys('\u001B\u007F')).toEqual(['escape', 'delete']);
		expect(keys('\u001B\u0003')).toEqual(['escape', 'c-c']);
		expect(keys('\u001B\u001B[A')).toEqual(['escape', 'up']);
		expect(keys('\u001B[A\u001B')).toEqual(['up', 'escape']);
		// Two Escapes and then a character: the Escapes stay two, the last one takes the character as Alt.
		expect(keys('\u001B\u001B/')).toEqual(['escape', 'm-/']);
	});

	it('an Escape and a printable character in one read are Alt and that character (what terminals send for Alt+x)', () => {
		expect(decodeKeys('\u001Bx')).toEqual([{input: 'x', ctrl: false, shift: false, meta: true}]);
		expect(keys('\u001Bq')).toEqual(['m-q']);
		expect(keys('\u001B/')).toEqual(['m-/']);
		expect(keys('\u001B?')).toEqual(['m-?']);
		expect(keys('\u001B ')).toEqual(['m- ']);
		expect(keys('\u001BX')).toEqual(['m-X']);
		expect(keys('\u001Bé')).toEqual(['m-é']);
		expect(keys('\u001B\u{1F600}')).toEqual(['m-\u{1F600}']);
		// Only the one character after the Escape: the rest of the read is keys of their own.
		expect(keys('\u001Bsql')).toEqual(['m-s', 'q', 'l']);
		expect(keys('a\u001Bbc')).toEqual(['a', 'm-b', 'c']);
		expect(keys('\u001Bp\u001Bq')).toEqual(['m-p', 'm-q']);
		// An unfinished sequence (Ink hands it on when nothing followed) is what Alt+[ and Alt+O send.
		expect(keys('\u001B[')).toEqual(['m-[']);
		expect(keys('\u001BO')).toEqual(['m-O']);
		// A plain key is never Alt.
		expect(decodeKeys('x')).toEqual([{input: 'x', ctrl: false, shift: false, meta: false}]);
	});

	it('arrows, pages, Shift-Tab, Delete, Home/End, in CSI and SS3 forms, with modifiers', () => {
		expect(keys('\u001B[A\u001B[B\u001B[C\u001B[D')).toEqual(['up', 'down', 'right', 'left']);
		expect(keys('\u001BOA\u001BOB\u001BOC\u001BOD')).toEqual(['up', 'down', 'right', 'left']);
		expect(keys('\u001B[5~\u001B[6~\u001B[3~')).toEqual(['pageup', 'pagedown', 'delete']);
		expect(keys('\u001B[H\u001B[F\u001B[1~\u001B[4~')).toEqual(['home', 'end', 'home', 'end']);
		expect(keys('\u001B[Z')).toEqual(['s-tab']);
		expect(keys('\u001B[1;5A\u001B[1;2B')).toEqual(['c-up', 's-down']);
	});

	it('sequences the dashboard does not know are no key (function keys, paste marks, focus, mouse)', () => {
		expect(keys('\u001BOP\u001B[15~\u001B[200~\u001B[201~\u001B[I\u001B[O\u001B[[A')).toEqual([]);
		expect(keys('a\u001B[15~b')).toEqual(['a', 'b']);
	});

	it('a burst is a key per character: text, Enter, Tab, Backspace, Ctrl keys', () => {
		expect(keys('sql\r')).toEqual(['s', 'q', 'l', 'return']);
		expect(keys('p\r')).toEqual(['p', 'return']);
		expect(keys('ab\tc\u007F\b\n')).toEqual(['a', 'b', 'tab', 'c', 'delete', 'backspace', 'return']);
		expect(keys('\u0003\u001A\u0010')).toEqual(['c-c', 'c-z', 'c-p']);
		expect(keys('é日\u{1F600}')).toEqual(['é', '日', '\u{1F600}']);
		// Other control characters are no key: a filter never takes one into its title.
		expect(keys('\u0000\u001C\u001F\u0085x')).toEqual(['x']);
	});
});
