/**
 * The settings store behind `cage config`: conf keeps the file (atomic writes, mode 0600) and
 * checks it against a JSON schema made from the same specs as `parseSetting`. Only `cage config`
 * loads this module; jobs read the file with `readSettings` (config.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import Conf from 'conf';
import {
	ConfigError,
	configDir,
	configFilePath,
	defaultSettings,
	parseConfigObject,
	parseSetting,
	settingJsonType,
	settingsFrom,
	settingSpecs,
	storedSetting,
	type Settings,
} from './config.js';
import {makePrivateDirectory, makePrivateDirectorySync, writePrivateFile} from './io/private-file.js';

function jsonSchema(): Record<string, unknown> {
	const schema: Record<string, unknown> = {};
	for (const [key, spec] of Object.entries(settingSpecs)) {
		const entry: Record<string, unknown> = spec.kind === 'enum' ? {enum: spec.values} : {type: settingJsonType(key as keyof Settings)};
		if (spec.min !== undefined) entry.minimum = spec.min;
		if (spec.max !== undefined) entry.maximum = spec.max;
		entry.default = defaultSettings[key as keyof Settings];
		schema[key] = entry;
	}

	return schema;
}

/** The settings store. */
export class ConfigStore {
	readonly #conf: Conf<Settings>;

	constructor(dir: string = configDir()) {
		try {
			// conf writes the file (defaults) on first use and makes the directory without a mode.
			makePrivateDirectorySync(dir);
			this.#conf = new Conf<Settings>({
				projectName: 'cage',
				projectSuffix: '',
				cwd: dir,
				configName: 'config',
				configFileMode: 0o600,
				schema: jsonSchema() as never,
				clearInvalidConfig: false,
			});
		} catch (error) {
			throw new ConfigError(
				`the config file ${configFilePath(dir)} is invalid (${(error as Error).message}); fix it or run 'cage config reset'`,
			);
		}
	}

	/** The config file's path. */
	get path(): string {
		return this.#conf.path;
	}

	/** All settings, defaults filled in. */
	all(): Settings {
		return {...defaultSettings, ...this.#conf.store};
	}

	get<K extends keyof Settings>(key: K): Settings[K] {
		return this.all()[key];
	}

	/** Validate and store a setting given as text; a relative path is stored resolved against `cwd`. */
	set<K extends keyof Settings>(key: K, raw: string | number, cwd = process.cwd()): Settings[K] {
		const value = storedSetting(key, parseSetting(key, raw), cwd);
		this.#conf.set(key, value);
		return value;
	}

	/** Restore one setting, or all, to the defaults. */
	reset(key?: keyof Settings): void {
		if (key) this.#conf.reset(key);
		else this.#conf.clear();
	}
}

/**
 * `cage config reset [KEY]`, without conf: every message about an invalid config file says to run
 * it, and conf refuses to open such a file at all (its constructor checks the schema). With no
 * key the file is rewritten with the defaults, whatever it held. With a key the file is read as
 * JSON, that setting restored, and the result written only if the rest is valid; otherwise the
 * error names the problem and points to the reset of all settings. Writes are atomic, mode 0600;
 * a config file that is a symlink (dotfiles) is written through, as conf does.
 */
export async function resetConfigFile(key?: keyof Settings, dir: string = configDir()): Promise<void> {
	const file = configFilePath(dir);
	const target = await fs.realpath(file).catch(() => file);
	const write = async (data: Record<string, unknown>) => {
		await makePrivateDirectory(path.dirname(target));
		await writePrivateFile(target, JSON.stringify(data, undefined, '\t'), {replace: true});
	};

	if (key === undefined) {
		await write({...defaultSettings});
		return;
	}

	let text: string;
	try {
		text = await fs.readFile(target, 'utf8');
	} catch (error) {
		// No file: every setting is at its default already.
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
		throw new ConfigError(`cannot read the config file ${file} (${(error as Error).message})`);
	}

	const resetAll = `run 'cage config reset' (without a key) to restore all settings to their defaults`;
	let data: Record<string, unknown>;
	try {
		data = parseConfigObject(text);
	} catch (error) {
		throw new ConfigError(`the config file ${file} is ${(error as Error).message}, so ${key} alone cannot be reset; ${resetAll}`);
	}

	const repaired = {...data, [key]: defaultSettings[key]};
	try {
		// conf opens the file only if its schema passes: the JSON types as well as parseSetting.
		settingsFrom(repaired, {schemaTypes: true});
	} catch (error) {
		throw new ConfigError(`the config file ${file} is invalid beyond ${key} (${(error as Error).message}); reset that setting too, or ${resetAll}`);
	}

	await write(repaired);
}
