/**
 * Ctrl-Z in the dashboard: the shell's job control stops cage (the terminal given back), `fg`
 * continues it, the frame is drawn anew and keys work again.
 */
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {cliPath, makeSandbox, waitFor} from '../helpers/cage.js';
import {startTmux, tmuxPath, type TmuxSession} from '../helpers/tmux.js';
import {writeWatchedLog} from '../helpers/watched-log.js';

const sandbox = makeSandbox('cage-suspend-');
let session: TmuxSession | undefined;
afterAll(() => {
	session?.kill();
	sandbox.cleanup();
});

describe.runIf(fs.existsSync(tmuxPath) && fs.existsSync('/bin/bash'))('Ctrl-Z', () => {
	it('suspends to the shell; fg redraws and the keys work again', async () => {
		const log = path.join(sandbox.dir, 'audit.jsonl');
		writeWatchedLog(log);
		const variables = ['CAGE_CONFIG_DIR', 'XDG_STATE_HOME', 'HOME'].map(name => `${name}=${sandbox.env[name]!}`);
		session = startTmux(`env -u CI ${variables.join(' ')} NO_COLOR=1 TERM=xterm-256color PS1='$ ' /bin/bash --norc -i`, {width: 100, height: 30});
		// capture-pane drops the prompt's trailing space.
		await session.waitForScreen(/^\$/m);
		session.send(`${process.execPath} ${cliPath} watch ${log} --from-start`, {literal: true});
		session.send('Enter');
		await session.waitForScreen(/Jobs 4 ·/);
		session.send('C-z');
		await session.waitForScreen(/Stopped +.*cli\.js watch/);
		session.send('fg', {literal: true});
		session.send('Enter');
		const back = await session.waitForScreen(/continued/);
		expect(back).toMatch(/Jobs 4 ·/);
		session.send('?');
		await session.waitForScreen('Help (? or esc to close)');
		session.send('q');
		// Typed only once cage has gone: what arrives with the q in one read is cage's, not the shell's
		// (as in any full-screen program), and a loaded CI once read the two together.
		await waitFor(() => !session!.screen().includes('Help (? or esc to close)'), {what: 'the dashboard gone after q'});
		session.send('echo "exit=$?"', {literal: true});
		session.send('Enter');
		await session.waitForScreen('exit=0');
	});
});
