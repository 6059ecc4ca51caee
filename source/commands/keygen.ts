import fs from 'node:fs/promises';
import {formatIdentityFile, generateIdentity, recipientsOfIdentityText} from '../age/keys.js';
import {IdentityError} from '../age/errors.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {OutputExistsError} from '../io/files.js';
import {writePrivateFile} from '../io/private-file.js';
// Encrypted keys ask on the terminal (passphrase.ts sets the prompt).
import './passphrase.js';

/** stdin to its end (an identity file piped in). */
async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
	const chunks: Buffer[] = [];
	for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
	return Buffer.concat(chunks);
}

/** `cage keygen -y [FILE]`: the recipients of the identities in FILE (or stdin), one a line, like age-keygen -y. */
async function printRecipients(file: string | undefined, io: Parameters<Parameters<typeof defineCommand>[0]['run']>[1]): Promise<number> {
	let bytes: Buffer;
	const name = file === undefined || file === '-' ? 'stdin' : file;
	if (name === 'stdin') {
		if (io.stdin.isTTY) throw new UsageError('give the identity FILE, or pipe it into stdin');
		bytes = await readAll(io.stdin);
	} else {
		try {
			bytes = await fs.readFile(name);
		} catch (error) {
			throw new IdentityError(`${name}: cannot read the identity file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
		}
	}

	for (const recipient of await recipientsOfIdentityText(bytes, name)) io.stdout.write(`${recipient}\n`);
	return exitCodes.ok;
}

/** `cage keygen`: a new X25519 (or post-quantum hybrid) identity, like age-keygen; `-y` prints recipients. */
export const keygenCommand = defineCommand({
	name: 'keygen',
	help: `[-o FILE] [--pq] [--force]
	  cage keygen -y [FILE]

	Writes a new identity (mode 0600) to FILE, or to stdout, and prints its public key (the
	recipient to give to 'cage encrypt -r') on stderr, like age-keygen. With -y, prints the
	recipient of each identity in FILE (stdin when there is none) instead, one a line, like
	age-keygen -y: an age identity file, an SSH private key, or an identity file encrypted with
	age -p (which asks for its passphrase on the terminal).

	Options
	  -o, --output FILE   write the identity here instead of stdout
	      --pq            a post-quantum hybrid identity (ML-KEM-768 + X25519, AGE-SECRET-KEY-PQ-1...,
	                      recipient age1pq1...), as age 1.3's age-keygen -pq; age 1.1 cannot use it
	  -y, --recipients    print the recipients of the identities in FILE (or stdin)
	  -f, --force         replace FILE (a symlink is replaced, not followed)`,
	flags: {output: {type: 'string', shortFlag: 'o'}, force: {type: 'boolean', shortFlag: 'f'}, pq: {type: 'boolean'}, recipients: {type: 'boolean', shortFlag: 'y'}},
	async run(cli, io) {
		if (cli.flags.recipients) {
			if (cli.flags.output !== undefined || cli.flags.pq || cli.flags.force) throw new UsageError('-y prints recipients; it takes no -o, --pq or --force');
			if (cli.input.length > 1) throw new UsageError(`unexpected argument '${cli.input[1]!}'`);
			return printRecipients(cli.input[0], io);
		}

		if (cli.input.length > 0) throw new UsageError(`unexpected argument '${cli.input[0]!}'`);
		const {identity, recipient} = await generateIdentity({postQuantum: cli.flags.pq === true});
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
