import {cleanup, render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import {Dashboard} from '../../source/ui/Dashboard.js';
import {DashboardStore} from '../../source/ui/store.js';
import {EventScript} from '../telemetry/synthetic.js';
import {MiB, mono, settle, until} from './fixtures.js';

afterEach(() => {
	cleanup();
});

const start = 1_700_000_000_000;
const here = 'this-host';

/** Six jobs in one log: running, paused, done, failed, silent (another host), dead (this host, pid gone). */
function watchedLog(): DashboardStore {
	const store = new DashboardStore({overview: true});
	const jobs: Array<[string, number, (script: EventScript) => void]> = [
		['job-running', 0, () => undefined],
		['job-paused', 0, script => script.send({type: 'job:paused', bytesDone: 2 * MiB})],
		['job-done', 0, script => script.send({type: 'job:done', outcome: 'completed', bytesDone: 10 * MiB, durationMs: 1000})],
		['job-failed', 0, script => script.send({type: 'job:done', outcome: 'failed', bytesDone: 2 * MiB, durationMs: 1000, error: 'EIO'})],
		['job-silent', -600_000, () => undefined],
		['job-dead', -600_000, () => undefined],
	];
	for (const [id, offset, end] of jobs) {
		const script = new EventScript(id, start + offset);
		script.start({size: 10 * MiB, chunks: 10, source: `/data/${id}.bin`, pid: id === 'job-dead' ? 999_999 : 4242, host: id === 'job-silent' ? 'elsewhere' : here});
		let bytes = 0;
		for (let chunk = 0; chunk < 2; chunk++) bytes = script.chunk(chunk, MiB, 100, bytes);
		end(script);
		for (const event of script.events) store.push(event);
	}

	return store;
}

const props = {theme: mono, mode: 'watch' as const, size: {columns: 120, rows: 30}, now: () => start + 1000, alive: (pid: number) => pid !== 999_999, host: here};

describe('cage watch: the jobs table', () => {
	it('lists every job with its state (silent and dead included), kind, source, progress, rate, pid and last line', () => {
		const store = watchedLog();
		const {lastFrame} = render(<Dashboard store={store} {...props} />);
		const frame = lastFrame()!;
		expect(frame).toContain('Jobs 6 · 1 running · 1 paused · 1 silent · 1 dead · 1 failed · 1 done');
		const line = (id: string) => frame.split('\n').find(row => row.includes(`/data/${id}.bin`))!;
		expect(line('job-running')).toMatch(/running +encrypt +\/data\/job-running\.bin +20\.0% +\d+\.\d MiB\/s +4242 +\S+ chunk 1 done in 0\.1s/);
		expect(line('job-paused')).toMatch(/^│ +paused/);
		expect(line('job-done')).toMatch(/done .* 100\.0%/);
		expect(line('job-failed')).toMatch(/failed .*EIO/);
		// Silent past the threshold: dead when its pid is gone on this host; only silent on another.
		expect(line('job-silent')).toMatch(/silent .* 4242 /);
		expect(line('job-dead')).toMatch(/dead .* 999999 /);
		for (const row of frame.split('\n')) expect(row.length).toBeLessThanOrEqual(120);
	});

	it('/ filters, o sorts, enter opens a job in the full dashboard and esc comes back', async () => {
		const store = watchedLog();
		const {stdin, lastFrame} = render(<Dashboard store={store} {...props} />);
		await settle();
		stdin.write('/');
		await settle();
		stdin.write('dead');
		await until(() => lastFrame()!.includes("Jobs 1 of 6 matching 'dead"));
		stdin.write('\r');
		await settle();
		expect(lastFrame()).toContain("filter 'dead' (esc clears it)");
		stdin.write('\r');
		await until(() => lastFrame()!.includes('Throughput'));
		expect(lastFrame()).toContain('/data/job-dead.bin');
		expect(lastFrame()).toContain('esc jobs');
		stdin.write('\u001B');
		await until(() => lastFrame()!.includes("Jobs 1 of 6 matching 'dead'"));
		stdin.write('\u001B');
		await until(() => lastFrame()!.includes('Jobs 6 ·'));
		// Sorted by state: the ones that need a look first.
		stdin.write('o');
		stdin.write('o');
		await settle();
		stdin.write('o');
		await until(() => lastFrame()!.includes('state▼'));
		const order = lastFrame()!.split('\n').filter(row => row.includes('/data/job-')).map(row => /\/data\/(job-\w+)/.exec(row)![1]);
		expect(order).toEqual(['job-dead', 'job-failed', 'job-silent', 'job-paused', 'job-running', 'job-done']);
		stdin.write('?');
		await until(() => lastFrame()!.includes('Help'));
		for (const key of ['enter', '/', 'esc', 'o', 'O', 'q, Ctrl-C', '?']) expect(lastFrame()).toMatch(new RegExp(`│ ${key.replace('?', '\\?')} +`));
	});

	it('says the log is being read until its history is, then draws at once (not at the next frame, up to a second off)', async () => {
		const store = watchedLog();
		store.history = true;
		// One frame every 5 s: a redraw within the wait below is the one endHistory asked for.
		const {lastFrame} = render(<Dashboard store={store} {...props} fps={0.2} />);
		await settle();
		// How far it is, and no rows yet: their states are not final.
		expect(lastFrame()).toMatch(/reading the log: 6 jobs in \d+ lines so far…/);
		expect(lastFrame()).toContain('reading the log…');
		expect(lastFrame()).not.toContain('/data/job-running.bin');
		store.endHistory();
		await until(() => !lastFrame()!.includes('reading the log'), 1000);
		expect(lastFrame()).toContain('Jobs 6 · 1 running');
		expect(lastFrame()).toContain('/data/job-running.bin');
	});

	it('keys that arrive in one read (typed while a frame was drawn) are each acted on: esc esc, esc enter; esc and a character are Alt and it, which does nothing', async () => {
		const store = watchedLog();
		const {stdin, lastFrame} = render(<Dashboard store={store} {...props} />);
		await settle();
		stdin.write('/');
		stdin.write('dead');
		stdin.write('\r');
		await until(() => lastFrame()!.includes("filter 'dead' (esc clears it)"));
		stdin.write('?');
		await until(() => lastFrame()!.includes('Help'));
		// The first esc closes the help, the second clears the filter.
		stdin.write('\u001B\u001B');
		await until(() => lastFrame()!.includes('Jobs 6 ·'));
		expect(lastFrame()).not.toContain('Help');
		expect(lastFrame()).not.toContain("filter 'dead'");
		// Alt+/ and Alt+q (ESC and the key in one read) while typing a filter: neither Escape nor the key.
		stdin.write('/');
		stdin.write('sil');
		await until(() => lastFrame()!.includes("matching 'sil"));
		stdin.write('\u001B/');
		stdin.write('\u001Bq');
		stdin.write('e');
		await until(() => lastFrame()!.includes("matching 'sile"));
		expect(lastFrame()).not.toContain("'sil/");
		expect(lastFrame()).not.toContain("'silq");
		// esc leaves the filter being typed (and clears it); / starts a new one. Ink holds an Escape
		// that ends a read until the next turn of the event loop (it may be the start of a sequence):
		// a key written before then is read with it, as Alt and the key.
		stdin.write('\u001B');
		await settle();
		stdin.write('/');
		await until(() => lastFrame()!.includes('/▏ (enter keeps it, esc clears it)'));
		stdin.write('done');
		stdin.write('\r');
		await until(() => lastFrame()!.includes("Jobs 1 of 6 matching 'done'"));
		// esc clears that filter; enter opens the job selected then (the first of all six).
		stdin.write('\u001B\r');
		await until(() => lastFrame()!.includes('Throughput'));
		stdin.write('\u001B\u001B');
		await until(() => lastFrame()!.includes('Jobs 6 ·'));
		// Alt+? and Alt+o on the table: no help, no sort (o alone sorts: the header says by what).
		const table = lastFrame()!;
		stdin.write('\u001B?');
		stdin.write('\u001Bo');
		await settle();
		expect(lastFrame()).toBe(table);
		stdin.write('?');
		await until(() => lastFrame()!.includes('Help'));
	});
});
