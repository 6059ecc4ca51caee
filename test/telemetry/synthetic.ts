/**
 * Synthetic event sequences for reducer, detector and component tests: a builder that stamps
 * job, ts and seq like JobEmitter does, with time under the test's control.
 */
import {skippedByUser, type CageEvent, type EventInput, type JobStartEvent} from '../../source/chunker/events.js';

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

/**
 * A batch of three 4 MiB files in 1 MiB chunks, as the engine sends it (chunk bytes count within
 * their file): the first done, the second skipped by the user (or ended for `reason`) 3 MiB in,
 * the third done; then the batch's end.
 */
export function batchWithSkip(reason = skippedByUser): EventScript {
	const MiB = 2 ** 20;
	const size = 4 * MiB;
	const script = new EventScript();
	const startedAt = script.ts;
	script.start({items: 3, chunks: 0, chunkSize: 0, size: 3 * size});
	const file = (item: number, chunks: number) => {
		script.send({type: 'item:start', item, items: 3, path: `/data/${item}`, output: `/data/${item}.age`, size, chunkSize: MiB, chunks: 4});
		for (let chunk = 0; chunk < chunks; chunk++) {
			script.wait(100);
			script.send({type: 'chunk:progress', chunk, bytes: MiB / 2, bytesDone: (chunk + 0.5) * MiB, item});
			script.wait(100);
			script.send({type: 'chunk:done', chunk, start: chunk * MiB, size: MiB, durationMs: 200, attempt: 1, bytesDone: (chunk + 1) * MiB, item});
		}
	};

	file(0, 4);
	script.send({type: 'item:done', item: 0, path: '/data/0', bytes: size, durationMs: 800});
	file(1, 3);
	script.send({type: 'item:skipped', item: 1, path: '/data/1', reason});
	file(2, 4);
	script.send({type: 'item:done', item: 2, path: '/data/2', bytes: size, durationMs: 800});
	const skipped = reason === skippedByUser ? 1 : 0;
	script.send({type: 'job:done', outcome: skipped ? 'completed' : 'failed', bytesDone: 2 * size, durationMs: script.ts - startedAt, itemsDone: 2, itemsSkipped: skipped});
	return script;
}
