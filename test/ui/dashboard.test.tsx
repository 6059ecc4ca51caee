import {render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import {cleanup} from 'ink-testing-library';
import {Dashboard} from '../../source/ui/Dashboard.js';
import {Throughput} from '../../source/ui/Throughput.js';
import {computeLayout} from '../../source/ui/layout.js';
import {DashboardStore} from '../../source/ui/store.js';
import {batchWithSkip, EventScript} from '../telemetry/synthetic.js';
import {MiB, mono, recordingControl, runningJob, settle, until} from './fixtures.js';

const start = 1_700_000_000_000;
const fixedNow = () => start + 3500;

type BatchFile = {path: string; item?: number; size?: number; outcome?: 'done' | 'skipped'; reason?: string};

/** A store fed a batch of `total` files: each done, skipped, or (with no outcome) running; then maybe its end. */
function batchStore(total: number, files: BatchFile[], end?: 'completed'): DashboardStore {
	const store = new DashboardStore();
	const script = new EventScript();
	script.start({items: total, chunks: 2, size: total * 2 * MiB});
	let bytesDone = 0;
	for (const [index, {path, item = index, size = 2 * MiB, outcome, reason = 'skipped by user'}] of files.entries()) {
		if (outcome === 'skipped') {
			script.send({type: 'item:skipped', item, path, reason});
			continue;
		}

		script.send({type: 'item:start', item, items: total, path, output: `${path}.age`, size, chunkSize: MiB, chunks: Math.ceil(size / MiB)});
		if (outcome === 'done') {
			script.send({type: 'item:done', item, path, bytes: size, durationMs: 200});
			bytesDone += size;
		}
	}

	if (end) script.send({type: 'job:done', outcome: end, bytesDone, durationMs: 500});
	for (const event of script.events) store.push(event);
	return store;
}

afterEach(() => {
	cleanup();
});

describe('Dashboard', () => {
	it('shows every pane with the real numbers of the job', () => {
		const {store} = runningJob();
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={recordingControl()} size={{columns: 100, rows: 30}} now={fixedNow} />);
		const frame = lastFrame()!;
		expect(frame).toContain('cage encrypt');
		expect(frame).toContain('● running');
		expect(frame).toContain('elapsed 3.5s');
		expect(frame).toContain('/data/big.tar -> /data/big.tar.age');
		expect(frame).toContain('Throughput');
		expect(frame).toMatch(/now 10\.\d MiB\/s/);
		expect(frame).toContain('30.0 MiB / 100 MiB');
		expect(frame).toContain('30.0%');
		// 70 MiB to go at 10 MiB/s.
		expect(frame).toContain('ETA 7.0s');
		expect(frame).toContain('Chunks 30/100');
		// 30 chunks done, one running, the rest pending; 100 chunks in 96 x 4: cells of 2 and a gap.
		expect(frame).toContain(`${'██ '.repeat(30)}▒▒ ··`);
		expect(frame).toContain('Anomalies 1 · 1 warn');
		expect(frame).toContain('WARN slow-chunk: chunk 12 took 2.0s');
		expect(frame).toContain('Audit tail');
		expect(frame).toContain('chunk 29 done in 0.1s');
		// A single file cannot be skipped: no `s skip` in the keys (a batch shows it).
		expect(frame).toContain('p pause · r retry · q quit');
	});

	it('fits an 80x24 terminal: every pane, no line over 80 columns, at most 23 rows', () => {
		const {store} = runningJob();
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={recordingControl()} size={{columns: 80, rows: 24}} now={fixedNow} />);
		const lines = lastFrame()!.split('\n');
		expect(lines.length).toBeLessThanOrEqual(23);
		for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
		const frame = lines.join('\n');
		for (const title of ['Throughput', 'Chunks 30/100', 'Anomalies', 'Audit tail', 'q quit']) expect(frame).toContain(title);
	});

	it('re-lays out when the size changes', () => {
		const {store} = runningJob();
		const control = recordingControl();
		const {lastFrame, rerender} = render(<Dashboard store={store} theme={mono} mode="live" control={control} size={{columns: 80, rows: 24}} />);
		const small = lastFrame()!.split('\n').length;
		rerender(<Dashboard store={store} theme={mono} mode="live" control={control} size={{columns: 100, rows: 40}} />);
		const large = lastFrame()!.split('\n');
		expect(large.length).toBeGreaterThan(small);
		expect(large.length).toBeLessThanOrEqual(39);
		expect(Math.max(...large.map(line => line.length))).toBe(100);
	});

	it('p pauses and resumes, s skips, r retries, q and Ctrl-C quit', async () => {
		const {store} = runningJob();
		const control = recordingControl();
		let quits = 0;
		const {stdin, lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={control} onQuit={() => quits++} size={{columns: 100, rows: 30}} />);
		await settle();
		stdin.write('p');
		await settle();
		stdin.write(' ');
		await settle();
		// One file: nothing can be skipped, and nothing has failed to retry; the keys say so.
		stdin.write('s');
		await settle();
		expect(lastFrame()).toContain('only a batch can skip (its current file)');
		stdin.write('r');
		await settle();
		expect(lastFrame()).toContain('nothing has failed: nothing to retry');
		expect(control.calls).toEqual(['pause', 'resume']);
		stdin.write('q');
		await settle();
		expect(control.calls.at(-1)).toBe('abort:quit');
		expect(quits).toBe(1);
		expect(lastFrame()).toContain('stopping');
		stdin.write('\u0003');
		await settle();
		expect(quits).toBe(2);
		// abort is asked once; a second quit only repeats the request to leave.
		expect(control.calls.filter(call => call.startsWith('abort'))).toHaveLength(1);
	});

	it('a batch skips its current file with s and retries with r', async () => {
		const store = batchStore(3, [{path: '/data/a', outcome: 'done'}, {path: '/data/b'}]);
		const control = recordingControl();
		const {stdin, lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={control} size={{columns: 100, rows: 30}} />);
		await settle();
		stdin.write('s');
		await settle();
		expect(lastFrame()).toContain('skip requested');
		stdin.write('r');
		await settle();
		expect(control.calls).toEqual(['skip', 'retry']);
	});

	it('takes each key of a burst that arrives as one string ("p" then Enter, "ps")', async () => {
		const store = batchStore(3, [{path: '/data/a'}]);
		const control = recordingControl();
		const {stdin} = render(<Dashboard store={store} theme={mono} mode="live" control={control} size={{columns: 100, rows: 30}} />);
		await settle();
		stdin.write('p\r');
		await settle();
		expect(control.calls).toEqual(['pause']);
		stdin.write('ps');
		await settle();
		expect(control.calls).toEqual(['pause', 'resume', 'skip']);
	});

	it('a job watched from the middle of its log says so, not stdin -> stdout of unknown size', () => {
		const store = new DashboardStore();
		for (let chunk = 5; chunk < 8; chunk++) {
			store.push({type: 'chunk:start', job: 'mid', seq: chunk * 2, ts: start + chunk * 100, chunk, start: chunk * MiB, size: MiB, attempt: 1});
			store.push({type: 'chunk:done', job: 'mid', seq: chunk * 2 + 1, ts: start + chunk * 100 + 50, chunk, start: chunk * MiB, size: MiB, durationMs: 50, attempt: 1, bytesDone: (chunk + 1) * MiB});
		}

		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="watch" size={{columns: 120, rows: 40}} now={fixedNow} />);
		expect(lastFrame()).toContain('started before this watch: its files and size are earlier in the log');
		expect(lastFrame()).not.toContain('stdin');
		expect(lastFrame()).not.toContain('size unknown');
		expect(lastFrame()).not.toContain('ETA stream');
		const final = render(<Dashboard store={store} theme={mono} mode="watch" final size={{columns: 120, rows: 40}} now={fixedNow} />);
		expect(final.lastFrame()).toContain('not in the part of the log read (the job started before this watch)');
	});

	it('the peak shown is never below the average', () => {
		const {store} = runningJob();
		const job = [...store.state.jobs.values()][0]!;
		job.throughput.average = 60 * MiB;
		job.throughput.peak = 50 * MiB;
		const {lastFrame} = render(<Throughput job={job} theme={mono} width={100} height={6} />);
		expect(lastFrame()).toContain('avg 60.0 MiB/s  ·  peak 60.0 MiB/s');
	});

	it('shows paused from the events and the key hint follows', async () => {
		const {store, script} = runningJob();
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={recordingControl()} size={{columns: 100, rows: 30}} />);
		store.push(script.send({type: 'job:paused', bytesDone: 30 * MiB}));
		await until(() => lastFrame()!.includes('● paused'));
		expect(lastFrame()).toContain('p resume');
		expect(lastFrame()).toContain('now 0.0 MiB/s');
		// No countdown while nothing moves.
		expect(lastFrame()).toContain('ETA paused');
	});

	it('watch mode: p/s/r are read-only, j/k (and ←/→ outside the chunk map) switch the job shown, q quits', async () => {
		const store = new DashboardStore();
		runningJob(store, new EventScript('job-a'));
		const other = new EventScript('job-b', start + 100);
		other.start({kind: 'decrypt', source: '/data/other.age', output: '/data/other', size: 10 * MiB, chunks: 10});
		for (const event of other.events) store.push(event);
		let quits = 0;
		const {stdin, lastFrame} = render(<Dashboard store={store} theme={mono} mode="watch" onQuit={() => quits++} size={{columns: 100, rows: 30}} />);
		await settle();
		expect(lastFrame()).toContain('cage encrypt');
		expect(lastFrame()).toContain('job 1/2');
		stdin.write('p');
		await settle();
		expect(lastFrame()).toContain('read-only (watching a log)');
		// The chunk map has focus: → moves its cursor, not the job.
		stdin.write('\u001B[C');
		await until(() => lastFrame()!.includes('▸ chunk 1 ·'));
		expect(lastFrame()).toContain('cage encrypt');
		stdin.write('\t');
		await settle();
		stdin.write('\u001B[C');
		await until(() => lastFrame()!.includes('cage decrypt'));
		expect(lastFrame()).toContain('job 2/2');
		expect(lastFrame()).toContain('/data/other.age -> /data/other');
		stdin.write('k');
		await until(() => lastFrame()!.includes('cage encrypt'));
		stdin.write('j');
		await until(() => lastFrame()!.includes('cage decrypt'));
		stdin.write('\u001B[D');
		await until(() => lastFrame()!.includes('cage encrypt'));
		stdin.write('q');
		await settle();
		expect(quits).toBe(1);
	});

	it.each([
		[100, 30],
		[80, 24],
	])('? toggles the help overlay, with every key on screen at %ix%i', async (columns, rows) => {
		const {store} = runningJob();
		const {stdin, lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={recordingControl()} size={{columns, rows}} />);
		await settle();
		stdin.write('?');
		await settle();
		expect(lastFrame()).toContain('Help (? or esc to close)');
		expect(lastFrame()).toContain('quit: save the checkpoint');
		expect(lastFrame()).not.toContain('Audit tail');
		for (const line of ['p, space', 's ', 'r ', 'q, Ctrl-C', 'tab', '↑/↓, PgUp/PgDn', '←/→', '/ ', 'esc', 'Ctrl-Z', '? ']) {
			expect(lastFrame()!.split('\n').some(row => row.startsWith(`│ ${line}`))).toBe(true);
		}

		stdin.write('?');
		await settle();
		expect(lastFrame()).not.toContain('Help (? or esc to close)');
		expect(lastFrame()).toContain('Audit tail');
	});

	it('tab moves focus; the focused anomalies pane scrolls with the arrows', async () => {
		const {store, script} = runningJob();
		for (let index = 0; index < 40; index++) store.push(script.send({type: 'anomaly', severity: 'info', code: 'chunk-retried', message: `note ${index}`}));
		const {stdin, lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={recordingControl()} size={{columns: 100, rows: 30}} />);
		await settle();
		expect(lastFrame()).toMatch(/Chunks 30\/100 .*\*/);
		expect(lastFrame()).toContain('note 39');
		stdin.write('\t');
		await settle();
		expect(lastFrame()).toContain('Anomalies 41');
		expect(lastFrame()).toMatch(/Anomalies 41 .*\*/);
		stdin.write('\u001B[B');
		stdin.write('\u001B[B');
		await settle();
		expect(lastFrame()).toContain('+2 newer');
		const anomaliesColumn = () => lastFrame()!.split('\n').map(line => line.slice(0, 50)).join('\n');
		expect(anomaliesColumn()).not.toContain('note 39');
		expect(anomaliesColumn()).not.toContain('note 38');
		expect(anomaliesColumn()).toContain('note 37');
		stdin.write('\u001B[A');
		await settle();
		expect(lastFrame()).toContain('+1 newer');
		// Scrolling stops at the oldest screenful: one arrow back after many shows a change at once.
		for (let index = 0; index < 100; index++) stdin.write('\u001B[B');
		await settle();
		const bottom = /\+(\d+) newer/.exec(lastFrame()!)![1];
		expect(Number(bottom)).toBe(41 - (computeLayout(100, 30).bottom - 2));
		stdin.write('\u001B[A');
		await settle();
		expect(lastFrame()).toContain(`+${Number(bottom) - 1} newer`);
		// A scrolled view stays on its lines while new anomalies arrive.
		store.push(script.send({type: 'anomaly', severity: 'info', code: 'chunk-retried', message: 'note 40'}));
		await until(() => lastFrame()!.includes('Anomalies 42'));
		expect(lastFrame()).toContain(`+${Number(bottom)} newer`);
		// The audit tail is next, newest at the bottom: up shows older lines, down comes back.
		stdin.write('\t');
		await settle();
		stdin.write('\u001B[B');
		await settle();
		expect(lastFrame()).not.toContain('older');
		stdin.write('\u001B[A');
		stdin.write('\u001B[A');
		await settle();
		expect(lastFrame()).toContain('Audit tail · 2 older');
		const auditColumn = () => lastFrame()!.split('\n').map(line => line.slice(50)).join('\n');
		const before = auditColumn();
		store.push(script.send({type: 'anomaly', severity: 'info', code: 'chunk-retried', message: 'note 41'}));
		await until(() => lastFrame()!.includes('Anomalies 43'));
		expect(lastFrame()).toContain('Audit tail · 3 older');
		expect(auditColumn().replace('3 older', '2 older')).toBe(before);
		stdin.write('\u001B[B');
		await settle();
		expect(lastFrame()).toContain('Audit tail · 2 older');
	});

	it('batches show the current file and files done/skipped/total', () => {
		const store = batchStore(4, [
			{path: '/data/a', outcome: 'done'},
			{path: '/data/b', outcome: 'skipped', reason: 'exists'},
			{path: '/data/c', size: 3 * MiB},
		]);
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={recordingControl()} size={{columns: 100, rows: 30}} />);
		expect(lastFrame()).toContain('file 3/4: /data/c (3.00 MiB)');
		expect(lastFrame()).toContain('files done 1 · skipped 1 · total 4');
		expect(lastFrame()).toContain('p pause · s skip · r retry');
	});

	it('at 80 columns a batch keeps its counts and cuts a long path from the left', () => {
		const store = batchStore(32, [{path: '/srv/backups/photos/2026/holidays/with-a-rather-long-directory-name/IMG_0042.jpg', item: 11}]);
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={recordingControl()} size={{columns: 80, rows: 24}} />);
		const line = lastFrame()!.split('\n').find(row => row.startsWith('file 12/32: '))!;
		expect(line.length).toBeLessThanOrEqual(80);
		expect(line).toContain('IMG_0042.jpg (2.00 MiB)');
		expect(line).toMatch(/files done 0 · skipped 0 · total 32$/);
	});

	it('65 536 chunks: buckets sized to the pane, a failed chunk shows in its bucket', () => {
		const store = new DashboardStore();
		const script = new EventScript();
		const chunks = 65_536;
		script.start({size: chunks * MiB, chunks, chunkSize: MiB});
		for (let id = 0; id < 1000; id++) {
			script.send({type: 'chunk:start', chunk: id, start: id * MiB, size: MiB, attempt: 1});
			script.send({type: 'chunk:done', chunk: id, start: id * MiB, size: MiB, durationMs: 1, attempt: 1, bytesDone: (id + 1) * MiB});
		}

		script.send({type: 'chunk:failed', chunk: 50_000, start: 0, size: MiB, attempt: 3, willRetry: false, error: 'EIO'});
		for (const event of script.events) store.push(event);
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" control={recordingControl()} size={{columns: 100, rows: 30}} />);
		const frame = lastFrame()!;
		const match = /1 cell = (\d+) chunks/.exec(frame);
		expect(match).not.toBeNull();
		const perCell = Number(match![1]);
		const cells = Math.ceil(chunks / perCell);
		const gridLines = frame.split('\n').filter(line => /^│ [·▒█×░]+ *│$/.test(line));
		const shown = gridLines.join('').replace(/[^·▒█×░]/g, '');
		expect(shown.length).toBe(cells);
		expect(shown.split('×')).toHaveLength(2);
		expect(shown.indexOf('×')).toBe(Math.floor(50_000 / perCell));
		// 1000 done chunks fill the first whole buckets.
		expect(shown.startsWith('█'.repeat(Math.floor(1000 / perCell)))).toBe(true);
	});

	it('redraws at most ~10 times a second however fast events arrive', async () => {
		const {store, script} = runningJob();
		const {frames} = render(<Dashboard store={store} theme={mono} mode="live" control={recordingControl()} size={{columns: 100, rows: 30}} fps={10} />);
		await settle(50);
		const before = frames.length;
		const startedAt = Date.now();
		let id = 31;
		let bytes = 31 * MiB;
		while (Date.now() - startedAt < 1000) {
			for (let burst = 0; burst < 200; burst++, id++) {
				script.wait(1);
				store.push(script.send({type: 'chunk:progress', chunk: id % 100, bytes: 1, bytesDone: (bytes += 10)}));
			}

			await settle(5);
		}

		const drawn = frames.length - before;
		expect(drawn).toBeGreaterThanOrEqual(3);
		expect(drawn).toBeLessThanOrEqual(13);
	});

	it('the final summary: outcome, bytes, time, average rate, anomalies', () => {
		const {store, script} = runningJob();
		store.push(script.send({type: 'job:done', outcome: 'interrupted', bytesDone: 30 * MiB, durationMs: 3000, checkpoint: '/data/big.tar.age.checkpoint.json'}));
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" final size={{columns: 100, rows: 30}} />);
		const frame = lastFrame()!;
		expect(frame).toContain('cage encrypt interrupted');
		expect(frame).toContain('30.0 MiB of 100 MiB (30.0%)');
		expect(frame).toContain('time       3.0s');
		expect(frame).toMatch(/average {4}10\.\d MiB\/s/);
		expect(frame).toContain('30/100 done, 0 failed, 0 skipped');
		expect(frame).toContain('1 (0 error, 1 warn, 0 info)');
		expect(frame).toContain('slow-chunk: chunk 12 took 2.0s');
		expect(frame).not.toContain('Audit tail');
	});

	it('the summary of a resumed job says how much of the total this run did (its time and average are this run\'s)', () => {
		const store = new DashboardStore();
		const script = new EventScript();
		script.start({size: 100 * MiB, chunks: 100, chunksDone: 60, bytesDone: 60 * MiB, resumed: true});
		let bytes = 60 * MiB;
		for (let id = 60; id < 100; id++) bytes = script.chunk(id, MiB, 100, bytes);
		script.send({type: 'job:done', outcome: 'completed', bytesDone: 100 * MiB, durationMs: 4000});
		for (const event of script.events) store.push(event);
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" final size={{columns: 100, rows: 30}} />);
		expect(lastFrame()).toContain('100 MiB of 100 MiB (100.0%), 40.0 MiB in this run');
		expect(lastFrame()).toMatch(/average {4}10\.\d MiB\/s/);
	});

	it('the summary of a failed job shows the whole error, wrapped', () => {
		const {store, script} = runningJob();
		const error = 'cannot resume /data/big.tar.age.checkpoint.json: chunk 0 of the partial output /data/big.tar.age.partial was damaged since the checkpoint; to start over, run the same command with --force';
		store.push(script.send({type: 'job:done', outcome: 'failed', bytesDone: 0, durationMs: 100, error}));
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" final size={{columns: 100, rows: 30}} />);
		const text = lastFrame()!.replaceAll(/[│╭╮╰╯─]/g, ' ').replaceAll(/\s+/g, ' ');
		expect(lastFrame()).toContain('cage encrypt failed');
		expect(text).toContain(error);
	});

	it('the summary of a batch counts files, not the last file’s chunks', () => {
		const store = batchStore(3, [{path: '/data/a', outcome: 'done'}, {path: '/data/b', outcome: 'skipped'}, {path: '/data/c', outcome: 'done'}], 'completed');
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" final size={{columns: 100, rows: 30}} />);
		const frame = lastFrame()!;
		expect(frame).toContain('3 in the batch: 2 done, 1 skipped');
		expect(frame).not.toContain('/data/c ->');
		expect(frame).not.toMatch(/chunks +\d/);
	});

	it('a batch with a file the user skipped: the bar moves on at the skip, and the finished batch reads 100 % with the bytes skipped apart', () => {
		const store = new DashboardStore();
		const {events} = batchWithSkip();
		const skip = events.findIndex(event => event.type === 'item:skipped');
		for (const event of events.slice(0, skip + 2)) store.push(event);
		const job = [...store.state.jobs.values()][0]!;
		// 4 MiB done and the skipped 4 MiB of 12 MiB: two thirds, where the 3 MiB it had done of it showed 58.3 %.
		expect(render(<Throughput job={job} theme={mono} width={100} height={6} />).lastFrame()).toContain('66.7%');
		for (const event of events.slice(skip + 2)) store.push(event);
		const live = render(<Throughput job={job} theme={mono} width={100} height={6} />).lastFrame()!;
		expect(live).toContain('100.0%');
		expect(live).toContain('8.00 MiB / 12.0 MiB, 4.00 MiB skipped');
		const {lastFrame} = render(<Dashboard store={store} theme={mono} mode="live" final size={{columns: 100, rows: 30}} />);
		expect(lastFrame()).toContain('8.00 MiB of 12.0 MiB, 4.00 MiB skipped (100.0%)');
		expect(lastFrame()).toContain('3 in the batch: 2 done, 1 skipped');
	});
});
