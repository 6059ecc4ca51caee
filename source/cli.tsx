#!/usr/bin/env node
/**
 * The build (scripts/bundle.mjs) bundles this file into dist/bin/ and writes dist/cli.js as a
 * sh/JS launcher: the shell starts node with glibc's malloc told not to hand freed memory back to
 * the OS at once. node's cipher returns a fresh buffer per 64 KiB block; with trimming on, the
 * kernel re-zeroes those pages on every reuse, which doubled the system time of an encryption
 * (258k page faults per GiB; 19k with it off) for the same peak memory.
 */
/**
 * The `cage` binary: finds the subcommand, lets meow parse its flags (unknown flags are usage
 * errors, exit 2, see unknown-flags.ts), runs it, and turns errors into one-line messages and exit codes.
 */
// First, so that age jobs' worker threads boot while the rest of the CLI loads.
import './warm.js';
import process from 'node:process';
import './ui/dashboard-extension.js';
import meow from 'meow';
import {commands, findCommand} from './commands/index.js';
import {CancelledError, exitCodes, UsageError, type Command, type Io} from './commands/command.js';
import {checkFlags} from './commands/unknown-flags.js';
import {describeError, isUserError, redactSecretKeys} from './errors.js';
import {exitProcess} from './io/exit.js';
import {isSessionRunning} from './session/session.js';
import './telemetry/register-detectors.js';
import './audit/register.js';

const topHelp = `
	Usage
	  $ cage <command> [options]

	Commands
${commands.map(command => `	  ${command.name.padEnd(15)} ${command.summary}`).join('\n')}

	Run 'cage <command> --help' for the options of a command.

	Examples
	  $ cage keygen -o key.txt
	  $ cage encrypt big.tar -r age1... -o big.tar.age
	  $ cage resume big.tar.age
	  $ cage decrypt big.tar.age -i key.txt -o big.tar
	  $ cage watch ~/.local/state/cage/audit.jsonl

	Exit codes: 0 done, 1 failed, 2 usage error, 75 interrupted (checkpoint saved; run the printed 'cage resume' line), 130 cancelled at a prompt (Ctrl-C), 141 stdout closed by its reader.
`;

