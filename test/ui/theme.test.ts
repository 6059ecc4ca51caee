import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {builtInThemes, loadTheme, ThemeError} from '../../source/ui/theme.js';
import {isUserError} from '../../source/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-theme-'));
afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

function themeFile(name: string, content: unknown): string {
	const file = path.join(dir, name);
	fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
	return file;
}

describe('themes', () => {
	it('ships default, light, high-contrast and mono, all valid', () => {
		expect(builtInThemes()).toEqual(['default', 'high-contrast', 'light', 'mono']);
		for (const name of builtInThemes()) {
			const theme = loadTheme(name, {});
			expect(theme.name).toBe(name);
			expect(Object.keys(theme.chunk)).toEqual(['pending', 'running', 'done', 'failed', 'skipped']);
		}

		expect(loadTheme('default', {}).chunk.failed).toBe('red');
		expect(loadTheme('mono', {}).chunk.failed).toBeUndefined();
	});

	it('NO_COLOR (set, non-empty) forces mono; empty NO_COLOR does not', () => {
		expect(loadTheme('default', {NO_COLOR: '1'}).name).toBe('mono');
		expect(loadTheme('default', {NO_COLOR: ''}).name).toBe('default');
	});

	it('loads a theme file by path', () => {
		const theme = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../themes/default.json'), 'utf8')) as Record<string, Record<string, string>>;
		theme.chunk!.done = '#00ff00';
		const file = themeFile('mine.json', {...theme, name: 'mine'});
		expect(loadTheme(file, {}).chunk.done).toBe('#00ff00');
	});

	it('an unknown name is a ThemeError listing the built-in themes', () => {
		expect(() => loadTheme('neon', {})).toThrow(ThemeError);
		expect(() => loadTheme('neon', {})).toThrow(/unknown theme 'neon': use one of default, high-contrast, light, mono/);
	});

	it('an invalid file is a ThemeError naming the file and what is wrong', () => {
		const missing = path.join(dir, 'nope.json');
		expect(() => loadTheme(missing, {})).toThrow(`cannot read theme ${missing}: no such file`);
		const broken = themeFile('broken.json', '{"chunk": ');
		expect(() => loadTheme(broken, {})).toThrow(new RegExp(`theme ${broken} is not valid JSON`));
		const noSection = themeFile('nosection.json', {chunk: {pending: 'gray', running: 'cyan', done: 'green', failed: 'red', skipped: 'yellow'}});
		expect(() => loadTheme(noSection, {})).toThrow(`theme ${noSection}: missing section "severity"`);
		const base = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../themes/default.json'), 'utf8')) as Record<string, Record<string, unknown>>;
		const badColour = themeFile('badcolour.json', {...base, pane: {...base.pane, bar: 'ultraviolet'}});
		expect(() => loadTheme(badColour, {})).toThrow(`theme ${badColour}: "pane.bar" is "ultraviolet", not a colour`);
		const extra = themeFile('extra.json', {...base, severity: {...base.severity, fatal: 'red'}});
		expect(() => loadTheme(extra, {})).toThrow(`theme ${extra}: unknown key "severity.fatal"`);
		// Invalid files are reported even under NO_COLOR.
		expect(() => loadTheme(badColour, {NO_COLOR: '1'})).toThrow(ThemeError);
	});

	it('ThemeError is a user error (one line, no stack)', () => {
		let caught: unknown;
		try {
			loadTheme('neon', {});
		} catch (error) {
			caught = error;
		}

		expect((caught as Error).name).toBe('ThemeError');
		expect(isUserError(caught)).toBe(true);
	});
});
