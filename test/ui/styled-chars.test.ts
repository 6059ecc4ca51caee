import * as exact from '@alcalzone/ansi-tokenize';
import {describe, expect, it} from 'vitest';
import {maxCachedChars, styledCharsFromTokens, styledCharsToString, tokenize} from '../../source/ui/styled-chars.js';
import {prng} from '../helpers/prng.js';

const random = prng(11);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
// What chalk and Ink write: colours (16, 256, true colour), intensity that can coexist, other
// attributes, their end codes, full resets.
const codes = ['\u001B[31m', '\u001B[32m', '\u001B[39m', '\u001B[41m', '\u001B[49m', '\u001B[1m', '\u001B[2m', '\u001B[22m', '\u001B[3m', '\u001B[23m', '\u001B[4m', '\u001B[24m', '\u001B[7m', '\u001B[27m', '\u001B[0m', '\u001B[38;5;208m', '\u001B[38;2;10;20;30m', '\u001B[48;2;1;2;3m', '\u001B[90m'];
const texts = ['a', 'b', ' ', '·', '─', '│', '╭', '█', '▁', '●', '界', '😀', 'é', '12.5 MiB/s', '  '];

function styledLine(): string {
	let line = '';
	const parts = 1 + Math.floor(random() * 12);
	for (let index = 0; index < parts; index++) line += random() < 0.5 ? pick(codes) : pick(texts);
	return line;
}

/** A row as Ink's compositor builds it: blank cells, then styled characters of lines written over them. */
function row(): exact.StyledChar[] {
	const cells: exact.StyledChar[] = Array.from({length: 30}, () => ({type: 'char', value: ' ', fullWidth: false, styles: []}));
	const writes = Math.floor(random() * 4);
	for (let write = 0; write < writes; write++) {
		let x = Math.floor(random() * 25);
		for (const char of styledCharsFromTokens(tokenize(styledLine()))) cells[x++] = char;
	}

	return cells;
}

describe('styled chars (the binary composites Ink frames with them)', () => {
	it('tokenizes and styles lines as the library does, and returns the same arrays for a line seen before', () => {
		for (let index = 0; index < 2000; index++) {
			const line = styledLine();
			const tokens = tokenize(line);
			expect(tokens).toEqual(exact.tokenize(line));
			expect(tokenize(line)).toBe(tokens);
			expect(styledCharsFromTokens(tokens)).toEqual(exact.styledCharsFromTokens(exact.tokenize(line)));
			expect(styledCharsFromTokens(tokens)).toBe(styledCharsFromTokens(tokens));
		}
	});

	it('writes every row exactly as the library does', () => {
		for (let index = 0; index < 3000; index++) {
			const cells = row();
			expect(styledCharsToString(cells)).toBe(exact.styledCharsToString(cells));
		}

		expect(styledCharsToString([])).toBe(exact.styledCharsToString([]));
	});

	it('keeps answering right once the cache has been dropped for being full', () => {
		const first = tokenize('first line');
		for (let index = 0; index <= maxCachedChars / 10; index++) tokenize(`line ${String(index).padStart(5, '0')}`);
		// Dropped: the same text gives an equal array again, not the one cached before.
		expect(tokenize('first line')).not.toBe(first);
		expect(tokenize('first line')).toEqual(first);
		const line = '\u001B[1mbold\u001B[22m plain';
		expect(styledCharsToString(styledCharsFromTokens(tokenize(line)))).toBe(exact.styledCharsToString(exact.styledCharsFromTokens(exact.tokenize(line))));
		expect(tokenize('x', 0)).toEqual(exact.tokenize('x', 0));
	});
});
