import type {JobControl} from '../chunker/events.js';

/**
 * The JobControl the dashboard and signal handlers hold for the whole job, forwarding to whatever
 * runs now (a batch has one runner per file). Items may add their own skip/retry behaviour.
 */
export class ControlProxy implements JobControl {
	#target: JobControl | undefined;
	#pausedBeforeAttach = false;
	#aborted: string | undefined;
	/** Batch-level skip/retry override the runner's when set. */
	onSkip: (() => void) | undefined;
	onRetry: (() => void) | undefined;

	/** True once abort() was called. */
	get aborted(): boolean {
		return this.#aborted !== undefined;
	}

	get abortReason(): string | undefined {
		return this.#aborted;
	}

	get paused(): boolean {
		return this.#target?.paused ?? this.#pausedBeforeAttach;
	}

	attach(target: JobControl): void {
		this.#target = target;
		if (this.#aborted !== undefined) target.abort(this.#aborted);
		else if (this.#pausedBeforeAttach) target.pause();
	}

	detach(target: JobControl): void {
		if (this.#target !== target) return;
		this.#pausedBeforeAttach = target.paused;
		this.#target = undefined;
	}

	pause(): void {
		if (this.#target) this.#target.pause();
		else this.#pausedBeforeAttach = true;
	}

	resume(): void {
		if (this.#target) this.#target.resume();
		else this.#pausedBeforeAttach = false;
	}

	skip(): void {
		if (this.onSkip) this.onSkip();
		else this.#target?.skip();
	}

	retry(): void {
		if (this.onRetry) this.onRetry();
		else this.#target?.retry();
	}

	abort(reason = 'aborted'): void {
		if (this.#aborted !== undefined) return;
		this.#aborted = reason;
		this.#target?.abort(reason);
	}
}
