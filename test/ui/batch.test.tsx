import {cleanup, render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import {Dashboard} from '../../source/ui/Dashboard.js';
import {DashboardStore} from '../../source/ui/store.js';
import {EventScript} from '../telemetry/synthetic.js';
import {MiB, mono, recordingControl, settle, until} from './fixtures.js';

afterEach(() => {
	cleanup();
});

/** A batch of 260 files of 4 MiB: two done, one skipped by the user, one failed, the fifth half done. */
function batch(): {store: DashboardStore; script: EventScript} {
	const store = new DashboardStore();
	const script = new EventScript();
	const total = 260;
	script.start({items: total, chunks: 0, chunkSize: 0, size: total * 4 * MiB, source: '/data', output: '/out'});
	for (let item = 0; item < 5; item++) {
		const path = `/data/file-${item}.bin`;
		script.send({type: 'item:start', item, items: total, path, output: `/out/file-${item}.bin.age`, size: 4 * MiB, chunkSize: MiB, chunks: 4});
		if (item === 2) {
			script.send({type: 'item:skipped', item, path, reason: 'skipped by user'});
			continue;
		}

		if (item === 3) {
			script.send({type: 'item:skipped', item, path, reason: 'failed: EIO'});
			continue;
		}

		let bytes = 0;
		for (let chunk = 0; chunk < (item === 4 ? 2 : 4); chunk++) bytes = script.chunk(chunk, MiB, 100, bytes);
		if (item < 4) script.send({type: 'item:done', item, path, bytes: 4 * MiB, durationMs: 400});
	}

	for (const event of script.events) store.push(event);
	return {store, script};
}

describe('batch view', () => {
	it('lists the files beside the current file\'s chunk map, with the totals and ETA of the whole batch', () => {
		const {store} = batch();
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={recordingControl()} size={{columns: 100, rows: 40}} now={() => store.state.jobs.get('job-1')!.lastTs} />);
		const frame = lastFrame()!;
		expect(frame).toContain('Files 2/260 · 1 skip · 1 fail');
		expect(frame).toMatch(/✓ \/data\/file-0\.bin +4\.00 MiB/);
		expect(frame).toMatch(/» \/data\/file-2\.bin/);
		expect(frame).toMatch(/× \/data\/file-3\.bin/);
		expect(frame).toMatch(/▶ \/data\/file-4\.bin +4\.00 MiB/);
		expect(frame).toContain('255 pending · 1020 MiB');
		expect(frame).toContain('Chunks 2/4 of file 5');
		expect(frame).toContain('files 2/260 done, 1 running, 1 failed, 1 skipped');
		// The ETA is the batch's: about 1 GiB to go at 8 MiB/s, not the current file's.
		const eta = /ETA (\S+)/.exec(frame)![1]!;
		expect(eta).toMatch(/^2m\d\ds$/);
		for (const line of frame.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
	});

	it('the status bar forgets "skip requested" once the file is skipped', async () => {
		const {store, script} = batch();
		const {stdin, lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={recordingControl()} size={{columns: 100, rows: 40}} />);
		await settle();
		stdin.write('s');
		await until(() => lastFrame()!.includes('skip requested'));
		store.push(script.send({type: 'item:skipped', item: 4, path: '/data/file-4.bin', reason: 'skipped by user'}));
		await until(() => !lastFrame()!.includes('skip requested'));
		expect(lastFrame()).toContain('Files 2/260 · 2 skip');
	});
});
