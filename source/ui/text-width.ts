/**
 * How many terminal columns a string takes, for the dashboard's bundle: `scripts/bundle.mjs`
 * points every `string-width` import of Ink and its helpers (wrap-ansi, cli-truncate, widest-line)
 * here.
 *
 * string-width segments text into grapheme clusters with `Intl.Segmenter` and tests each cluster
 * against Unicode-property regexes. That is exact, but the first non-ASCII string costs about
 * 35 ms of one-time set-up (ICU's segmenter, then compiling the `\p{RGI_Emoji}` regex), and the
 * dashboard's first frame is full of non-ASCII: box borders, grid cells, the sparkline, `·`. The
 * code points below can never join a neighbour into one cluster, so a string made of them and
 * printable ASCII is measured by adding up their widths; anything else goes to string-width. The
 * widths are string-width's own, and test/ui/text-width.test.ts checks every one of them against it.
 */
import stringWidthExact from 'string-width';
import stripAnsi from 'strip-ansi';

type Options = {ambiguousIsNarrow?: boolean; countAnsiEscapeCodes?: boolean};

/**
 * Inclusive ranges of code points that are a grapheme cluster of their own in any context
 * (Latin-1 and Latin Extended letters, general punctuation without the invisible format
 * characters, arrows, box drawing, block elements, geometric shapes, braille), one column wide but
 * for `otherWidths`.
 */
export const simpleRanges: ReadonlyArray<readonly [number, number]> = [
	[0xa0, 0x2ff],
	[0x2010, 0x2027],
	[0x2030, 0x205e],
	[0x2190, 0x21ff],
	[0x2500, 0x25ff],
	[0x2800, 0x28ff],
];

/** The code points in `simpleRanges` that are not one column: a soft hyphen, two emoji squares. */
const otherWidths = new Map([
	[0xad, 0],
	[0x25fd, 2],
	[0x25fe, 2],
]);

function simpleWidth(code: number): number | undefined {
	for (const [first, last] of simpleRanges) {
		if (code < first) return undefined;
		if (code <= last) return otherWidths.get(code) ?? 1;
	}

	return undefined;
}

/** string-width's result, without its set-up cost for the strings the dashboard draws. */
export default function stringWidth(input: string, options?: Options): number {
	if (typeof input !== 'string' || input.length === 0) return 0;
	if (options?.ambiguousIsNarrow === false || options?.countAnsiEscapeCodes) return stringWidthExact(input, options);
	const text = input.includes('\u001B') || input.includes('\u009B') ? stripAnsi(input) : input;
	let width = 0;
	for (let index = 0; index < text.length; index++) {
		const code = text.charCodeAt(index);
		if (code >= 0x20 && code <= 0x7e) {
			width++;
			continue;
		}

		const simple = simpleWidth(code);
		if (simple === undefined) return stringWidthExact(text);
		width += simple;
	}

	return width;
}
