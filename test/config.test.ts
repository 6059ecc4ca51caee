import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {ConfigError, configDir, configFilePath, defaultSettings, isSettingKey, parseSetting, readSettings, settingsFrom} from '../source/config.js';
import {ConfigStore, resetConfigFile} from '../source/config-store.js';

let dir: string;
const savedEnv = process.env.CAGE_CONFIG_DIR;

beforeEach(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-config-'));
	process.env.CAGE_CONFIG_DIR = dir;
});

afterEach(() => {
	if (savedEnv === undefined) delete process.env.CAGE_CONFIG_DIR;
	else process.env.CAGE_CONFIG_DIR = savedEnv;
	fs.rmSync(dir, {recursive: true, force: true});
});

describe('configDir', () => {
	it('follows CAGE_CONFIG_DIR (tests never touch the real home)', () => {
		expect(configDir()).toBe(path.resolve(dir));
		expect(configFilePath()).toBe(path.join(dir, 'config.json'));
		expect(new ConfigStore().path).toBe(path.join(dir, 'config.json'));
	});
});

describe('ConfigStore', () => {
	it('starts with the defaults', () => {
		const store = new ConfigStore(dir);
		expect(store.all()).toEqual(defaultSettings);
		expect(store.get('retries')).toBe(2);
		expect(store.get('resumeVerify')).toBe('sample');
	});

	it('sets, gets and persists values given as text, sizes parsed', () => {
		const store = new ConfigStore(dir);
		expect(store.set('chunkSize', '32MiB')).toBe(32 * 2 ** 20);
		expect(store.set('jobs', '3')).toBe(3);
		expect(store.set('resumeVerify', 'full')).toBe('full');
		expect(store.set('theme', 'solarized')).toBe('solarized');
		expect(store.set('collapseFactor', '0.5')).toBe(0.5);
		const reopened = new ConfigStore(dir);
		expect(reopened.get('chunkSize')).toBe(32 * 2 ** 20);
		expect(reopened.get('jobs')).toBe(3);
		expect(reopened.get('resumeVerify')).toBe('full');
		expect(reopened.get('theme')).toBe('solarized');
		const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
		expect(onDisk.chunkSize).toBe(32 * 2 ** 20);
		expect(onDisk.jobs).toBe(3);
	});

	it('stores a relative auditLog resolved against the directory it was set in, an absolute or empty one as given', () => {
		const store = new ConfigStore(dir);
		expect(store.set('auditLog', 'logs/audit.jsonl', '/srv/project')).toBe('/srv/project/logs/audit.jsonl');
		expect(readSettings(dir).auditLog).toBe('/srv/project/logs/audit.jsonl');
		expect(store.set('auditLog', '../audit.jsonl')).toBe(path.resolve('../audit.jsonl'));
		expect(store.set('auditLog', '/var/log/cage/audit.jsonl', '/srv/project')).toBe('/var/log/cage/audit.jsonl');
		expect(store.set('auditLog', '', '/srv/project')).toBe('');
		expect(readSettings(dir).auditLog).toBe('');
		// Other text settings are not paths.
		expect(store.set('resumeVerify', 'full', '/srv/project')).toBe('full');
	});

	it('writes the config file with mode 0600', () => {
		const store = new ConfigStore(dir);
		store.set('jobs', 2);
		expect(fs.statSync(store.path).mode & 0o777).toBe(0o600);
	});

	it('resets one key or all of them to the defaults', () => {
		const store = new ConfigStore(dir);
		store.set('jobs', 7);
		store.set('retries', 9);
		store.reset('jobs');
		expect(store.get('jobs')).toBe(defaultSettings.jobs);
		expect(store.get('retries')).toBe(9);
		store.reset();
		expect(store.all()).toEqual(defaultSettings);
		expect(new ConfigStore(dir).get('retries')).toBe(defaultSettings.retries);
	});

	it.each([
		['jobs', '0', "jobs: 0 is below the minimum 1"],
		['jobs', '65', 'jobs: 65 is above the maximum 64'],
		['jobs', '1.5', "jobs: '1.5' is not a whole number"],
		['jobs', '', "jobs: '' is not a number"],
		['retries', 'many', "retries: 'many' is not a number"],
		['chunkSize', 'abc', "chunkSize: 'abc' is not a size"],
		['auditMaxBytes', '1K', 'auditMaxBytes: 1K is below the minimum 4096'],
		['collapseFactor', '2', 'collapseFactor: 2 is above the maximum 1'],
		['resumeVerify', 'x', "resumeVerify: 'x' is not one of sample, full"],
	] as const)('rejects %s=%j with the reason', (key, raw, message) => {
		const store = new ConfigStore(dir);
		expect(() => store.set(key, raw)).toThrow(ConfigError);
		expect(() => store.set(key, raw)).toThrow(message);
		// Nothing was stored.
		expect(store.get(key)).toBe(defaultSettings[key]);
	});

	it('names the file when it was corrupted by hand (not JSON)', () => {
		fs.writeFileSync(path.join(dir, 'config.json'), '{"jobs": 3,,,');
		let error: unknown;
		try {
			new ConfigStore(dir);
		} catch (error_) {
			error = error_;
		}

		expect(error).toBeInstanceOf(ConfigError);
		expect((error as Error).message).toContain(path.join(dir, 'config.json'));
		expect((error as Error).message).toContain("cage config reset");
	});

	it('names the file when a hand-edited value breaks the schema', () => {
		fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({jobs: 0}));
		expect(() => new ConfigStore(dir)).toThrow(ConfigError);
		expect(() => new ConfigStore(dir)).toThrow(path.join(dir, 'config.json'));
	});
});

