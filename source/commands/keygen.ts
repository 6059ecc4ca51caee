import fs from 'node:fs/promises';
import {formatIdentityFile, generateIdentity} from '../age/keys.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {OutputExistsError} from './age-jobs.js';

/** `cage keygen`: a new X25519 identity, like age-keygen. */
export const keygenCommand = defineCommand({
	name: 'keygen',
	summary: 'generate an age X25519 identity (like age-keygen)',
	help: `[-o FILE] [--force]

	Writes the identity (mode 0600) to FILE, or to stdout, and prints its public key (the
	recipient to give to 'cage encrypt -r') on stderr, like age-keygen.

	Options
	  -o, --output FILE   write the identity here instead of stdout
	  -f, --force         overwrite FILE`,
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
			// 'wx' never clobbers a key; --force replaces it (still 0600).
			await fs.writeFile(file, text, {mode: 0o600, flag: cli.flags.force ? 'w' : 'wx'});
			await fs.chmod(file, 0o600);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new OutputExistsError(`${file} already exists; pass --force to overwrite it (the old key is lost)`);
			throw error;
		}

		io.stderr.write(`Public key: ${recipient}\n`);
		return exitCodes.ok;
	},
});
