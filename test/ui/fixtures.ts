/**
 * A dashboard store filled with a synthetic job, a fake JobControl that records calls, and a
 * helper to wait for Ink to process input.
 */
import type {JobControl} from '../../source/chunker/events.js';
import {DashboardStore} from '../../source/ui/store.js';
import {loadTheme} from '../../source/ui/theme.js';
import {EventScript} from '../telemetry/synthetic.js';

export const MiB = 2 ** 20;
export const mono = loadTheme('mono', {});

/** A job 30 chunks into a 100-chunk encryption at 10 MiB/s, with one anomaly. */
export function runningJob(store = new DashboardStore(), script = new EventScript()): {store: DashboardStore; script: EventScript} {
	script.start({size: 100 * MiB, chunks: 100, source: '/data/big.tar', output: '/data/big.tar.age'});
	let bytes = 0;
	for (let id = 0; id < 30; id++) bytes = script.chunk(id, MiB, 100, bytes);
	script.send({type: 'chunk:start', chunk: 30, start: 30 * MiB, size: MiB, attempt: 1});
	script.send({type: 'anomaly', severity: 'warn', code: 'slow-chunk', message: 'chunk 12 took 2.0s, 5.0x the median (0.4s)', chunk: 12});
	for (const event of script.events) store.push(event);
	return {store, script};
}

export type RecordingControl = JobControl & {calls: string[]};

export function recordingControl(): RecordingControl {
	const calls: string[] = [];
	let paused = false;
	return {
		calls,
		get paused() {
			return paused;
		},
		pause() {
			paused = true;
			calls.push('pause');
		},
		resume() {
			paused = false;
			calls.push('resume');
		},
		skip() {
			calls.push('skip');
		},
		retry() {
			calls.push('retry');
		},
		abort(reason) {
			calls.push(`abort:${reason ?? ''}`);
		},
	};
}

/** Let Ink attach its input listeners / process writes. */
export async function settle(ms = 30): Promise<void> {
	await new Promise(resolve => setTimeout(resolve, ms));
}

/** Wait until `check` passes (polling), for frames rendered on the dashboard's timer. */
export async function until(check: () => boolean, timeout = 3000): Promise<void> {
	const deadline = Date.now() + timeout;
	while (!check()) {
		if (Date.now() > deadline) throw new Error('timed out waiting for the frame');
		await settle(20);
	}
}
