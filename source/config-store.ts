/**
 * The settings store behind `cage config`: conf keeps the file (atomic writes, mode 0600) and
 * checks it against a JSON schema made from the same specs as `parseSetting`. Only `cage config`
 * loads this module; jobs read the file with `readSettings` (config.ts).
 */
import Conf from 'conf';
import {ConfigError, configDir, configFilePath, defaultSettings, parseSetting, settingSpecs, type Settings} from './config.js';

function jsonSchema(): Record<string, unknown> {
	const schema: Record<string, unknown> = {};
	for (const [key, spec] of Object.entries(settingSpecs)) {
		const entry: Record<string, unknown> =
			spec.kind === 'enum' ? {enum: spec.values} : spec.kind === 'string' ? {type: 'string'} : {type: spec.kind === 'number' ? 'number' : 'integer'};
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

	/** Validate and store a setting given as text. */
	set<K extends keyof Settings>(key: K, raw: string | number): Settings[K] {
		const value = parseSetting(key, raw);
		this.#conf.set(key, value);
		return value;
	}

	/** Restore one setting, or all, to the defaults. */
	reset(key?: keyof Settings): void {
		if (key) this.#conf.reset(key);
		else this.#conf.clear();
	}
}

