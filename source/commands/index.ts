/**
 * The command registry: every subcommand of `cage`, in the order `cage --help` lists them, with
 * the one line the list shows. A command's module (its help, flags and code) is loaded only when
 * that command runs: `cage --help` or `cage keygen` need not compile the engine, the SSH key code
 * or the sweep scanner (start-up is most of a short command's time).
 */
import type {Command} from './command.js';

/** A command as the registry knows it before it is loaded. `name` may contain a space (`chunk plan`). */
export type CommandEntry = {
	name: string;
	/** One line for the command list (and meow's description). */
	summary: string;
	load(): Promise<Command>;
	/** Its help and flags alone, where the command's code is heavy: `--help` then loads no more. */
	loadHelp?(): Promise<Pick<Command, 'name' | 'help' | 'flags'>>;
};

/** All commands. */
export const commands: CommandEntry[] = [
	{name: 'encrypt', summary: 'encrypt a file to age recipients or a passphrase (resumable, parallel)', load: async () => (await import('./age-jobs.js')).encryptCommand, loadHelp: async () => (await import('./age-help.js')).encryptSpec},
	{name: 'decrypt', summary: 'decrypt an age file with identities or a passphrase (resumable, parallel)', load: async () => (await import('./age-jobs.js')).decryptCommand, loadHelp: async () => (await import('./age-help.js')).decryptSpec},
	{name: 'lock', summary: 'encrypt files in place: FILE becomes FILE.age, the original removed once verified', load: async () => (await import('./lock.js')).lockCommand},
	{name: 'unlock', summary: 'decrypt files in place: FILE.age becomes FILE (FILE.age kept as a backup)', load: async () => (await import('./lock.js')).unlockCommand},
	{name: 'status', summary: 'which files are locked (age files) and which not, and interrupted lock/unlock jobs', load: async () => (await import('./lock.js')).statusCommand},
	{name: 'verify', summary: 'authenticate every block of age files, in parallel, writing nothing', load: async () => (await import('./verify.js')).verifyCommand},
	{name: 'resume', summary: 'continue an interrupted encrypt, decrypt, hash or sweep job', load: async () => (await import('./resume.js')).resumeCommand},
	{name: 'watch', summary: 'follow the audit log of jobs run by other cage processes, in the same dashboard', load: async () => (await import('./watch.js')).watchCommand},
	{name: 'keygen', summary: 'generate an age identity, or print the recipients of one (like age-keygen)', load: async () => (await import('./keygen.js')).keygenCommand},
	{name: 'inspect', summary: 'show what an age file says about itself, without a key (like age-inspect)', load: async () => (await import('./inspect.js')).inspectCommand},
	{name: 'chunk plan', summary: 'show how a file is split into chunks', load: async () => (await import('./chunk-plan.js')).chunkPlanCommand},
	{name: 'chunk hash', summary: 'digest a file chunk by chunk (resumable); the last line matches sha256sum', load: async () => (await import('./chunk-hash.js')).chunkHashCommand},
	{name: 'chunk inspect', summary: 'show a checkpoint: job, progress, and whether the source still matches', load: async () => (await import('./chunk-inspect.js')).chunkInspectCommand},
	{name: 'backup create', summary: 'back up files: each a new numbered, encrypted generation (resumable)', load: async () => (await import('./backup.js')).backupCreateCommand},
	{name: 'backup resume', summary: 'continue an interrupted backup create', load: async () => (await import('./backup.js')).backupResumeCommand},
	{name: 'backup list', summary: 'list backed-up files and their generations', load: async () => (await import('./backup.js')).backupListCommand},
	{name: 'backup chunks', summary: 'show the chunk manifest of a backup generation', load: async () => (await import('./backup.js')).backupChunksCommand},
	{name: 'backup verify', summary: 'check backup generations against their manifests (with -i: authenticate every block)', load: async () => (await import('./backup.js')).backupVerifyCommand},
	{name: 'backup restore', summary: 'restore a backup generation (verified first, resumable)', load: async () => (await import('./backup.js')).backupRestoreCommand},
	{name: 'backup prune', summary: 'apply retention to a backup directory (journaled: safe to interrupt)', load: async () => (await import('./backup.js')).backupPruneCommand},
	{name: 'sweep', summary: 'validate JSON or JSON Lines (RFC 8259) and report what it holds, resumably, in bounded memory', load: async () => (await import('./sweep.js')).sweepCommand},
	{name: 'config', summary: 'show or change settings (get, set, list, path, reset)', load: async () => (await import('./config.js')).configCommand},
	{name: 'demo', summary: 'encrypt and decrypt generated data with a throwaway key, on the dashboard', load: async () => (await import('./demo.js')).demoCommand},
];

/**
 * Find the command named by the leading non-flag words of argv (`chunk plan file` → `chunk plan`)
 * and return the remaining arguments for meow.
 */
export function findCommand(argv: string[]): {command: CommandEntry; rest: string[]} | undefined {
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
