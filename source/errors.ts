/**
 * How errors reach the user: one line, naming the file (and chunk) and what to do. Errors the
 * user can act on carry their message as is; anything else is reported as an internal error.
 */

/** Error names whose messages are written for users. */
const userErrorNames = new Set([
	'InputError',
	'BackupError',
	'CheckpointError',
	'ConfigError',
	'SizeError',
	'SourceChangedError',
	'ThemeError',
	'AgeFormatError',
	'StreamAuthError',
	'NoIdentityMatchError',
	'RecipientError',
	'IdentityError',
	'JobError',
	'OutputExistsError',
]);

/**
 * An age secret key (`AGE-SECRET-KEY-1…`, `AGE-SECRET-KEY-PQ-1…`, any case) anywhere in a text.
 * Messages go to terminals, scrollback, CI logs and bug reports, so none may carry one: not the
 * value the user gave (an identity file passed as a recipients file, a key pasted after -r), nor a
 * library's error that quotes its input (bech32's "Invalid checksum in AGE-SECRET-KEY-1…" is the
 * whole key, one typo away).
 */
const secretKeyPattern = /AGE-SECRET-KEY-[\w-]*/gi;

/** True when `text` holds something that looks like an age secret key. */
export function holdsSecretKey(text: string): boolean {
	secretKeyPattern.lastIndex = 0;
	return secretKeyPattern.test(text);
}

/** `text` with every age secret key replaced by `<secret key>`. */
export function redactSecretKeys(text: string): string {
	return text.replace(secretKeyPattern, '<secret key>');
}

/** True for errors whose message is meant for the user. */
export function isUserError(error: unknown): boolean {
	return error instanceof Error && (userErrorNames.has(error.name) || userErrorNames.has(error.constructor.name));
}

/** A one-line description of any error, with a hint for common system errors. */
export function describeError(error: unknown): string {
	return redactSecretKeys(describe(error));
}

function describe(error: unknown): string {
	if (!(error instanceof Error)) return String(error);
	if (isUserError(error)) return error.message;
	const {code, path} = error as NodeJS.ErrnoException;
	switch (code) {
		case 'ENOSPC': {
			return `${path ?? 'a file'}: no space left on device; free some space and run the command again`;
		}

		case 'EACCES':
		case 'EPERM': {
			return `${path ?? 'a file'}: permission denied`;
		}

		case 'ENOENT': {
			return `${path ?? 'a file'}: no such file or directory`;
		}

		case 'EISDIR': {
			return `${path ?? 'a path'} is a directory`;
		}

		default: {
			return error.message;
		}
	}
}

/** True for the error of a write to a pipe whose reader went away (node ignores SIGPIPE and reports EPIPE). */
export function isBrokenPipe(error: unknown): boolean {
	return (error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}

/**
 * True for the error of a write to a terminal that is gone: its window was closed or its
 * connection dropped, and every write to it fails with EIO (a SIGHUP may come too, or not: a
 * wrapper that ignores SIGHUP, as nohup does, keeps it from the job).
 */
export function isTerminalGone(error: unknown): boolean {
	const code = (error as NodeJS.ErrnoException | undefined)?.code;
	return code === 'EIO' || code === 'ENXIO';
}

/** A job-level failure with a message for the user (exit 1). */
export class JobError extends Error {
	override name = 'JobError';
}
