import {Text} from 'ink';

type Props = {
	/** 0..1 */
	ratio: number;
	width: number;
	color?: string | undefined;
	emptyColor?: string | undefined;
};

/** A bar of `width` cells, filled by `ratio` with eighth-cell precision. */
export function ProgressBar({ratio, width, color, emptyColor}: Props) {
	const cells = Math.max(0, width);
	const clamped = Math.min(1, Math.max(0, Number.isFinite(ratio) ? ratio : 0));
	const eighths = Math.round(clamped * cells * 8);
	const full = Math.floor(eighths / 8);
	const partial = eighths % 8;
	const partialChar = partial > 0 ? ' ▏▎▍▌▋▊▉'[partial]! : '';
	const empty = Math.max(0, cells - full - (partialChar ? 1 : 0));
	return (
		<Text wrap="truncate">
			<Text color={color}>{'█'.repeat(full) + partialChar}</Text>
			<Text color={emptyColor}>{'░'.repeat(empty)}</Text>
		</Text>
	);
}
