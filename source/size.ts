/**
 * Human sizes, parsed once at the edge: `1048576`, `64KiB`, `16MiB`, `1GiB`, and the `pv`/`dd`
 * style shorthands `64K`, `16M`, `1G`, `1T` (binary multiples, as in those tools). A decimal SI
 * suffix (`16MB`) means powers of 1000, as SI says.
 */

const binary: Record<string, number> = {'': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50};
const decimal: Record<string, number> = {kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15};

/** Thrown for a string that is not a size. */
export class SizeError extends Error {
	override name = 'SizeError';
}

/**
 * Parse a size. Returns bytes as a safe integer.
 * @throws SizeError naming the bad value and showing valid forms.
 */
export function parseSize(input: string | number): number {
	if (typeof input === 'number') {
		if (Number.isSafeInteger(input) && input >= 0) return input;
		throw new SizeError(`'${input}' is not a size: expected a whole number of bytes`);
	}

	const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(input);
	if (!match) throw new SizeError(`'${input}' is not a size (examples: 1048576, 64KiB, 16MiB, 1GiB, 16M)`);
	const value = Number(match[1]);
	const unit = (match[2] ?? '').toLowerCase();
	let multiplier: number | undefined;
	if (unit.endsWith('ib') && unit.length === 3) multiplier = binary[unit[0]!];
	else multiplier = binary[unit] ?? decimal[unit];
	if (multiplier === undefined) throw new SizeError(`'${input}' has an unknown unit '${match[2]}' (use B, KiB, MiB, GiB, TiB, or K, M, G, T)`);
	// A fraction of a byte is a typo, not a size; fractions of larger units round to whole bytes.
	if (multiplier === 1 && !Number.isInteger(value)) throw new SizeError(`'${input}' is not a whole number of bytes`);
	const bytes = Math.round(value * multiplier);
	if (!Number.isSafeInteger(bytes)) throw new SizeError(`'${input}' is too large`);
	return bytes;
}

/** A size as a command-line argument that parseSize reads back exactly: `50MiB`, `1000`. */
export function formatSizeArgument(bytes: number): string {
	for (const [unit, factor] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
		if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
	}

	return String(bytes);
}

/** Format bytes for humans with binary units: `1.50 GiB`. */
export function formatBytes(bytes: number): string {
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
	let value = bytes;
	let unit = 0;
	while (Math.abs(value) >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}

	return unit === 0 ? `${bytes} B` : `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${units[unit]}`;
}

/**
 * Format a rate in bytes per second as `123.4 MiB/s`: binary, like the sizes beside it and like
 * `--rate 50MiB`, so a limit of 50MiB reads as 50.0 MiB/s.
 */
export function formatRate(bytesPerSecond: number): string {
	const mib = bytesPerSecond / 2 ** 20;
	return `${mib >= 100 ? mib.toFixed(0) : mib.toFixed(1)} MiB/s`;
}

/** Format a duration in milliseconds as `1h02m`, `3m05s` or `4.2s`. */
export function formatDuration(ms: number): string {
	if (!Number.isFinite(ms) || ms < 0) return '--';
	const s = ms / 1000;
	if (s < 10) return `${s.toFixed(1)}s`;
	const total = Math.round(s);
	const h = Math.floor(total / 3600);
	const m = Math.floor((total % 3600) / 60);
	const sec = total % 60;
	if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
	if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
	return `${sec}s`;
}
