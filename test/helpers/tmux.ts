/**
 * A real terminal for tests: one tmux server per session (its own socket), a command in a pane,
 * keys sent with send-keys, the screen read with capture-pane.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {waitFor} from './cage.js';

export const tmuxPath = '/usr/bin/tmux';

export type TmuxSession = {
	/** The visible screen, as text. */
	screen(): string;
	/** Type keys (tmux key names: 'Enter', 'C-c', or literal text with `literal`); several in one send-keys, one write to the terminal. */
	send(keys: string | string[], options?: {literal?: boolean}): void;
	/** Wait until the screen matches. */
	waitForScreen(pattern: RegExp | string, options?: {timeout?: number}): Promise<string>;
	kill(): void;
};

/** Start `command` (a shell command line) in a detached tmux session of the given size. */
export function startTmux(command: string, {width = 120, height = 40, env = process.env}: {width?: number; height?: number; env?: NodeJS.ProcessEnv} = {}): TmuxSession {
	const socket = `cage-test-${randomBytes(4).toString('hex')}`;
	const run = (...args: string[]) => execFileSync(tmuxPath, ['-L', socket, ...args], {env, encoding: 'utf8'});
	run('new-session', '-d', '-s', 'main', '-x', String(width), '-y', String(height), command);
	const screen = () => spawnSync(tmuxPath, ['-L', socket, 'capture-pane', '-p', '-t', 'main'], {encoding: 'utf8'}).stdout ?? '';
	return {
		screen,
		send(keys, {literal = false} = {}) {
			run('send-keys', '-t', 'main', ...(literal ? ['-l'] : []), ...(typeof keys === 'string' ? [keys] : keys));
		},
		async waitForScreen(pattern, {timeout = 30_000} = {}) {
			return waitFor(() => {
				const text = screen();
				return (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) ? text : undefined;
			}, {timeout, what: `the terminal to show ${String(pattern)}`});
		},
		kill() {
			spawnSync(tmuxPath, ['-L', socket, 'kill-server'], {stdio: 'ignore'});
		},
	};
}
