import path from 'node:path';
import {ConfigError, configFilePath, defaultSettings, isSettingKey, settingSpecs, type Settings} from '../config.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {nearestName} from './unknown-flags.js';

function key(raw: string | undefined): keyof Settings {
	if (raw === undefined) throw new UsageError('missing <key>');
	if (!isSettingKey(raw)) {
		const known = Object.keys(settingSpecs);
		const near = nearestName(raw, known);
		const hint = near === undefined ? 'known settings' : `did you mean '${near}'? Known settings`;
		throw new ConfigError(`unknown setting '${raw}'; ${hint}: ${known.join(', ')}`);
	}

	return raw;
}

/**
 * The value `config set theme` stores, checked as --theme is: stored unchecked, a typo made every
 * later dashboard fail ("unknown theme"). A built-in name is kept; a path must be a readable,
 * valid theme file and is stored absolute, since jobs run from other directories. A bad theme is
 * a usage error (exit 2) that lists the built-in themes.
 */
async function checkTheme(value: string): Promise<string> {
	const {checkTheme, isThemeName, ThemeError} = await import('../ui/theme.js');
	try {
		checkTheme(value);
	} catch (error) {
		throw error instanceof ThemeError ? new UsageError(error.message) : error;
	}

	return isThemeName(value) ? value : path.resolve(value);
}

/** `cage config get|set|list|path|reset`. */
export const configCommand = defineCommand({
	name: 'config',
	help: `<get KEY | set KEY VALUE | list | path | reset [KEY]> [--json]

	Settings
${Object.entries(settingSpecs)
	.map(([name, spec]) => `	  ${name.padEnd(16)} ${spec.describe} (default ${JSON.stringify(defaultSettings[name as keyof Settings])})`)
	.join('\n')}

	Options
	  --json   print list/get as JSON

	The file lives in the directory named by CAGE_CONFIG_DIR, else the user config directory.
	Flags of a command override these settings.`,
	flags: {json: {type: 'boolean'}},
	async run(cli, io) {
		const [action, ...args] = cli.input;
		const expect = (count: number) => {
			if (args.length > count) throw new UsageError(`unexpected argument '${args[count]!}'`);
		};

		// conf (and its schema compiler) loads only here.
		const {ConfigStore, resetConfigFile} = await import('../config-store.js');
		switch (action) {
			case 'path': {
				expect(0);
				io.stdout.write(`${configFilePath()}\n`);
				return exitCodes.ok;
			}

			case 'list': {
				expect(0);
				const all = new ConfigStore().all();
				if (cli.flags.json) io.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
				else {
					// Each value with what it means: a 0 chunk size is automatic, not zero.
					const width = Math.max(...Object.values(all).map(value => JSON.stringify(value).length));
					for (const [name, value] of Object.entries(all)) {
						const meaning = isSettingKey(name) ? `  # ${settingSpecs[name].describe}` : '';
						io.stdout.write(`${name.padEnd(16)} ${JSON.stringify(value).padEnd(width)}${meaning}\n`);
					}
				}
				return exitCodes.ok;
			}

			case 'get': {
				expect(1);
				const value = new ConfigStore().get(key(args[0]));
				io.stdout.write(cli.flags.json ? `${JSON.stringify(value)}\n` : `${String(value)}\n`);
				return exitCodes.ok;
			}

			case 'set': {
				expect(2);
				const name = key(args[0]);
				if (args[1] === undefined) throw new UsageError(`missing <value> for ${name}`);
				const value = new ConfigStore().set(name, name === 'theme' ? await checkTheme(args[1]) : args[1]);
				// Say so when the stored path is not what was typed: a relative one is resolved here, once.
				const resolved = settingSpecs[name].kind === 'path' && value !== '' && !path.isAbsolute(args[1]);
				io.stderr.write(`${name} = ${JSON.stringify(value)}${resolved ? ` (${args[1]} resolved against the current directory; every cage process uses this path)` : ''}\n`);
				return exitCodes.ok;
			}

			case 'reset': {
				expect(1);
				// Not through ConfigStore: conf refuses to open an invalid file, and this is what repairs one.
				const name = args[0] === undefined ? undefined : key(args[0]);
				await resetConfigFile(name);
				io.stderr.write(name === undefined ? 'all settings reset to defaults\n' : `${name} reset to ${JSON.stringify(defaultSettings[name])}\n`);
				return exitCodes.ok;
			}

			case undefined: {
				throw new UsageError('missing action: get, set, list, path or reset');
			}

			default: {
				throw new UsageError(`unknown action '${action}': use get, set, list, path or reset`);
			}
		}
	},
});
