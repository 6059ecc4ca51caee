/**
 * Synthetic event sequences for reducer, detector and component tests: a builder that stamps
 * job, ts and seq like JobEmitter does, with time under the test's control.
 */
import type {CageEvent, EventInput, JobStartEvent} from '../../source/chunker/events.js';

export class EventScript {
	readonly events: CageEvent[] = [];
	ts: number;
	#seq = 0;

	constructor(readonly job = 'job-1', start = 1_700_000_000_000) {
		this.ts = start;
	}

	/** Advance the clock. */
	wait(ms: number): this {
		this.ts += ms;
		return this;
	}

	send<E extends CageEvent>(input: EventInput<E>): E {
		const seq = input.type === 'chunk:progress' ? this.#seq : this.#seq++;
		const event = {...input, job: this.job, ts: this.ts, seq} as unknown as E;
		this.events.push(event);
		return event;
	}

	start(overrides: Partial<EventInput<JobStartEvent>> = {}): JobStartEvent {
		return this.send<JobStartEvent>({
			type: 'job:start',
			kind: 'encrypt',
			source: '/data/in.bin',
			output: '/data/out.age',
			size: 100 * 2 ** 20,
			chunkSize: 2 ** 20,
			chunks: 100,
			chunksDone: 0,
			bytesDone: 0,
			jobs: 1,
			pid: 4242,
			resumed: false,
			...overrides,
		});
	}

	/** One chunk from start to done, taking `ms`, with progress samples every 100 ms. */
	chunk(id: number, size: number, ms: number, bytesBefore: number): number {
		this.send({type: 'chunk:start', chunk: id, start: id * size, size, attempt: 1});
		const steps = Math.max(1, Math.floor(ms / 100));
		for (let step = 1; step < steps; step++) {
			this.wait(ms / steps);
			const bytes = Math.floor((size * step) / steps);
			this.send({type: 'chunk:progress', chunk: id, bytes, bytesDone: bytesBefore + bytes});
		}

		this.wait(ms / steps);
		this.send({type: 'chunk:done', chunk: id, start: id * size, size, durationMs: ms, attempt: 1, bytesDone: bytesBefore + size});
		return bytesBefore + size;
	}
}
