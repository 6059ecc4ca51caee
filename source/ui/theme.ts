/**
 * Dashboard themes: JSON files of colour tokens per chunk state, severity, job state and pane.
 * Built-in themes live in the package's themes/ folder; a path names any other file. NO_COLOR
 * (set and non-empty) forces the mono theme.
 */
import fs from 'node:fs';
import {fileURLToPath} from 'node:url';
import path from 'node:path';
import type {Severity} from '../chunker/events.js';
import type {ChunkStateName, JobRunState} from '../telemetry/state.js';

/** A colour Ink understands, or undefined for the terminal's default. */
export type Colour = string | undefined;

export type Theme = {
	name: string;
	chunk: Record<ChunkStateName, Colour>;
	severity: Record<Severity, Colour>;
	state: Record<JobRunState, Colour>;
	pane: Record<PaneToken, Colour>;
};

const paneTokens = ['border', 'focus', 'title', 'text', 'muted', 'accent', 'bar', 'barEmpty', 'sparkline'] as const;
export type PaneToken = (typeof paneTokens)[number];

const sections = {
	chunk: ['pending', 'running', 'done', 'failed', 'skipped'],
	severity: ['info', 'warn', 'error'],
	state: ['running', 'paused', 'done', 'failed', 'interrupted'],
	pane: paneTokens,
} as const;

/** Thrown for an unknown theme name or an invalid theme file; says which and what is wrong. */
export class ThemeError extends Error {
	override name = 'ThemeError';
}

/** The built-in themes folder (works from source/ui and dist/ui alike). */
export const themesDir = fileURLToPath(new URL('../../themes/', import.meta.url));

const baseColours = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];
const namedColours = new Set([...baseColours, ...baseColours.map(name => `${name}Bright`), 'gray', 'grey']);

function isColour(value: string): boolean {
	return namedColours.has(value) || /^#(?:[\da-f]{3}|[\da-f]{6})$/i.test(value) || /^rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)$/.test(value) || /^ansi256\(\s*\d{1,3}\s*\)$/.test(value);
}

/** The names of the built-in themes. */
export function builtInThemes(): string[] {
	try {
		return fs
			.readdirSync(themesDir)
			.filter(file => file.endsWith('.json'))
			.map(file => file.slice(0, -5))
			.sort();
	} catch {
		return [];
	}
}

/** Validate parsed theme JSON; `where` names the file in messages. */
export function parseTheme(data: unknown, where: string): Theme {
	if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ThemeError(`theme ${where}: expected a JSON object`);
	const object = data as Record<string, unknown>;
	const theme: Record<string, unknown> = {name: typeof object.name === 'string' ? object.name : path.basename(where, '.json')};
	for (const [section, keys] of Object.entries(sections)) {
		const value = object[section];
		if (typeof value !== 'object' || value === null || Array.isArray(value)) {
			throw new ThemeError(`theme ${where}: missing section "${section}" (an object with ${keys.join(', ')})`);
		}

		const entries = value as Record<string, unknown>;
		const out: Record<string, Colour> = {};
		for (const key of keys) {
			const colour = entries[key];
			if (colour === null) {
				out[key] = undefined;
				continue;
			}

			if (colour === undefined) throw new ThemeError(`theme ${where}: missing colour "${section}.${key}"`);
			if (typeof colour !== 'string' || !isColour(colour)) {
				throw new ThemeError(
					`theme ${where}: "${section}.${key}" is ${JSON.stringify(colour)}, not a colour (use a name such as "green" or "cyanBright", "#rrggbb", or null for the default)`,
				);
			}

			out[key] = colour;
		}

		for (const key of Object.keys(entries)) {
			if (!(keys as readonly string[]).includes(key)) throw new ThemeError(`theme ${where}: unknown key "${section}.${key}" (known: ${keys.join(', ')})`);
		}

		theme[section] = out;
	}

	return theme as Theme;
}

/** Read and validate a theme file. */
export function readThemeFile(file: string): Theme {
	let text: string;
	try {
		text = fs.readFileSync(file, 'utf8');
	} catch (error) {
		throw new ThemeError(`cannot read theme ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
	}

	let data: unknown;
	try {
		data = JSON.parse(text);
	} catch (error) {
		throw new ThemeError(`theme ${file} is not valid JSON: ${(error as Error).message}`);
	}

	return parseTheme(data, file);
}

/** True when `nameOrPath` names a built-in theme (letters, digits, - and _), not a file. */
export function isThemeName(nameOrPath: string): boolean {
	return /^[\w-]+$/.test(nameOrPath);
}

/**
 * Load a theme by built-in name or by path. NO_COLOR (set, non-empty) gives mono whatever is
 * asked, but an invalid theme is still reported.
 */
export function loadTheme(nameOrPath: string, env: NodeJS.ProcessEnv = process.env): Theme {
	let theme: Theme;
	if (isThemeName(nameOrPath)) {
		const file = path.join(themesDir, `${nameOrPath}.json`);
		if (!fs.existsSync(file)) {
			throw new ThemeError(`unknown theme '${nameOrPath}': use one of ${builtInThemes().join(', ')}, or the path of a theme JSON file`);
		}

		theme = readThemeFile(file);
	} else {
		theme = readThemeFile(path.resolve(nameOrPath));
	}

	if (env.NO_COLOR) return readThemeFile(path.join(themesDir, 'mono.json'));
	return theme;
}

/**
 * Check a theme named on the command line or in `config set theme` (built-in name or path): a
 * ThemeError when it cannot be used, naming it and the built-in themes. Checked whatever the
 * progress mode: a typo must not pass unnoticed in a script only to fail at the next dashboard.
 */
export function checkTheme(nameOrPath: string): void {
	try {
		// No NO_COLOR here: that only changes what is drawn, not which theme is valid.
		loadTheme(nameOrPath, {});
	} catch (error) {
		if (!(error instanceof ThemeError)) throw error;
		// An unknown name's message lists the built-in themes already.
		if (isThemeName(nameOrPath)) throw error;
		throw new ThemeError(`${error.message}; use one of ${builtInThemes().join(', ')}, or the path of a valid theme JSON file`);
	}
}
