/**
 * How errors reach the user: one line, naming the file (and chunk) and what to do. Errors the
 * user can act on carry their message as is; anything else is reported as an internal error.
 */

/** Error names whose messages are written for users. */
const userErrorNames = new Set([
	'InputError',
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

/** True for errors whose message is meant for the user. */
export function isUserError(error: unknown): boolean {
	return error instanceof Error && (userErrorNames.has(error.name) || userErrorNames.has(error.constructor.name));
}

/** A one-line description of any error, with a hint for common system errors. */
export function describeError(error: unknown): string {
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

/** A job-level failure with a message for the user (exit 1). */
export class JobError extends Error {
	override name = 'JobError';
}