describe('parseSetting', () => {
	it('knows its keys', () => {
		expect(isSettingKey('jobs')).toBe(true);
		expect(isSettingKey('toString')).toBe(false);
		expect(isSettingKey('nope')).toBe(false);
	});

	it('accepts numbers and text alike', () => {
		expect(parseSetting('chunkThreshold', 0)).toBe(0);
		expect(parseSetting('chunkThreshold', '64M')).toBe(64 * 2 ** 20);
		expect(parseSetting('stallSeconds', '2.5')).toBe(2.5);
		expect(parseSetting('auditLog', '')).toBe('');
	});
});

describe('readSettings (what jobs run with, read without conf)', () => {
	it('gives the defaults without a file, and what cage config stored once there is one', () => {
		expect(readSettings(dir)).toEqual(defaultSettings);
		const store = new ConfigStore(dir);
		store.set('jobs', '3');
		store.set('chunkSize', '32MiB');
		store.set('resumeVerify', 'full');
		expect(readSettings(dir)).toEqual(store.all());
		expect(readSettings(dir)).toMatchObject({jobs: 3, chunkSize: 32 * 2 ** 20, resumeVerify: 'full'});
	});

	it('ignores conf bookkeeping and rejects bad files with the same rules, naming the file', () => {
		const file = path.join(dir, 'config.json');
		fs.writeFileSync(file, JSON.stringify({__internal__: {migrations: {}}, jobs: 2}));
		expect(readSettings(dir).jobs).toBe(2);
		fs.writeFileSync(file, JSON.stringify({jobs: 0}));
		expect(() => readSettings(dir)).toThrow(ConfigError);
		expect(() => readSettings(dir)).toThrow(`the config file ${file} is invalid (jobs: 0 is below the minimum 1)`);
		fs.writeFileSync(file, '{"jobs": 2');
		expect(() => readSettings(dir)).toThrow(/config\.json is invalid \(not JSON\); fix it or run 'cage config reset'/);
		fs.writeFileSync(file, JSON.stringify({theme: {name: 'x'}}));
		expect(() => readSettings(dir)).toThrow(/theme must be a number or a string/);
	});
});

