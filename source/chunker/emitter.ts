import {EventEmitter} from 'node:events';
import {randomBytes} from 'node:crypto';
import os from 'node:os';
import type {CageEvent, CageEventType, EventInput, EventOf, EventSink} from './events.js';

/** Milliseconds between two numbered `chunk:progress` samples of a job: the audit log's throughput sample rate. */
export const defaultSampleIntervalMs = 1000;

const host = os.hostname();

type Listeners = {[K in CageEventType]: [EventOf<K>]} & {event: [CageEvent]};

/**
 * A typed event emitter for one job: stamps `job`, `ts` and `seq` on every event and hands it to
 * listeners of its type and of `'event'` (everything). Sinks (reporters, audit logger, dashboard
 * store) attach with `pipe()`.
 *
 * `seq` numbers the job's *numbered* events 0, 1, 2… with no gaps: every event but the transient
 * `chunk:progress` ones. A runner sends progress many times a second; at most one a
 * `sampleIntervalMs` (the first one, then the first one at least that long after the last
 * sample) is a *sample* and takes the next number, like any other event. The others are live-only
 * updates for a dashboard: they repeat the number of the event before them and take none. So the
 * audit log, which writes each number once (`AuditLogger`), has one line per seq, in order, and a
 * gap in it means a lost line.
 */
export class JobEmitter extends EventEmitter<Listeners> {
	readonly job: string;
	#seq = 0;
	readonly #now: () => number;
	readonly #sampleIntervalMs: number;
	/** When the last progress sample was sent (undefined before the first). */
	#lastSample: number | undefined;

	constructor(job: string = newJobId(), now: () => number = Date.now, sampleIntervalMs = defaultSampleIntervalMs) {
		super();
		this.job = job;
		this.#now = now;
		this.#sampleIntervalMs = sampleIntervalMs;
	}

	/** The next sequence number (how many numbered events were emitted so far). */
	get seq(): number {
		return this.#seq;
	}

	/** Stamp and emit an event; returns it. */
	send<E extends CageEvent>(input: EventInput<E>): E {
		const ts = this.#now();
		const seq = input.type === 'chunk:progress' && !this.#isSample(ts) ? this.#seq - 1 : this.#seq++;
		// A job's start names its host: with the pid, a watcher on the same host can tell a job whose process is gone.
		const event = (input.type === 'job:start' && input.host === undefined ? {...input, host, job: this.job, ts, seq} : {...input, job: this.job, ts, seq}) as unknown as E;
		const emit = this.emit as (name: string, value: CageEvent) => boolean;
		emit.call(this, event.type, event);
		emit.call(this, 'event', event);
		return event;
	}

	/** Whether a progress event sent at `ts` is a sample (numbered); records it when it is. */
	#isSample(ts: number): boolean {
		// Nothing numbered yet: a transient update would have no number to repeat.
		if (this.#seq > 0 && this.#lastSample !== undefined && ts - this.#lastSample < this.#sampleIntervalMs) return false;
		this.#lastSample = ts;
		return true;
	}

	/** Attach a sink to every event; returns a function that detaches it. */
	pipe(sink: EventSink): () => void {
		this.on('event', sink);
		return () => this.off('event', sink);
	}
}

/** A short, sortable, unique job id: `20261124T133552-a1b2c3`. */
export function newJobId(date = new Date()): string {
	const stamp = date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
	return `${stamp}-${randomBytes(3).toString('hex')}`;
}
