import {Text} from 'ink';

const bars = ' ▁▂▃▄▅▆▇█';

/** The last `width` values as a bar chart one row high, scaled to their maximum. */
export function sparkline(values: readonly number[], width: number): string {
	const shown = values.slice(-Math.max(0, width));
	const max = Math.max(0, ...shown);
	const line = shown.map(value => (max > 0 ? bars[Math.round((value / max) * (bars.length - 1))]! : bars[0]!)).join('');
	return line.padStart(Math.max(0, width), ' ');
}

type Props = {values: readonly number[]; width: number; color?: string | undefined};

export function Sparkline({values, width, color}: Props) {
	return (
		<Text color={color} wrap="truncate">
			{sparkline(values, width)}
		</Text>
	);
}
