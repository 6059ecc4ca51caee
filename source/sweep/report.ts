/**
 * What `cage sweep` prints: a short text report, or one JSON object (`--json`). Key names and
 * key paths come from the file: the report shows them, the checkpoint never holds them.
 */
import {formatPath, type SweepError} from './scan-errors.js';
import type {SweepOutcome} from './processor.js';
import {depthBuckets, lengthBuckets, valueTypes} from './statistics.js';

/** Keys listed in the report. */
export const reportedKeys = 20;

/** True when the swept input is valid (JSON Lines: no bad line). */
export function isValid(outcome: SweepOutcome): boolean {
	return outcome.counts ? outcome.counts.bad === 0 : outcome.error === null;
}

const typeNames = ['object', 'array', 'string', 'number', 'boolean', 'boolean', 'null'];

/** The report as plain data (what --json prints). */
export function reportData(outcome: SweepOutcome, file: string) {
	const stats = outcome.stats;
	const error = (e: SweepError) => ({offset: e.offset, line: e.line, column: e.column, path: formatPath(e.path), expected: e.expected, found: e.found, code: e.code});
	const histogram = (values: Float64Array, label: (index: number) => string) => Object.fromEntries([...values].flatMap((count, index) => (count > 0 ? [[label(index), count]] : [])));
	const lengthLabel = (index: number) => (index <= 1 ? String(index) : index === lengthBuckets - 1 ? `>=${2 ** (index - 1)}` : `${2 ** (index - 1)}-${2 ** index - 1}`);
	return {
		file,
		format: outcome.format,
		valid: isValid(outcome),
		bytes: outcome.bytes,
		error: outcome.counts ? null : outcome.error && error(outcome.error),
		...(outcome.counts
			? {
					lines: {total: outcome.counts.lines, records: outcome.counts.records, blank: outcome.counts.blank, bad: outcome.counts.bad, crlf: outcome.counts.crlf, lf: outcome.counts.lf},
					badLines: outcome.lineErrors.map(e => error(e)),
				}
			: {}),
		values: Object.fromEntries(valueTypes.map((type, index) => [type, stats.types[index]!])),
		depth: {max: stats.maxDepth, histogram: histogram(stats.depths, index => (index === depthBuckets - 1 ? `>=${index}` : String(index)))},
		keys: {
			total: stats.keys,
			duplicates: stats.duplicateKeys,
			exact: stats.sketch.exact,
			top: stats.sketch.top(reportedKeys).map(entry => ({key: entry.name ?? null, count: entry.count})),
		},
		stringLengths: histogram(stats.stringLengths, lengthLabel),
		numberLengths: histogram(stats.numberLengths, lengthLabel),
		largestToken: stats.largest,
		fingerprint: {
			paths: [...stats.fingerprint.values()].map(entry => ({path: entry.path ?? null, type: typeNames[entry.type]!})),
			/** More (path, type) pairs exist than the first ones listed. */
			truncated: stats.fingerprintFull,
		},
		// In file order: the same whichever way the bytes came (a stream, chunks composed).
		anomalies: [...stats.anomalies.values()].map(record => ({...record})).sort((a, b) => a.offset - b.offset || a.code.localeCompare(b.code)),
	};
}

/** The text report. */
export function formatReport(outcome: SweepOutcome, file: string): string {
	const data = reportData(outcome, file);
	const out: string[] = [];
	const at = (e: NonNullable<typeof data.error>) => `byte ${e.offset}, line ${e.line}, column ${e.column}, at ${e.path}: expected ${e.expected}, found ${e.found}`;
	if (outcome.counts && data.lines) {
		const {lines} = data;
		out.push(
			`${file}: ${data.valid ? 'valid' : 'invalid'} JSON Lines: ${lines.records} records, ${lines.bad} bad, ${lines.blank} blank of ${lines.total} lines` +
				(lines.crlf > 0 ? ` (${lines.crlf} ending \\r\\n)` : ''),
		);
		for (const bad of data.badLines ?? []) out.push(`  bad line ${bad.line}: ${at(bad)}`);
		if (lines.bad > (data.badLines?.length ?? 0)) out.push(`  … and ${lines.bad - (data.badLines?.length ?? 0)} more bad lines`);
	} else {
		out.push(data.valid ? `${file}: valid JSON` : `${file}: invalid JSON: ${at(data.error!)}`);
	}

	out.push(`values       ${Object.entries(data.values).map(([type, count]) => `${type} ${count}`).join(', ')}`);
	out.push(`depth        max ${data.depth.max}; values by depth ${Object.entries(data.depth.histogram).map(([depth, count]) => `${depth}:${count}`).join(' ')}`);
	out.push(
		`keys         ${data.keys.total} (${data.keys.duplicates} duplicate); most frequent (${data.keys.exact ? 'exact' : 'approximate: counts may be low'}): ` +
			data.keys.top.map(entry => `${entry.key === null ? '(name not seen since the resume)' : JSON.stringify(entry.key)} ${entry.count}`).join(', '),
	);
	const lengths = (histogram: Record<string, number>) => Object.entries(histogram).map(([range, count]) => `${range}:${count}`).join(' ') || 'none';
	out.push(`strings      lengths in bytes (with quotes) ${lengths(data.stringLengths)}`);
	out.push(`numbers      lengths in bytes ${lengths(data.numberLengths)}`);
	if (data.largestToken) out.push(`largest      a ${data.largestToken.type} of ${data.largestToken.bytes} bytes at byte ${data.largestToken.offset}`);
	const paths = data.fingerprint.paths;
	out.push(`structure    ${data.fingerprint.truncated ? `the first ${paths.length} (key path, type) pairs, in file order; more exist` : `${paths.length} (key path, type) pairs`}`);
	for (const entry of paths.slice(0, 40)) out.push(`  ${entry.path ?? '(path not seen since the resume)'}  ${entry.type}`);
	if (paths.length > 40) out.push(`  … ${paths.length - 40} more (--json lists them all)`);
	for (const record of data.anomalies) out.push(`anomaly      ${record.code} ×${record.count}, first at byte ${record.offset} (line ${record.line}): ${record.message}`);
	return `${out.join('\n')}\n`;
}
