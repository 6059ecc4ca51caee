/** The command registry: every subcommand of `cage`, in the order `cage --help` lists them. */
import type {Command} from './command.js';
import {decryptCommand, encryptCommand} from './age-jobs.js';
import {backupCommands} from './backup.js';
import {chunkHashCommand} from './chunk-hash.js';
import {chunkInspectCommand} from './chunk-inspect.js';
import {chunkPlanCommand} from './chunk-plan.js';
import {configCommand} from './config.js';
import {demoCommand} from './demo.js';
import {inspectCommand} from './inspect.js';
import {keygenCommand} from './keygen.js';
import {lockCommand, statusCommand, unlockCommand} from './lock.js';
import {resumeCommand} from './resume.js';
import {sweepCommand} from './sweep.js';
import {watchCommand} from './watch.js';

/** All commands. */
export const commands: Command[] = [
	encryptCommand,
	decryptCommand,
	lockCommand,
	unlockCommand,
	statusCommand,
	resumeCommand,
	watchCommand,
	keygenCommand,
	inspectCommand,
	chunkPlanCommand,
	chunkHashCommand,
	chunkInspectCommand,
	...backupCommands,
	sweepCommand,
	configCommand,
	demoCommand,
] as Command[];

/**
 * Find the command named by the leading non-flag words of argv (`chunk plan file` → `chunk plan`)
 * and return the remaining arguments for meow.
 */
export function findCommand(argv: string[]): {command: Command; rest: string[]} | undefined {
	const first = argv.findIndex(arg => !arg.startsWith('-'));
	if (first === -1 || argv.slice(0, first).some(arg => arg !== '--help' && arg !== '-h')) return undefined;
	const leadingFlags = argv.slice(0, first);
	for (const command of [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length)) {
		const words = command.name.split(' ');
		if (words.every((word, index) => argv[first + index] === word)) {
			return {command, rest: [...leadingFlags, ...argv.slice(first + words.length)]};
		}
	}

	return undefined;
}
