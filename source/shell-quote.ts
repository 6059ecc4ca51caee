import {displayPath} from './display-path.js';
import {formatSizeArgument} from './size.js';

/** Quote an argument for a POSIX shell command line the user can paste (resume lines). */
export function shellQuote(value: string): string {
	return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", String.raw`'\''`)}'`;
}

/**
 * The `cage resume` line a job prints: its target as the user would type it, and the job's rate
 * limit (a choice of this run, not a setting, so the line keeps it).
 */
export function resumeLine(target: string, rate?: number): string {
	return `cage resume ${shellQuote(displayPath(target))}${rate ? ` --rate ${formatSizeArgument(rate)}` : ''}`;
}
