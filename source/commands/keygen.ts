import {formatIdentityFile, generateIdentity} from '../age/keys.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {OutputExistsError} from '../io/files.js';
import {writePrivateFile} from '../io/private-file.js';

/** `cage keygen`: a new X25519 identity, like age-keygen. */
export const keygenCommand = defineCommand({
	name: 'keygen',
	summary: 'generate an age X25519 identity (like age-keygen)',
	help: `[-o FILE] [--force]

	Writes the identity (mode 0600) to FILE, or to stdout, and prints its public key (the
	recipient to give to 'cage encrypt -r') on stderr, like age-keygen.

	Options
	  -o, --output FILE   write the identity here instead of stdout
	  -f, --force         replace FILE (a symlink is replaced, not followed)`,
	flags: {output: {type: 'string', shortFlag: 'o'}, force: {type: 'boolean', shortFlag: 'f'}},
	async run(cli, io) {
		if (cli.input.length > 0) throw new UsageError(`unexpected argument '${cli.input[0]!}'`);
		const {identity, recipient} = await generateIdentity();
		const text = formatIdentityFile(identity, recipient);
		const file = cli.flags.output;
		if (file === undefined || file === '-') {
			io.stdout.write(text);
			if (!io.stdout.isTTY) io.stderr.write(`Public key: ${recipient}\n`);
			return exitCodes.ok;
		}

		try {
			// Whole or not at all, 0600 from the first byte: a full disk leaves no empty key under the
			// name, --force replaces the old key only once the new one is on disk (never truncating it
			// first, never writing into a 0644 file or through a symlink), and without --force an
			// existing file is never replaced, not even by a race.
			await writePrivateFile(file, text, {replace: cli.flags.force === true});
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new OutputExistsError(`${file} already exists; pass --force to overwrite it (the old key is lost)`);
			throw error;
		}

		io.stderr.write(`Public key: ${recipient}\n`);
		return exitCodes.ok;
	},
});
