/**
 * Flag values validated once, at the edge: sizes, counts, progress mode, settings merged with
 * config (flags override config).
 */
import {parseSize, SizeError} from '../size.js';
import {checkTheme, ThemeError} from '../ui/theme.js';
import {UsageError} from './command.js';

/** How progress is shown. */
export type ProgressMode = 'tui' | 'plain' | 'json' | 'none';

export const progressModes: readonly ProgressMode[] = ['tui', 'plain', 'json', 'none'];

/** Parse a size flag (`64KiB`, `16M`, `1048576`); `allowZero` for settings where 0 means auto. */
export function sizeFlag(name: string, value: string | undefined, {allowZero = false} = {}): number | undefined {
	if (value === undefined) return undefined;
	let size: number;
	try {
		size = parseSize(value);
	} catch (error) {
		if (error instanceof SizeError) throw new UsageError(`--${name}: ${error.message}`);
		throw error;
	}

	if (size === 0 && !allowZero) throw new UsageError(`--${name} must be greater than 0 (got '${value}')`);
	return size;
}

/** Parse a positive integer flag. */
export function intFlag(name: string, value: number | undefined, {min = 1, max = 1024} = {}): number | undefined {
	if (value === undefined) return undefined;
	if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got ${Number.isNaN(value) ? 'something that is not a number' : value})`);
	return value;
}

/** The progress mode: the flag, else the dashboard on a terminal, else plain lines. */
export function progressFlag(value: string | undefined, stderr: {isTTY?: boolean}): ProgressMode {
	if (value === undefined) return stderr.isTTY && !process.env.CI ? 'tui' : 'plain';
	if (!progressModes.includes(value as ProgressMode)) throw new UsageError(`--progress must be one of ${progressModes.join(', ')} (got '${value}')`);
	if (value === 'tui' && !stderr.isTTY) return 'plain';
	return value as ProgressMode;
}

/**
 * A `--theme` value, checked in every progress mode (not only when a dashboard draws): a usage
 * error naming the theme and the built-in ones.
 */
export function themeFlag(value: string | undefined): string | undefined {
	if (value === undefined) return undefined;
	try {
		checkTheme(value);
	} catch (error) {
		throw error instanceof ThemeError ? new UsageError(`--theme: ${error.message}`) : error;
	}

	return value;
}

/** Flags shared by every job command (encrypt, decrypt, resume, chunk hash). */
export const jobFlags = {
	jobs: {type: 'number', shortFlag: 'j'},
	rate: {type: 'string'},
	progress: {type: 'string'},
	auditLog: {type: 'string'},
	audit: {type: 'boolean', default: true},
	theme: {type: 'string'},
} as const;

/** Help lines for `jobFlags`. */
export const jobFlagsHelp = `
	  -j, --jobs N              chunks processed in parallel (default: config 'jobs')
	      --rate SIZE           limit throughput to SIZE per second, e.g. 200MiB (like pv -L)
	      --progress MODE       tui (dashboard, default on a terminal), plain, json (NDJSON on stderr), none
	      --audit-log PATH      append events to this JSON Lines audit log (default: config 'auditLog')
	      --no-audit            do not write the audit log
	      --theme NAME|PATH     dashboard theme: default, light, high-contrast, mono, or a JSON file`;

/**
 * Who an encryption is for, from its flags: -r and -R, or -p (never both, never neither).
 * @throws UsageError naming what is missing or in conflict.
 */
export function encryptTargetFlags(flags: {recipient?: string[] | undefined; recipientsFile?: string[] | undefined; passphrase?: boolean | undefined}): {recipientArgs: string[]; recipientFiles: string[]} {
	const recipientArgs = flags.recipient ?? [];
	const recipientFiles = flags.recipientsFile ?? [];
	if (flags.passphrase && (recipientArgs.length > 0 || recipientFiles.length > 0)) throw new UsageError('-p cannot be combined with -r or -R');
	if (!flags.passphrase && recipientArgs.length === 0 && recipientFiles.length === 0) throw new UsageError('missing recipients: give -r RECIPIENT, -R FILE or -p');
	return {recipientArgs, recipientFiles};
}
