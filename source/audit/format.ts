/**
 * The audit log's line format, version 2: one JSON object per line,
 * `{"v":2,"ts":…,"job":…,"seq":…,"type":…,…the other fields of the event}`.
 *
 * In version 2 every line of a job takes a seq of its own, progress samples included: a job's
 * lines number 0, 1, 2… Version 1 (cage before 2026-12) numbered only the other events, and its
 * `chunk:progress` lines repeated the seq of the next one; such logs still read (`version` tells
 * the reader which rule a line follows).
 *
 * `formatAuditLine` writes it; `parseAuditLine` reads it back into the exact `CageEvent` the runner
 * emitted (same keys, same key order, `v` stripped), after checking every field its type requires.
 */
import {anomalyCodes, eventTypes, jobPhases, type CageEvent, type CageEventType} from '../chunker/events.js';
import {maxChunks} from '../chunker/plan.js';

/** The version written in every line. */
export const auditVersion = 2;

/** The versions this cage reads. */
export const readableAuditVersions: readonly number[] = [1, 2];

/** One event as one line of the audit log, newline included. */
export function formatAuditLine(event: CageEvent): string {
	const {type, job, ts, seq, ...rest} = event;
	return `${JSON.stringify({v: auditVersion, ts, job, seq, type, ...rest})}\n`;
}

/**
 * `chunk` is a chunk id and `chunks` a count of chunks: whole numbers bounded by the planner's
 * `maxChunks`, since a watcher sizes its chunk grid by them (one line claiming chunk 4e12 made
 * `cage watch` fail with "Invalid typed array length").
 */
export type FieldKind = 'int' | 'chunk' | 'chunks' | 'number' | 'string' | 'boolean' | 'string|null' | 'int|null' | readonly string[];

export type FieldSpec = {kind: FieldKind; optional?: boolean};

const int: FieldSpec = {kind: 'int'};
const string: FieldSpec = {kind: 'string'};
const optionalInt: FieldSpec = {kind: 'int', optional: true};
const chunk: FieldSpec = {kind: 'chunk'};
const chunks: FieldSpec = {kind: 'chunks'};
const optionalString: FieldSpec = {kind: 'string', optional: true};

/** The fields each event type carries besides type/job/ts/seq (events.ts is the reference). */
const schema: Record<CageEventType, Record<string, FieldSpec>> = {
	'job:start': {
		kind: {kind: ['encrypt', 'decrypt', 'hash', 'sweep', 'verify', 'prune']},
		source: {kind: 'string|null'},
		output: {kind: 'string|null'},
		size: {kind: 'int|null'},
		chunkSize: int,
		chunks,
		chunksDone: chunks,
		bytesDone: int,
		items: optionalInt,
		jobs: int,
		pid: int,
		resumed: {kind: 'boolean'},
		rate: optionalInt,
		host: optionalString,
		inPlace: {kind: ['lock', 'unlock'], optional: true},
	},
	'chunk:start': {chunk, start: int, size: int, attempt: int, item: optionalInt},
	'chunk:progress': {chunk, bytes: int, bytesDone: int, item: optionalInt},
	'chunk:done': {chunk, start: int, size: int, durationMs: {kind: 'number'}, attempt: int, bytesDone: int, item: optionalInt},
	'chunk:failed': {chunk, start: int, size: int, attempt: int, willRetry: {kind: 'boolean'}, error: string, code: optionalString, item: optionalInt},
	'chunk:skipped': {chunk, start: int, size: int, reason: string, item: optionalInt},
	'item:start': {item: int, items: int, path: string, output: {kind: 'string|null'}, size: int, chunkSize: int, chunks, chunksDone: {kind: 'chunks', optional: true}, bytesDone: optionalInt},
	'item:done': {item: int, path: string, bytes: int, durationMs: {kind: 'number'}},
	'item:skipped': {item: int, path: string, reason: string},
	anomaly: {severity: {kind: ['info', 'warn', 'error']}, code: {kind: anomalyCodes}, message: string, chunk: {kind: 'chunk', optional: true}, item: optionalInt},
	'job:paused': {bytesDone: int},
	'job:resumed': {bytesDone: int},
	'job:checkpoint': {path: string, chunksDone: chunks, bytesDone: int},
	'job:phase': {phase: {kind: jobPhases}, done: optionalInt, total: optionalInt, item: optionalInt},
	'job:done': {
		outcome: {kind: ['completed', 'interrupted', 'failed']},
		bytesDone: int,
		durationMs: {kind: 'number'},
		error: optionalString,
		checkpoint: optionalString,
		resumeCommand: optionalString,
		itemsDone: optionalInt,
		itemsSkipped: optionalInt,
	},
};

