/**
 * Small text helpers shared by the dashboard panes.
 */

/** Local wall-clock time of an event, `HH:MM:SS`. */
export function clock(ts: number): string {
	const date = new Date(ts);
	return [date.getHours(), date.getMinutes(), date.getSeconds()].map(part => String(part).padStart(2, '0')).join(':');
}

/** Cut `text` to `width` columns, ending with an ellipsis when cut. */
export function fit(text: string, width: number): string {
	if (width <= 0) return '';
	if (text.length <= width) return text;
	if (width === 1) return '…';
	return `${text.slice(0, width - 1)}…`;
}

/** Cut a path from the left, keeping its end (the file name) visible. */
export function fitPath(text: string, width: number): string {
	if (width <= 0) return '';
	if (text.length <= width) return text;
	if (width === 1) return '…';
	return `…${text.slice(text.length - width + 1)}`;
}

/** Percentage with one decimal. */
export function percent(part: number, whole: number): string {
	if (whole <= 0) return '0.0%';
	return `${Math.min(100, (part / whole) * 100).toFixed(1)}%`;
}
