/** Checks of a terminal screen captured as text (tmux capture-pane). */

/**
 * Problems with the panes of a screen: each `╭` must start a top border closed by `╮` on its line,
 * with `│` below both corners on every line down to a `╰ … ╯` at the same columns; no line may be
 * wider than the terminal, and no row longer than the screen's.
 */
export function paneProblems(screen: string, columns: number, rows: number): string[] {
	const lines = screen.replace(/\n$/, '').split('\n');
	const problems: string[] = [];
	if (lines.length > rows) problems.push(`${lines.length} lines on a ${rows}-row screen`);
	const chars = lines.map(line => [...line]);
	for (const [index, line] of chars.entries()) if (line.length > columns) problems.push(`line ${index} is ${line.length} columns wide`);
	for (let top = 0; top < chars.length; top++) {
		const line = chars[top]!;
		for (let left = 0; left < line.length; left++) {
			if (line[left] !== '╭') continue;
			const right = line.indexOf('╮', left);
			if (right < 0) {
				problems.push(`line ${top}: a pane at column ${left} has no top-right corner`);
				continue;
			}

			let bottom = top + 1;
			while (bottom < chars.length && chars[bottom]![left] === '│' && chars[bottom]![right] === '│') bottom++;
			if (chars[bottom]?.[left] !== '╰' || chars[bottom]?.[right] !== '╯') problems.push(`line ${top}: the pane at columns ${left}–${right} is not closed below (line ${bottom}: ${chars[bottom]?.join('') ?? 'none'})`);
		}
	}

	return problems;
}
