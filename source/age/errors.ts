/**
 * Errors of the age engine. Each message is meant for the user: it names the file (and chunk or
 * block) and says what to do. `code` lets callers tell them apart without string matching.
 */

/** The input is not a valid age file (bad header, truncated, trailing data, bad sizes). */
export class AgeFormatError extends Error {
	override name = 'AgeFormatError';
	readonly code = 'EFORMAT';
}

/** A payload block failed authentication. `counter` is the block index. */
export class StreamAuthError extends Error {
	override name = 'StreamAuthError';
	readonly code = 'EAUTH';
	readonly counter: number;
	constructor(message: string, counter: number) {
		super(message);
		this.counter = counter;
	}
}

/** None of the identities (or the passphrase) opens the file's header. */
export class NoIdentityMatchError extends Error {
	override name = 'NoIdentityMatchError';
	readonly code = 'ENOMATCH';
}

/** A recipient argument or recipients file is invalid or unreadable. */
export class RecipientError extends Error {
	override name = 'RecipientError';
}

/** An identity file is invalid or unreadable. */
export class IdentityError extends Error {
	override name = 'IdentityError';
}
