import path from 'node:path';
import {displayPath} from './display-path.js';
import {formatSizeArgument} from './size.js';

/** Quote an argument for a POSIX shell command line the user can paste (resume lines). */
export function shellQuote(value: string): string {
	return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", String.raw`'\''`)}'`;
}

/** What the user chose for this run, by flag, that a resume should repeat. */
export type ResumeArgs = {
	/** --rate, bytes per second. */
	rate?: number | undefined;
	/** --jobs, when given. */
	jobs?: number | undefined;
	/** --audit-log PATH when given; null for --no-audit. */
	auditLog?: string | null | undefined;
	/** CAGE_CONFIG_DIR, when the resume needs it and the user's shell may not have it (the demo's run). */
	configDir?: string | undefined;
};

/**
 * The `cage resume` line a job prints: its target as the user would type it, and the flags of
 * this run that are choices, not settings (a rate limit, worker count, audit log or none), so that
 * the line continues the job the same way.
 */
export function resumeLine(target: string, args: ResumeArgs = {}): string {
	const flags = [
		args.rate ? `--rate ${formatSizeArgument(args.rate)}` : '',
		args.jobs ? `--jobs ${args.jobs}` : '',
		args.auditLog === null ? '--no-audit' : args.auditLog ? `--audit-log ${shellQuote(displayPath(args.auditLog))}` : '',
	].filter(Boolean);
	// The resume identity that unwraps the checkpoint's secrets lives in the config directory;
	// absolute, as the demo's target is, so the line works from any directory.
	const env = args.configDir ? `CAGE_CONFIG_DIR=${shellQuote(path.resolve(args.configDir))} ` : '';
	return [`${env}cage resume ${shellQuote(displayPath(target))}`, ...flags].join(' ');
}
