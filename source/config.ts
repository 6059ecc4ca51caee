/**
 * Settings, kept by `conf` in the user's config directory (or `CAGE_CONFIG_DIR`).
 * Flags override them; `cage config get|set|list|path|reset` edits them (config-store.ts).
 * Jobs read the same file with `readSettings`, under the same rules, without loading conf.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import {parseSize, SizeError} from './size.js';

/** Every setting with its type. */
export type Settings = {
	/** Chunk size in bytes, or 0 for the size-based default. */
	chunkSize: number;
	/** Files below this many bytes run as one chunk with no checkpoint. */
	chunkThreshold: number;
	/** Chunks processed at once (worker threads for age jobs). */
	jobs: number;
	/** Dashboard theme: a name in themes/ or a path to a JSON file. */
	theme: string;
	/** Audit log path; empty means $XDG_STATE_HOME/cage/audit.jsonl. */
	auditLog: string;
	/** Rotate the audit log when it grows past this many bytes. */
	auditMaxBytes: number;
	/** Rotated audit logs kept (audit.jsonl.1 … .N). */
	auditKeep: number;
	/** A chunk slower than this many times the running median raises a slow-chunk anomaly. */
	slowChunkFactor: number;
	/** Seconds without progress that raise a stall anomaly. */
	stallSeconds: number;
	/** Throughput below this fraction of the running average raises a throughput-collapse anomaly. */
	collapseFactor: number;
	/** Extra attempts for a failed chunk before the job fails. */
	retries: number;
	/** How much of the completed work a resume re-reads to prove the source unchanged: `sample` or `full`. */
	resumeVerify: 'sample' | 'full';
	/** Backup directory; empty means $XDG_DATA_HOME/cage/backups. */
	backupDir: string;
	/** Backup retention: complete generations kept per file (0 = no count limit). */
	backupKeepLast: number;
	/** Backup retention: days a generation is kept beyond the last N (0 = no age limit). */
	backupKeepDays: number;
	/** `cage unlock` keeps the replaced FILE.age as a backup generation (`on`) or deletes it (`off`). */
	backupOnUnlock: 'on' | 'off';
};

/** `path`: text that names a file; `cage config set` stores it absolute (`storedSetting`). */
type Kind = 'size' | 'int' | 'number' | 'string' | 'path' | 'enum';

type KeySpec = {kind: Kind; min?: number; max?: number; values?: readonly string[]; describe: string};

/** Validation rules and help for each key, used by `cage config` and by conf's JSON schema. */
export const settingSpecs: Record<keyof Settings, KeySpec> = {
	chunkSize: {kind: 'size', min: 0, describe: 'chunk size (0 = grows with the file: 16 MiB, doubled past 4096 chunks)'},
	chunkThreshold: {kind: 'size', min: 0, describe: 'files smaller than this run as one chunk with no checkpoint'},
	jobs: {kind: 'int', min: 1, max: 64, describe: 'chunks processed in parallel'},
	theme: {kind: 'string', describe: 'dashboard theme name (themes/) or path to a theme JSON file'},
	auditLog: {kind: 'path', describe: 'audit log path, stored absolute (empty = $XDG_STATE_HOME/cage/audit.jsonl)'},
	auditMaxBytes: {kind: 'size', min: 4096, describe: 'rotate the audit log past this size'},
	auditKeep: {kind: 'int', min: 0, max: 100, describe: 'rotated audit logs to keep'},
	slowChunkFactor: {kind: 'number', min: 1, describe: 'slow-chunk anomaly: chunk time over this many times the median'},
	stallSeconds: {kind: 'number', min: 1, describe: 'stall anomaly: seconds without progress'},
	collapseFactor: {kind: 'number', min: 0, max: 1, describe: 'throughput-collapse anomaly: rate below this fraction of the average'},
	retries: {kind: 'int', min: 0, max: 100, describe: 'extra attempts for a failed chunk'},
	resumeVerify: {kind: 'enum', values: ['sample', 'full'], describe: 'resume re-verifies a sample of done chunks, or all of them'},
	backupDir: {kind: 'path', describe: 'backup directory, stored absolute (empty = $XDG_DATA_HOME/cage/backups)'},
	backupKeepLast: {kind: 'int', min: 0, max: 1_000_000, describe: 'backups: complete generations kept per file (0 = no count limit)'},
	backupKeepDays: {kind: 'int', min: 0, max: 1_000_000, describe: 'backups: days older generations are kept (0 = no age limit; with keep-last, only beyond the last N)'},
	backupOnUnlock: {kind: 'enum', values: ['on', 'off'], describe: 'cage unlock keeps the replaced FILE.age as a backup generation (on) or deletes it (off)'},
};

/** Defaults, also the values `cage config reset` restores. */
export const defaultSettings: Settings = {
	chunkSize: 0,
	chunkThreshold: 64 * 2 ** 20,
	jobs: Math.max(1, Math.min(4, os.availableParallelism())),
	theme: 'default',
	auditLog: '',
	auditMaxBytes: 64 * 2 ** 20,
	auditKeep: 5,
	slowChunkFactor: 4,
	stallSeconds: 10,
	collapseFactor: 0.2,
	retries: 2,
	resumeVerify: 'sample',
	backupDir: '',
	backupKeepLast: 3,
	backupKeepDays: 0,
	backupOnUnlock: 'on',
};

/** Thrown for an unknown key or an invalid value; the message says which and why. */
export class ConfigError extends Error {
	override name = 'ConfigError';
}

/** True when `key` is a setting. */
export function isSettingKey(key: string): key is keyof Settings {
	return Object.hasOwn(settingSpecs, key);
}

