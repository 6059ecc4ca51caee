/**
 * The options every job command shares (jobs, rate, progress, audit log, theme), resolved from
 * flags over config, and the session built from them.
 */
import path from 'node:path';
import {defaultAuditLogPath, readSettings, type Settings} from '../config.js';
import type {Io} from './command.js';
import {intFlag, progressFlag, sizeFlag, themeFlag, type ProgressMode} from './options.js';
import type {SessionOptions} from '../session/session.js';
import type {ResumeArgs} from '../shell-quote.js';

/** Raw flags of `jobFlags`. */
export type JobFlagValues = {
	jobs?: number | undefined;
	rate?: string | undefined;
	progress?: string | undefined;
	auditLog?: string | undefined;
	audit?: boolean | undefined;
	theme?: string | undefined;
};

export type JobOptions = {
	settings: Settings;
	jobs: number;
	/** Bytes per second; 0 = unlimited. */
	rate: number;
	progress: ProgressMode;
	auditLog: string | null;
	theme: string;
	/** The flags above as given, for the printed resume line. */
	resumeArgs: ResumeArgs;
};

/** What every age job takes from a command's job options: workers, rate, resume line, retries, resume checks. */
export function ageJobSettings(options: JobOptions) {
	return {jobs: options.jobs, rate: options.rate, resumeArgs: options.resumeArgs, retries: options.settings.retries, resumeVerify: options.settings.resumeVerify};
}

/** Validate the shared job flags and merge them over config. */
export function resolveJobOptions(flags: JobFlagValues, io: Io): JobOptions {
	const settings = readSettings();
	const jobs = intFlag('jobs', flags.jobs, {min: 1, max: 64}) ?? settings.jobs;
	const rate = sizeFlag('rate', flags.rate) ?? 0;
	const progress = progressFlag(flags.progress, io.stderr);
	const theme = themeFlag(flags.theme) ?? settings.theme;
	const auditLog = flags.audit === false ? null : path.resolve(flags.auditLog ?? (settings.auditLog || defaultAuditLogPath()));
	const resumeArgs = {rate, jobs: flags.jobs === undefined ? undefined : jobs, auditLog: flags.audit === false ? null : flags.auditLog === undefined ? undefined : auditLog};
	return {settings, jobs, rate, progress, auditLog, theme, resumeArgs};
}

/** Session options from job options. */
export function sessionOptions(options: JobOptions, io: Io, command: string, sourcePath: string | null): SessionOptions {
	return {io, progress: options.progress, settings: options.settings, auditLog: options.auditLog, theme: options.theme, sourcePath, command, resumeArgs: options.resumeArgs};
}
