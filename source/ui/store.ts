/**
 * The dashboard's event store: events are reduced as they arrive (each costs O(1)), and the UI
 * reads the state at its own frame rate, so a burst of thousands of events costs one frame.
 */
import type {CageEvent} from '../chunker/events.js';
import {applyEvent, createDashboardState} from '../telemetry/reducer.js';
import {applyToOverview, createOverview, type Overview} from '../telemetry/overview.js';
import type {DashboardState} from '../telemetry/state.js';

export class DashboardStore {
	readonly state: DashboardState = createDashboardState();
	/** Every job seen, for `cage watch`'s jobs table; null when not kept (a live job). */
	readonly overview: Overview | null;
	/**
	 * True while `cage watch` reads the lines already in its logs (a replay, or the running jobs it
	 * joins): the states shown are not final yet, and the views say so.
	 */
	history: boolean;
	readonly #listeners = new Set<() => void>();

	constructor({overview = false, history = false}: {overview?: boolean; history?: boolean} = {}) {
		this.overview = overview ? createOverview() : null;
		this.history = history;
	}

	/**
	 * The history is read: drawn at once. While a replay keeps the main thread busy the frames
	 * slow down to one a second (see use-frame.ts), and the next one could be that far off.
	 */
	endHistory(): void {
		this.history = false;
		this.touch();
	}

	/**
	 * Reduce one event. Renders happen at the dashboard's frame rate, except for a pause or a
	 * resume, which the user just asked for with a key and should see at once.
	 */
	push(event: CageEvent): void {
		applyEvent(this.state, event);
		if (this.overview) applyToOverview(this.overview, event);
		if (event.type === 'job:paused' || event.type === 'job:resumed') this.#renderNow();
	}

	/** Ask the UI to render now rather than at its next frame (used for key actions). */
	touch(): void {
		this.state.version++;
		this.#renderNow();
	}

	#renderNow(): void {
		for (const listener of this.#listeners) listener();
	}

	subscribe(listener: () => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}
}
