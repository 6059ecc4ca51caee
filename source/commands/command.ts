/**
 * What every subcommand provides to the CLI shell: its help text, its meow flags, and a `run`
 * that turns parsed options into core calls and returns an exit code.
 */
import type {AnyFlags, Result} from 'meow';

/**
 * Exit codes (DESIGN.md): 0 done, 1 failed, 2 usage error, 75 interrupted with a checkpoint; 130
 * when the user cancelled at a prompt (128 + SIGINT, as a shell reports a tool that Ctrl-C ended);
 * 141 when stdout's reader went away (128 + SIGPIPE, as a shell reports a tool that SIGPIPE killed).
 */
export const exitCodes = {ok: 0, failed: 1, usage: 2, interrupted: 75, cancelled: 130, brokenPipe: 141} as const;

/** A usage error: bad flags or arguments. Exit 2 with the message and a pointer to --help. */
export class UsageError extends Error {
	override name = 'UsageError';
}

/**
 * The user cancelled (Ctrl-C at a prompt, where the terminal is raw and no SIGINT comes). Exit 130
 * with the message and no pointer to --help: nothing was wrong with the command line.
 */
export class CancelledError extends Error {
	override name = 'CancelledError';
}

/** The process streams a command uses (tests and the library pass their own). */
export type Io = {
	stdin: NodeJS.ReadStream;
	stdout: NodeJS.WriteStream;
	stderr: NodeJS.WriteStream;
};

/** One subcommand. `name` may contain a space (`chunk plan`). */
export type Command<F extends AnyFlags = AnyFlags> = {
	name: string;
	/** The help text after the usage line: arguments, options, examples. */
	help: string;
	flags: F;
	run(cli: Result<F>, io: Io): Promise<number>;
};

/** Declare a command with its flag types inferred. */
export function defineCommand<F extends AnyFlags>(command: Command<F>): Command<F> {
	return command;
}