describe('settingsFrom (the checks readSettings and cage config reset share)', () => {
	it('takes numbers given as strings unless asked for the JSON types of conf\'s schema, which agree with conf', () => {
		expect(settingsFrom({jobs: '3', __internal__: {}})).toEqual({...defaultSettings, jobs: 3});
		expect(() => settingsFrom({jobs: '3'}, {schemaTypes: true})).toThrow('jobs must be a number');
		expect(() => settingsFrom({theme: 7}, {schemaTypes: true})).toThrow('theme must be a string');
		expect(() => settingsFrom({resumeVerify: 1}, {schemaTypes: true})).toThrow('resumeVerify must be a string');
		expect(() => settingsFrom({chunkSize: 1.5}, {schemaTypes: true})).toThrow('chunkSize must be a whole number');
		expect(() => settingsFrom({theme: null})).toThrow('theme must be a number or a string');
		// What decides whether conf opens a file: its schema (from the same table) and settingsFrom agree.
		const passes = (check: () => unknown) => {
			try {
				check();
				return true;
			} catch {
				return false;
			}
		};

		const file = path.join(dir, 'config.json');
		for (const data of [{jobs: 3}, {jobs: '3'}, {theme: 7}, {resumeVerify: 'full'}, {resumeVerify: 'some'}, {chunkSize: 1.5}, {collapseFactor: 0.5}, {collapseFactor: 2}, {auditLog: 'x'}]) {
			fs.writeFileSync(file, JSON.stringify(data));
			expect({data, passes: passes(() => new ConfigStore(dir))}).toEqual({data, passes: passes(() => settingsFrom(data, {schemaTypes: true}))});
		}
	});
});

describe('resetConfigFile (cage config reset, which must repair what conf refuses to open)', () => {
	const file = () => path.join(dir, 'config.json');

	it.each([
		['not JSON', '{bad'],
		['a schema violation', JSON.stringify({jobs: 0})],
		['not an object', '[1, 2]'],
		['a wrong type', JSON.stringify({jobs: '3', theme: 7})],
	])('with no key rewrites a file holding %s to the defaults, mode 0600', async (_what, text) => {
		fs.writeFileSync(file(), text, {mode: 0o644});
		expect(() => new ConfigStore(dir)).toThrow(ConfigError);
		await resetConfigFile(undefined, dir);
		expect(new ConfigStore(dir).all()).toEqual(defaultSettings);
		expect(readSettings(dir)).toEqual(defaultSettings);
		expect(fs.statSync(file()).mode & 0o777).toBe(0o600);
		expect(fs.readdirSync(dir)).toEqual(['config.json']);
	});

	it('with a key restores that setting and keeps the others, also when only that one was invalid', async () => {
		fs.writeFileSync(file(), JSON.stringify({jobs: 0, retries: 5}));
		expect(() => new ConfigStore(dir)).toThrow(ConfigError);
		await resetConfigFile('jobs', dir);
		const store = new ConfigStore(dir);
		expect(store.get('jobs')).toBe(defaultSettings.jobs);
		expect(store.get('retries')).toBe(5);
		store.set('jobs', 7);
		await resetConfigFile('jobs', dir);
		expect(new ConfigStore(dir).all()).toEqual({...defaultSettings, retries: 5});
		expect(fs.statSync(file()).mode & 0o777).toBe(0o600);
	});

	it('with a key refuses a file that stays invalid, says to reset without a key, and leaves it as it was', async () => {
		for (const [text, reason] of [
			['{bad', `the config file ${file()} is not JSON, so jobs alone cannot be reset; run 'cage config reset' (without a key) to restore all settings to their defaults`],
			[
				JSON.stringify({jobs: 0, retries: -1}),
				`the config file ${file()} is invalid beyond jobs (retries: -1 is below the minimum 0); reset that setting too, or run 'cage config reset' (without a key) to restore all settings to their defaults`,
			],
			[JSON.stringify({jobs: 0, retries: '5'}), 'invalid beyond jobs (retries must be a number)'],
		] as const) {
			fs.writeFileSync(file(), text);
			await expect(resetConfigFile('jobs', dir)).rejects.toThrow(ConfigError);
			await expect(resetConfigFile('jobs', dir)).rejects.toThrow(reason);
			expect(fs.readFileSync(file(), 'utf8')).toBe(text);
		}
	});

	it('with a key and no file writes nothing; a config file that is a symlink is written through', async () => {
		await resetConfigFile('jobs', dir);
		expect(fs.existsSync(file())).toBe(false);
		const real = path.join(dir, 'dotfiles-config.json');
		fs.writeFileSync(real, '{bad');
		fs.symlinkSync(real, file());
		await resetConfigFile(undefined, dir);
		expect(fs.lstatSync(file()).isSymbolicLink()).toBe(true);
		expect(JSON.parse(fs.readFileSync(real, 'utf8'))).toEqual(defaultSettings);
	});
});
