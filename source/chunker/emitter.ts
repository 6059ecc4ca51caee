import {EventEmitter} from 'node:events';
import {randomBytes} from 'node:crypto';
import type {CageEvent, CageEventType, EventInput, EventOf, EventSink} from './events.js';

type Listeners = {[K in CageEventType]: [EventOf<K>]} & {event: [CageEvent]};

/**
 * A typed event emitter for one job: stamps `job`, `ts` and `seq` on every event and hands it to
 * listeners of its type and of `'event'` (everything). Sinks (reporters, audit logger, dashboard
 * store) attach with `pipe()`.
 */
export class JobEmitter extends EventEmitter<Listeners> {
	readonly job: string;
	#seq = 0;
	readonly #now: () => number;

	constructor(job: string = newJobId(), now: () => number = Date.now) {
		super();
		this.job = job;
		this.#now = now;
	}

	/** The next sequence number (how many durable events were emitted so far). */
	get seq(): number {
		return this.#seq;
	}

	/** Stamp and emit an event; returns it. */
	send<E extends CageEvent>(input: EventInput<E>): E {
		// chunk:progress is a transient sample (coalesced before it reaches a log): it carries the seq
		// of the next durable event without taking it, so durable events number 0, 1, 2… with no gaps.
		const seq = input.type === 'chunk:progress' ? this.#seq : this.#seq++;
		const event = {...input, job: this.job, ts: this.#now(), seq} as unknown as E;
		const emit = this.emit as (name: string, value: CageEvent) => boolean;
		emit.call(this, event.type, event);
		emit.call(this, 'event', event);
		return event;
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