/** Parse and validate a value given as text (from `cage config set` or a flag). */
export function parseSetting<K extends keyof Settings>(key: K, raw: string | number): Settings[K] {
	const spec = settingSpecs[key];
	let value: number | string;
	switch (spec.kind) {
		case 'size': {
			try {
				value = parseSize(raw);
			} catch (error) {
				if (error instanceof SizeError) throw new ConfigError(`${key}: ${error.message}`);
				throw error;
			}

			break;
		}

		case 'int':
		case 'number': {
			value = Number(raw);
			if (String(raw).trim() === '' || !Number.isFinite(value)) throw new ConfigError(`${key}: '${raw}' is not a number`);
			if (spec.kind === 'int' && !Number.isInteger(value)) throw new ConfigError(`${key}: '${raw}' is not a whole number`);
			break;
		}

		case 'enum': {
			value = String(raw);
			if (!spec.values!.includes(value)) throw new ConfigError(`${key}: '${raw}' is not one of ${spec.values!.join(', ')}`);
			break;
		}

		case 'string':
		case 'path': {
			value = String(raw);
			break;
		}
	}

	if (typeof value === 'number') {
		if (spec.min !== undefined && value < spec.min) throw new ConfigError(`${key}: ${raw} is below the minimum ${spec.min}`);
		if (spec.max !== undefined && value > spec.max) throw new ConfigError(`${key}: ${raw} is above the maximum ${spec.max}`);
	}

	return value as Settings[K];
}

/**
 * The value `cage config set` stores: a path setting (auditLog) given relative is resolved against
 * the directory `set` runs in. Stored as typed, every cage process would resolve it against its
 * own working directory: jobs started in different directories would write different logs, none
 * of them the one `cage watch` follows from yet another directory.
 */
export function storedSetting<K extends keyof Settings>(key: K, value: Settings[K], cwd = process.cwd()): Settings[K] {
	if (settingSpecs[key].kind !== 'path' || value === '') return value;
	return path.resolve(cwd, String(value)) as Settings[K];
}

/** The directory that holds the config file and the resume identity. */
export function configDir(): string {
	const override = process.env.CAGE_CONFIG_DIR;
	if (override) return path.resolve(override);
	// Same rule as env-paths (which conf uses) without the "-nodejs" suffix.
	if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Preferences', 'cage');
	if (process.platform === 'win32') return path.join(process.env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'cage', 'Config');
	return path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'cage');
}

/** Where audit logs go by default: $XDG_STATE_HOME/cage/audit.jsonl. */
export function defaultAuditLogPath(): string {
	const state = process.env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state');
	return path.join(state, 'cage', 'audit.jsonl');
}

/** Where backups go by default: $XDG_DATA_HOME/cage/backups. */
export function defaultBackupDir(): string {
	return path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'cage', 'backups');
}

/** Resolve the config directory's config file path without creating anything. */
export function configFilePath(dir: string = configDir()): string {
	return path.join(dir, 'config.json');
}

/** The JSON type conf's schema gives a setting's values (a size or count is a whole number; an enum's values are strings). */
export function settingJsonType(key: keyof Settings): 'string' | 'number' | 'integer' {
	const {kind} = settingSpecs[key];
	if (kind === 'size' || kind === 'int') return 'integer';
	return kind === 'number' ? 'number' : 'string';
}

/** The JSON object a config file's text holds; a ConfigError says 'not JSON' or 'not a JSON object'. */
export function parseConfigObject(text: string): Record<string, unknown> {
	let data: unknown;
	try {
		data = JSON.parse(text);
	} catch {
		throw new ConfigError('not JSON');
	}

	if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError('not a JSON object');
	return data as Record<string, unknown>;
}

/**
 * The settings in `data` (a config file's JSON object), defaults filled in, each checked with
 * `parseSetting`; an error's message says which setting is wrong and why (the caller names the
 * file). Keys that are not settings (conf's `__internal__` bookkeeping) are left alone, as conf
 * does. A value must be a number or a string; with `schemaTypes`, the JSON type conf's schema
 * demands (`settingJsonType`), which is what decides whether conf will open the file.
 */
export function settingsFrom(data: Record<string, unknown>, {schemaTypes = false} = {}): Settings {
	const settings: Record<string, unknown> = {...defaultSettings};
	for (const [key, value] of Object.entries(data)) {
		if (!isSettingKey(key)) continue;
		const problem = schemaTypes ? schemaTypeProblem(key, value) : scalarProblem(key, value);
		if (problem) throw new ConfigError(problem);
		settings[key] = parseSetting(key, value as number | string);
	}

	return settings as Settings;
}

function scalarProblem(key: keyof Settings, value: unknown): string | undefined {
	return typeof value === 'number' || typeof value === 'string' ? undefined : `${key} must be a number or a string`;
}

function schemaTypeProblem(key: keyof Settings, value: unknown): string | undefined {
	const type = settingJsonType(key);
	if (type === 'string') return typeof value === 'string' ? undefined : `${key} must be a string`;
	if (typeof value !== 'number') return `${key} must be a number`;
	return type === 'integer' && !Number.isInteger(value) ? `${key} must be a whole number` : undefined;
}

/**
 * The settings a job runs with: the config file that `cage config` (conf) keeps, read and
 * validated with the same rules (`parseSetting`) — without loading conf and its JSON-schema
 * compiler, which cost every start of cage about 70 ms.
 */
export function readSettings(dir: string = configDir()): Settings {
	const file = configFilePath(dir);
	let text: string;
	try {
		text = fs.readFileSync(file, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {...defaultSettings};
		throw new ConfigError(`cannot read the config file ${file} (${(error as Error).message})`);
	}

	try {
		return settingsFrom(parseConfigObject(text));
	} catch (error) {
		throw new ConfigError(`the config file ${file} is invalid (${(error as Error).message}); fix it or run 'cage config reset'`);
	}
}
