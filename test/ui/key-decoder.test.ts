/**
 * decodeKeys on the raw strings a terminal sends and Ink hands on as one input event: keys that
 * arrived in one read are each a key (two Escapes are two), sequences are their keys, a burst is a
 * key per character.
 */
import {describe, expect, it} from 'vitest';
import {decodeKeys, type DecodedKey} from '../../source/ui/key-decoder.js';

/** A compact form: the name of a named key (with c- / s- for Ctrl and Shift), else the character. */
const keys = (data: string) => decodeKeys(data).map(({input, name, ctrl, shift}: DecodedKey) => `${ctrl ? 'c-' : ''}${shift ? 's-' : ''}${name ?? input}`);

describe('decodeKeys', () => {
	it('an Escape is a key of its own, whatever follows it in the same read', () => {
		expect(keys('\u001B')).toEqual(['escape']);
		expect(keys('\u001B\u001B')).toEqual(['escape', 'escape']);
		expect(keys('\u001B\u001B\u001B')).toEqual(['escape', 'escape', 'escape']);
		expect(keys('\u001B/')).toEqual(['escape', '/']);
		expect(keys('\u001B?')).toEqual(['escape', '?']);
		expect(keys('\u001Bq')).toEqual(['escape', 'q']);
		expect(keys('\u001B\r')).toEqual(['escape', 'return']);
		expect(keys('\u001B\t')).toEqual(['escape', 'tab']);
		expect(keys('\u001B ')).toEqual(['escape', ' ']);
		expect(keys('\u001B\u001B[A')).toEqual(['escape', 'up']);
		expect(keys('\u001B[A\u001B')).toEqual(['up', 'escape']);
		// An unfinished sequence (Ink hands it on when nothing followed): an Escape and the character.
		expect(keys('\u001B[')).toEqual(['escape', '[']);
		expect(keys('\u001BO')).toEqual(['escape', 'O']);
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
