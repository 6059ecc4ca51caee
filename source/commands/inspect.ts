/** `cage inspect`: an age file's facts without a key (age 1.3's age-inspect), and with -i which identity opens it. */
import {readHeader} from '../age/header.js';
import {checkLastBlock, factsOf, gatherAgeFile, type AgeFileFacts} from '../age/inspect.js';
import {readIdentityFiles} from '../age/keys.js';
import {NoIdentityMatchError} from '../age/errors.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
// Encrypted keys ask on the terminal (passphrase.ts sets the prompt).
import './passphrase.js';

const bytes = (value: number) => `${String(value).padStart(12)} bytes`;

function describeFacts(name: string, facts: AgeFileFacts, identity: string | undefined): string {
	const lines = [`${name} is an age file, version "${facts.version}".`, ''];
	if (facts.armor) lines.push('This file is ASCII-armored.', '');
	lines.push('This file is encrypted to the following recipient types:', ...facts.stanza_types.map(type => `  - "${type}"`), '');
	lines.push(
		{
			yes: 'This file uses post-quantum encryption.',
			no: 'This file does NOT use post-quantum encryption.',
			unknown: 'It is unknown whether this file uses post-quantum encryption.',
		}[facts.postquantum],
		'',
	);
	if (identity !== undefined) lines.push(`It opens with -i ${identity}; its last block authenticates, so the sizes below are exact.`, '');
	lines.push(facts.last_block === 'authenticated' ? 'Size breakdown:' : 'Size breakdown (assuming it decrypts successfully; without a key the last block is not checked, -i checks it):', '');
	lines.push(`    Header              ${bytes(facts.sizes.header)}`);
	if (facts.armor) lines.push(`    Armor overhead      ${bytes(facts.sizes.armor)}`);
	lines.push(`    Encryption overhead ${bytes(facts.sizes.overhead)}`, `    Payload             ${bytes(facts.sizes.min_payload)}`, '                        -------------------');
	lines.push(`    Total               ${bytes(facts.file_size)}`, '', 'Tip: for machine-readable output, use --json.');
	return `${lines.join('\n')}\n`;
}

export const inspectCommand = defineCommand({
	name: 'inspect',
	help: `[FILE] [--json] [-i IDENTITY_FILE...]

	Prints what age 1.3's age-inspect prints: the format version, whether the file is armored,
	the recipient types it is encrypted to and whether that is post-quantum, and its sizes: the
	header, the armor, the encryption overhead and the payload (the plaintext). Without a key
	the payload size follows from the length; with -i, cage also says which identity file opens
	the file, and authenticates its last block, so a truncated or extended file is found and
	the size is exact. A binary file is read at its start and its end; armored files and stdin
	(FILE absent or '-') are read once through. Nothing is decrypted or written.

	Options
	  --json                    the facts as one JSON object (age-inspect's fields, plus
	                            file_size, last_block: "unchecked" or "authenticated", identity)
	  -i, --identity FILE       try the identities in FILE (repeatable; the first that opens it is named)

	Exit codes: 0, or 1 when the file is not an age file, no identity given opens it, or its last
	block does not authenticate.`,
	flags: {json: {type: 'boolean'}, identity: {type: 'string', shortFlag: 'i', isMultiple: true}},
	async run(cli, io) {
		const [target, ...extra] = cli.input;
		if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]!}'`);
		const file = target === undefined || target === '-' ? null : target;
		if (file === null && io.stdin.isTTY) throw new UsageError('give FILE, or redirect stdin from an age file');
		const name = file ?? 'stdin';
		const gathered = await gatherAgeFile(file, file === null ? (io.stdin as AsyncIterable<Uint8Array>) : null, name);
		const identityFiles = cli.flags.identity ?? [];
		let opener: string | undefined;
		for (const identityFile of identityFiles) {
			const identities = await readIdentityFiles([identityFile]);
			const head = gathered.head;
			try {
				const {fileKey} = await readHeader(async (buffer, offset, length, position) => {
					const available = Math.max(0, Math.min(length, head.length - position));
					buffer.set(head.subarray(position, position + available), offset);
					return available;
				}, {identities}, name);
				checkLastBlock(gathered, fileKey, name);
				opener = identityFile;
				break;
			} catch (error) {
				if (!(error instanceof NoIdentityMatchError)) throw error;
			}
		}

		const facts = factsOf(gathered, opener !== undefined);
		if (cli.flags.json) io.stdout.write(`${JSON.stringify({...facts, ...(identityFiles.length > 0 ? {identity: opener ?? null} : {})}, null, 4)}\n`);
		else io.stdout.write(describeFacts(file ?? '<stdin>', facts, opener));
		if (identityFiles.length > 0 && opener === undefined) {
			io.stderr.write(`cage inspect: ${name}: none of the identity files given (${identityFiles.join(', ')}) opens it\n`);
			return exitCodes.failed;
		}

		return exitCodes.ok;
	},
});
