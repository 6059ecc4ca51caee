import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {PassThrough} from 'node:stream';
import {describe, expect, it} from 'vitest';
import {defaultSettings} from '../../source/config.js';
import {openKeyInput} from '../../source/ui/key-input.js';
import {mountDashboard} from '../../source/ui/mount.js';
import {EventScript} from '../telemetry/synthetic.js';
import {MiB, settle} from './fixtures.js';

/** A terminal-like stream that records what Ink writes. */
function fakeTerminal(columns = 100, rows = 30) {
	const stream = new PassThrough() as unknown as NodeJS.WriteStream & {isTTY: boolean; columns: number; rows: number};
	stream.isTTY = true;
	stream.columns = columns;
	stream.rows = rows;
	let text = '';
	(stream as unknown as PassThrough).on('data', (data: Buffer) => (text += data.toString('utf8')));
	// eslint-disable-next-line no-control-regex
	return {stream, text: () => text.replace(/\u001B\[[\d;?]*[A-Za-z]/g, '')};
}

describe('mountDashboard', () => {
	it('renders pushed events, then close() leaves the summary and unmounts', async () => {
		const terminal = fakeTerminal();
		const dashboard = mountDashboard({stderr: terminal.stream, theme: 'default', settings: defaultSettings, mode: 'watch'});
		const script = new EventScript();
		script.start({size: 4 * MiB, chunks: 4});
		let bytes = 0;
		for (let id = 0; id < 4; id++) bytes = script.chunk(id, MiB, 200, bytes);
		script.send({type: 'job:done', outcome: 'completed', bytesDone: bytes, durationMs: 800});
		for (const event of script.events) dashboard.push(event);
		// Ink draws nothing before unmount under CI (is-in-ci); elsewhere the panes come first.
		if (!process.env.CI) {
			// Watching opens on the jobs table, once the log's history is read (cage watch says when).
			const deadline = Date.now() + 3000;
			while (!terminal.text().includes('reading the log: 1 job in') && Date.now() < deadline) await settle(20);
			expect(terminal.text()).toContain('reading the log: 1 job in');
			dashboard.historyRead();
			while (!terminal.text().includes('Jobs 1 · 1 done') && Date.now() < deadline) await settle(20);
			expect(terminal.text()).toContain('Jobs 1 · 1 done');
		}

		await dashboard.close();
		const text = terminal.text();
		const summary = text.slice(text.lastIndexOf('cage encrypt completed'));
		expect(summary).toContain('4.00 MiB of 4.00 MiB (100.0%)');
		expect(summary).toContain('0.8s');
		// close() is idempotent.
		await dashboard.close();
	});

	it('throws ThemeError for an invalid theme before drawing anything', () => {
		const terminal = fakeTerminal();
		expect(() => mountDashboard({stderr: terminal.stream, theme: 'no-such-theme', settings: defaultSettings, mode: 'live'})).toThrow(
			expect.objectContaining({name: 'ThemeError'}),
		);
		expect(terminal.text()).toBe('');
	});
});

describe('openKeyInput', () => {
	it('uses stdin when it is a terminal', () => {
		const stdin = Object.assign(new PassThrough(), {isTTY: true}) as unknown as NodeJS.ReadStream;
		const keys = openKeyInput(stdin);
		expect(keys.stream).toBe(stdin);
		expect(keys.interactive).toBe(true);
	});

	it('without a terminal anywhere, gives a stream that takes no keys', () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-keys-'));
		try {
			const notATerminal = path.join(dir, 'tty');
			fs.writeFileSync(notATerminal, '');
			const stdin = new PassThrough() as unknown as NodeJS.ReadStream;
			for (const ttyPath of [notATerminal, path.join(dir, 'missing')]) {
				const keys = openKeyInput(stdin, ttyPath);
				expect(keys.interactive).toBe(false);
				expect(keys.stream.isTTY).toBeFalsy();
				keys.close();
			}
		} finally {
			fs.rmSync(dir, {recursive: true, force: true});
		}
	});
});
