import fs from 'node:fs';
import path from 'node:path';
import stringWidthExact from 'string-width';
import {describe, expect, it} from 'vitest';
import stringWidth, {simpleRanges} from '../../source/ui/text-width.js';
import {prng} from '../helpers/prng.js';

const simpleCodePoints = simpleRanges.flatMap(([first, last]) => Array.from({length: last - first + 1}, (_, index) => first + index));

describe('text width (the binary measures Ink text with it)', () => {
	it('gives string-width’s width for every code point it answers itself, alone and between neighbours', () => {
		const wrong: string[] = [];
		for (const code of simpleCodePoints) {
			const character = String.fromCodePoint(code);
			for (const text of [character, `a${character}b`, `${character}${character}`, `\u2500${character}\u00e9`]) {
				if (stringWidth(text) !== stringWidthExact(text)) wrong.push(`U+${code.toString(16)} in ${JSON.stringify(text)}: ${stringWidth(text)}, string-width ${stringWidthExact(text)}`);
			}
		}

		expect(wrong).toEqual([]);
		// The ranges hold the dashboard's own characters.
		for (const character of '·×–…←↑→↓─│╭╮╰╯█▓▒░▁▂▃▄▅▆▇▏▎▍▌▋▊▉●') expect(simpleCodePoints).toContain(character.codePointAt(0));
	});

	it('agrees with string-width on random mixes of ASCII, those code points, colour codes and anything else', () => {
		const random = prng(7);
		const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
		const others = ['界', '😀', '👍🏽', '❤️', 'e\u0301', '\u200d', '\u0007', '\t', 'ﾞ', '한', '\u1100\u1161', '🇫🇷', '\u00ad'];
		const colours = ['\u001B[31m', '\u001B[39m', '\u001B[1m', '\u001B[22m', '\u001B[38;2;10;20;30m'];
		const parts = (withOthers: boolean): string => {
			let text = '';
			const length = Math.floor(random() * 40);
			for (let index = 0; index < length; index++) {
				const roll = random();
				if (roll < 0.4) text += String.fromCodePoint(0x20 + Math.floor(random() * 95));
				else if (roll < 0.8) text += String.fromCodePoint(pick(simpleCodePoints));
				else if (roll < 0.9 || !withOthers) text += pick(colours);
				else text += pick(others);
			}

			return text;
		};

		for (let round = 0; round < 20_000; round++) {
			const text = parts(round % 2 === 0);
			expect(stringWidth(text), JSON.stringify(text)).toBe(stringWidthExact(text));
		}
	});

	it('hands options other than the defaults to string-width', () => {
		expect(stringWidth('·×…', {ambiguousIsNarrow: false})).toBe(stringWidthExact('·×…', {ambiguousIsNarrow: false}));
		expect(stringWidth('·×…', {ambiguousIsNarrow: false})).toBe(6);
		expect(stringWidth('\u001B[31mab\u001B[39m', {countAnsiEscapeCodes: true})).toBe(stringWidthExact('\u001B[31mab\u001B[39m', {countAnsiEscapeCodes: true}));
		expect(stringWidth('')).toBe(0);
	});

	it('is what Ink, wrap-ansi and cli-truncate measure with in the built binary', () => {
		const bin = path.resolve(import.meta.dirname, '../../dist/bin');
		const sources = fs.readdirSync(bin).filter(name => name.endsWith('.js')).map(name => fs.readFileSync(path.join(bin, name), 'utf8'));
		const dashboard = sources.find(source => source.includes('// node_modules/ink/build/output.js'));
		expect(dashboard, 'no chunk of dist/bin holds Ink: run npm run build').toBeDefined();
		expect(dashboard).toContain('// dist/ui/text-width.js');
		// string-width 7 (wrap-ansi's own copy) and its emoji regex are no longer in the binary.
		expect(sources.some(source => source.includes('// node_modules/wrap-ansi/node_modules/string-width/') || source.includes('// node_modules/emoji-regex/'))).toBe(false);
	});
});