async function main(argv: string[], io: Io): Promise<number> {
	const found = findCommand(argv);
	if (!found) {
		const first = argv.find(arg => !arg.startsWith('-'));
		const top = meow(topHelp, {importMeta: import.meta, argv: first ? [] : argv, autoHelp: false, autoVersion: false, allowUnknownFlags: true, flags: {help: {type: 'boolean', shortFlag: 'h'}, version: {type: 'boolean'}}});
		if (first === 'help') {
			// `cage help encrypt` is `cage encrypt --help`; `cage help` is `cage --help`.
			const words = argv.slice(argv.indexOf(first) + 1).filter(arg => !arg.startsWith('-'));
			return main(words.length > 0 ? [...words, '--help'] : ['--help'], io);
		}

		if (first) {
			const group = commands.filter(command => command.name.startsWith(`${first} `)).map(command => command.name.slice(first.length + 1));
			const next = argv[argv.indexOf(first) + 1];
			const sub = next && !next.startsWith('-') ? next : undefined;
			if (group.length > 0 && !sub && (argv.includes('--help') || argv.includes('-h'))) {
				io.stdout.write(`'cage ${first}' takes one of: ${group.join(', ')}\n${group.map(name => `Run 'cage ${first} ${name} --help' for its options.`).join('\n')}\n`);
				return exitCodes.ok;
			}

			io.stderr.write(
				group.length === 0
					? `cage: unknown command '${first}'\nRun 'cage --help' for the list of commands.\n`
					: `cage: ${sub ? `unknown command '${first} ${sub}'; ` : ''}'cage ${first}' takes one of: ${group.join(', ')}\nRun 'cage ${first} ${group[0]!} --help' for its options.\n`,
			);
			return exitCodes.usage;
		}

		if (top.flags.version) {
			io.stdout.write(`${top.pkg.version ?? 'unknown'}\n`);
			return exitCodes.ok;
		}

		const unknown = argv.filter(arg => arg !== '--help' && arg !== '-h');
		if (unknown.length > 0) {
			io.stderr.write(`cage: unknown flag ${unknown[0]!}\nRun 'cage --help' for usage.\n`);
			return exitCodes.usage;
		}

		if (top.flags.help) {
			io.stdout.write(`${top.help.trimStart()}\n`);
			return exitCodes.ok;
		}

		io.stderr.write(`${top.help.trimStart()}\n`);
		return exitCodes.usage;
	}

	const {rest} = found;
	const parse = (spec: Pick<Command, 'name' | 'help' | 'flags'>) => {
		const flags = {...spec.flags, help: {type: 'boolean', shortFlag: 'h'}} as const;
		const cli = meow(`\n\tUsage\n\t  $ cage ${spec.name} ${spec.help.trimStart()}`, {
			importMeta: import.meta,
			argv: rest,
			description: found.command.summary,
			autoHelp: false,
			autoVersion: false,
			// checkFlags below refuses unknown flags, including misspellings meow's check lets through.
			allowUnknownFlags: true,
			flags,
		});
		return {cli, flags};
	};

	// `cage encrypt --help` prints its help without loading the engine (when meow agrees it asked for help).
	if (found.command.loadHelp && rest.some(arg => arg === '--help' || arg === '-h')) {
		const {cli} = parse(await found.command.loadHelp());
		if (cli.flags.help) {
			io.stdout.write(`${cli.help.trimStart()}\n`);
			return exitCodes.ok;
		}
	}

	const command = await found.command.load();
	const {cli, flags} = parse(command);
	if (cli.flags.help) {
		io.stdout.write(`${cli.help.trimStart()}\n`);
		return exitCodes.ok;
	}

	try {
		checkFlags(rest, flags);
		return await command.run(cli as never, io);
	} catch (error) {
		if (error instanceof UsageError) {
			io.stderr.write(`cage ${command.name}: ${redactSecretKeys(error.message)}\nRun 'cage ${command.name} --help' for usage.\n`);
			return exitCodes.usage;
		}

		if (error instanceof CancelledError) {
			io.stderr.write(`cage ${command.name}: ${error.message}\n`);
			return exitCodes.cancelled;
		}

		io.stderr.write(`cage ${command.name}: ${describeError(error)}\n`);
		if (!isUserError(error) && process.env.CAGE_DEBUG) io.stderr.write(`${redactSecretKeys((error as Error).stack ?? '')}\n`);
		return exitCodes.failed;
	}
}

// A reader of stdout that goes away (`cage decrypt x.age | head`) ends cage as SIGPIPE ends any
// Unix tool (status 141: the output is incomplete, so not 0). While a job runs, the job hears it
// and ends first (its job:done in the audit log, then 141; a closed terminal stops it as SIGHUP
// does). A reader of stderr that goes away only takes the progress and messages with it: the job
// carries on, and its exit status and files say how it ended; a closed terminal there stops the
// job as SIGHUP does (see session.ts), and never crashes the process.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
	if (isSessionRunning()) return;
	if (error.code === 'EPIPE') exitProcess(exitCodes.brokenPipe);
	// Any other failure to write (a full disk behind `> file`): the output is incomplete.
	process.stderr.write(`cage: ${describeError(Object.assign(error, {path: 'stdout'}))}\n`);
	exitProcess(exitCodes.failed);
});
process.stderr.on('error', () => {
	// Written nowhere, but done: a caller that waits for its write's callback (Ink, unmounting)
	// must not wait for ever.
	process.stderr.write = (...args: unknown[]) => {
		const callback = args.find(argument => typeof argument === 'function') as (() => void) | undefined;
		if (callback) process.nextTick(callback);
		return true;
	};
});

const io: Io = {stdin: process.stdin, stdout: process.stdout, stderr: process.stderr};
const code = await main(process.argv.slice(2), io);
// Let stdout drain (a pipe may be slow), then leave even if a library left a handle open.
process.exitCode = code;
await new Promise<void>(resolve => {
	if (process.stdout.writableLength === 0 || process.stdout.destroyed) resolve();
	else process.stdout.once('drain', () => resolve());
});
exitProcess(code);