/** Whether a field's value is of its kind. */
export function fits(value: unknown, kind: FieldKind): boolean {
	if (typeof kind !== 'string') return typeof value === 'string' && kind.includes(value);
	switch (kind) {
		case 'int': {
			return Number.isSafeInteger(value) && (value as number) >= 0;
		}

		case 'chunk': {
			return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) < maxChunks;
		}

		case 'chunks': {
			return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= maxChunks;
		}

		case 'number': {
			return typeof value === 'number' && Number.isFinite(value);
		}

		case 'string': {
			return typeof value === 'string';
		}

		case 'boolean': {
			return typeof value === 'boolean';
		}

		case 'string|null': {
			return value === null || typeof value === 'string';
		}

		case 'int|null': {
			return value === null || (Number.isSafeInteger(value) && (value as number) >= 0);
		}
	}
}

function describeKind(kind: FieldKind): string {
	if (kind === 'chunk') return `a chunk id (a whole number below ${maxChunks})`;
	if (kind === 'chunks') return `a chunk count (a whole number up to ${maxChunks})`;
	return typeof kind === 'string' ? kind.replace('int', 'whole number') : `one of ${kind.join(', ')}`;
}

/** What reading one line gave: an event, or why the line was refused. */
export type ParsedLine =
	| {ok: true; event: CageEvent; /** The line's format version (one of `readableAuditVersions`). */ version: number}
	| {ok: false; problem: 'malformed' | 'version'; reason: string; /** The line's job id when it has one (for the report). */ job?: string; ts?: number};

/**
 * Parse and validate one line (without its newline). Never throws: a refused line says why, so
 * the caller can turn it into an `audit-malformed-line` or `audit-unknown-version` anomaly.
 */
export function parseAuditLine(line: string): ParsedLine {
	let value: unknown;
	try {
		value = JSON.parse(line);
	} catch {
		return {ok: false, problem: 'malformed', reason: 'not JSON'};
	}

	if (typeof value !== 'object' || value === null || Array.isArray(value)) return {ok: false, problem: 'malformed', reason: 'not a JSON object'};
	const record = value as Record<string, unknown>;
	const job = typeof record.job === 'string' && record.job !== '' ? record.job : undefined;
	const ts = typeof record.ts === 'number' && Number.isFinite(record.ts) ? record.ts : undefined;
	const refuse = (problem: 'malformed' | 'version', reason: string): ParsedLine => ({ok: false, problem, reason, ...(job === undefined ? {} : {job}), ...(ts === undefined ? {} : {ts})});
	if (!('v' in record)) return refuse('malformed', 'no version field "v"');
	if (typeof record.v !== 'number' || !readableAuditVersions.includes(record.v)) {
		return refuse('version', `version ${JSON.stringify(record.v)} (this cage reads versions ${readableAuditVersions.join(' and ')})`);
	}

	if (ts === undefined) return refuse('malformed', '"ts" is not a number');
	if (job === undefined) return refuse('malformed', '"job" is not a non-empty string');
	if (!fits(record.seq, 'int')) return refuse('malformed', '"seq" is not a whole number');
	const type = record.type;
	if (typeof type !== 'string' || !eventTypes.includes(type as CageEventType)) return refuse('malformed', `unknown event type ${JSON.stringify(type)}`);
	for (const [name, spec] of auditFields(type as CageEventType)) {
		const present = Object.hasOwn(record, name) && record[name] !== undefined;
		if (!present) {
			if (spec.optional) continue;
			return refuse('malformed', `${type} without "${name}"`);
		}

		if (!fits(record[name], spec.kind)) return refuse('malformed', `${type}: "${name}" is not ${describeKind(spec.kind)}`);
	}

	// Rebuild in the emitter's key order (type, fields, job, ts, seq) so a replayed event is the
	// same object, key for key, as the live one (and prints the same NDJSON). A plain loop: object
	// rest/spread here cost a 1M-line replay 0.7 s.
	const event: Record<string, unknown> = {type};
	for (const key in record) {
		if (!envelopeKeys.has(key)) event[key] = record[key];
	}

	event.job = job;
	event.ts = ts;
	event.seq = record.seq;
	return {ok: true, event: event as unknown as CageEvent, version: record.v};
}

/** Keys of the line's envelope, set apart from the event's own fields. */
const envelopeKeys = new Set(['v', 'ts', 'job', 'seq', 'type']);

const fieldLists = new Map<CageEventType, ReadonlyArray<readonly [string, FieldSpec]>>();

/**
 * The fields an event type carries besides type/job/ts/seq, in the schema's order (for the
 * frequent events, chunk:* and job:checkpoint, the order the runner emits and `formatAuditLine`
 * writes them); a list made once per type rather than once per line.
 */
export function auditFields(type: CageEventType): ReadonlyArray<readonly [string, FieldSpec]> {
	let list = fieldLists.get(type);
	if (!list) {
		list = Object.entries(schema[type]);
		fieldLists.set(type, list);
	}

	return list;
}

/**
 * The job of the anomalies a watcher makes about a log (malformed lines, gaps, read errors): its
 * own events, numbered in its own sequence, since a job's seq counts only what the job wrote.
 */
export const auditTailJob = 'audit-tail';
