/**
 * One short line of text per event, for the audit tail. Plain text; the UI adds colour.
 */
import type {CageEvent, JobKind, JobPhase} from '../chunker/events.js';
import {formatBytes, formatDuration} from '../size.js';

/** A phase in words; the main phase says what the job does (`encrypting`). */
export function phaseLabel(phase: JobPhase, kind: JobKind | null): string {
	if (phase !== 'processing') return phase === 'opening' ? 'opening the input' : phase === 'verifying' ? 'verifying the resume sample' : phase;
	return kind === null ? 'processing' : `${kind}ing`;
}

/** Describe an event in one line (no job id, no time: the pane shows those). */
export function describeEvent(event: CageEvent): string {
	const item = 'item' in event && event.item !== undefined && event.type.startsWith('chunk:') ? ` (file ${event.item + 1})` : '';
	switch (event.type) {
		case 'job:start': {
			return `start ${event.kind} ${event.source ?? 'stdin'} -> ${event.output ?? '-'}${event.size === null ? '' : `, ${formatBytes(event.size)}`}, ${event.chunks} chunks${
				event.resumed ? `, resumed at ${event.chunksDone}` : ''
			}`;
		}

		case 'chunk:start': {
			return `chunk ${event.chunk} started${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}${item}`;
		}

		case 'chunk:progress': {
			return `chunk ${event.chunk} at ${formatBytes(event.bytes)}${item}`;
		}

		case 'chunk:done': {
			return `chunk ${event.chunk} done in ${formatDuration(event.durationMs)}${item}`;
		}

		case 'chunk:failed': {
			return `chunk ${event.chunk} failed${event.willRetry ? ', retrying' : ''}: ${event.error}${item}`;
		}

		case 'chunk:skipped': {
			return `chunk ${event.chunk} skipped: ${event.reason}${item}`;
		}

		case 'item:start': {
			return `file ${event.item + 1}/${event.items} ${event.path} (${formatBytes(event.size)})`;
		}

		case 'item:done': {
			return `file ${event.item + 1} done: ${event.path} in ${formatDuration(event.durationMs)}`;
		}

		case 'item:skipped': {
			return `file ${event.item + 1} skipped: ${event.path}: ${event.reason}`;
		}

		case 'anomaly': {
			return `${event.severity} ${event.code}: ${event.message}`;
		}

		case 'job:paused': {
			return `paused at ${formatBytes(event.bytesDone)}`;
		}

		case 'job:resumed': {
			return `resumed at ${formatBytes(event.bytesDone)}`;
		}

		case 'job:checkpoint': {
			return `checkpoint: ${event.chunksDone} chunks, ${formatBytes(event.bytesDone)}`;
		}

		case 'job:phase': {
			return `${phaseLabel(event.phase, null)}${event.total === undefined ? '' : ` ${event.done ?? 0}/${event.total}`}${event.item === undefined ? '' : ` (file ${event.item + 1})`}`;
		}

		case 'job:done': {
			return `${event.outcome}: ${formatBytes(event.bytesDone)} in ${formatDuration(event.durationMs)}${event.error ? `: ${event.error}` : ''}`;
		}
	}
}
