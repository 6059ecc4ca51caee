/**
 * Ink's frame compositor, made cheaper for the dashboard's bundle: `scripts/bundle.mjs` points
 * Ink's import of `@alcalzone/ansi-tokenize` (in its `output.js`, the only importer) here.
 *
 * Every frame, Ink turns each line it draws into one object per character (`tokenize`, then
 * `styledCharsFromTokens`), lays them on a grid, and turns each row back into a string with
 * `styledCharsToString`, which asks `diffAnsiCodes` what changed between every two neighbouring
 * cells. That builds three `Set`s per cell, even between two blank ones, and on a 120×40 screen it
 * was the largest part of a frame's CPU (with the garbage it leaves). Two changes, same output:
 *
 * - neighbouring cells whose style lists are equal, code by code, need no codes between them
 *   (`diffAnsiCodes` returns none for equal reduced lists), so that case skips the diff; any other
 *   pair still goes through the library;
 * - Ink's caches of tokenized lines live for one frame; here they last across frames (up to
 *   `maxCachedChars`), as
 *   the dashboard redraws mostly the same lines. Ink never changes the arrays it gets back.
 *
 * test/ui/styled-chars.test.ts checks both against the library on random styled text.
 */
import {
	ansiCodesToString,
	diffAnsiCodes,
	styledCharsFromTokens as styledCharsFromTokensExact,
	tokenize as tokenizeExact,
	type AnsiCode,
	type StyledChar,
	type Token,
} from '@alcalzone/ansi-tokenize';

export * from '@alcalzone/ansi-tokenize';

/**
 * How many characters of lines the cross-frame cache holds before it starts again. Each becomes
 * an object with its own list of styles (a few hundred bytes), so this bounds the cache to a few
 * MB: a 120×40 dashboard draws under 5 000 characters a frame, most of them again the next frame.
 */
export const maxCachedChars = 32_768;

let tokensByLine = new Map<string, Token[]>();
let cachedChars = 0;
const styledByTokens = new WeakMap<Token[], StyledChar[]>();

/** `tokenize` of the library, the same array for the same line (while cached). */
export function tokenize(text: string, endChar?: number): Token[] {
	if (endChar !== undefined) return tokenizeExact(text, endChar);
	let tokens = tokensByLine.get(text);
	if (tokens === undefined) {
		tokens = tokenizeExact(text);
		// Dropping the whole map is enough: lines that are still drawn come back on the next frame.
		if (cachedChars + text.length > maxCachedChars) {
			tokensByLine = new Map();
			cachedChars = 0;
		}

		tokensByLine.set(text, tokens);
		cachedChars += text.length;
	}

	return tokens;
}

/** `styledCharsFromTokens` of the library, once per tokens array (see `tokenize`). */
export function styledCharsFromTokens(tokens: Token[]): StyledChar[] {
	let chars = styledByTokens.get(tokens);
	if (chars === undefined) {
		chars = styledCharsFromTokensExact(tokens);
		styledByTokens.set(tokens, chars);
	}

	return chars;
}

function sameStyles(from: AnsiCode[], to: AnsiCode[]): boolean {
	if (from === to) return true;
	if (from.length !== to.length) return false;
	for (let index = 0; index < from.length; index++) {
		if (from[index]!.code !== to[index]!.code || from[index]!.endCode !== to[index]!.endCode) return false;
	}

	return true;
}

/** `styledCharsToString` of the library, without a diff between cells of equal style. */
export function styledCharsToString(chars: StyledChar[]): string {
	let result = '';
	for (let index = 0; index < chars.length; index++) {
		const char = chars[index]!;
		if (index === 0) result += ansiCodesToString(char.styles);
		else {
			const previous = chars[index - 1]!.styles;
			if (!sameStyles(previous, char.styles)) result += ansiCodesToString(diffAnsiCodes(previous, char.styles));
		}

		result += char.value;
		if (index === chars.length - 1) result += ansiCodesToString(diffAnsiCodes(char.styles, []));
	}

	return result;
}
