/** A scan's errors: where and why a document is invalid, and how that is told. */
import type {SweepAnomalyCode} from './statistics.js';

/** A path segment: an object key (null when unknown, after a resume) or an array index. */
export type PathSegment = {key: string | null} | {index: number};

/** Where and why a document is invalid. */
export type SweepError = {
	/** Byte offset of the offending byte (or of the end of input). */
	offset: number;
	/** 1-based line, and 1-based column in bytes. */
	line: number;
	column: number;
	path: PathSegment[];
	expected: string;
	found: string;
	/** The anomaly code the error also counts as. */
	code: SweepAnomalyCode;
};

/** Say what a byte is, for "found …". */
export function describeByte(byte: number): string {
	if (byte === 0x0a) return 'a newline';
	if (byte === 0x0d) return 'a carriage return';
	if (byte === 0x09) return 'a tab';
	if (byte >= 0x21 && byte < 0x7f) return `'${String.fromCharCode(byte)}'`;
	if (byte === 0x20) return 'a space';
	return `byte 0x${byte.toString(16).padStart(2, '0').toUpperCase()}`;
}

/** A path as `$.users[41].email`. */
export function formatPath(path: PathSegment[]): string {
	let text = '$';
	for (const segment of path) {
		if ('index' in segment) text += `[${segment.index}]`;
		else if (segment.key === null) text += '.?';
		else text += /^[A-Za-z_$][\w$]*$/.test(segment.key) ? `.${segment.key}` : `[${JSON.stringify(segment.key)}]`;
	}

	return text;
}

/** An error as a checkpoint keeps it: keys become unknown ('?'). */
export function redactError(error: SweepError): SweepError {
	return {...error, path: error.path.map(segment => ('index' in segment ? segment : {key: null}))};
}
