/**
 * The help and flags of `cage encrypt` and `cage decrypt`, apart from their code (age-jobs.ts):
 * `cage encrypt --help` prints them without loading the engine (commands/index.ts).
 */
import {jobFlags, jobFlagsHelp} from './options.js';

const commonFlags = {
	output: {type: 'string', shortFlag: 'o'},
	passphrase: {type: 'boolean', shortFlag: 'p'},
	chunkSize: {type: 'string'},
	force: {type: 'boolean', shortFlag: 'f'},
	armor: {type: 'boolean', shortFlag: 'a'},
	recursive: {type: 'boolean'},
	outputDir: {type: 'string'},
	...jobFlags,
} as const;

const commonHelp = `	  -o, --output OUTPUT       write here (default: stdout, not resumable); OUTPUT.partial until done
	  -p, --passphrase          use a passphrase (typed on the terminal, or CAGE_PASSPHRASE without one)
	      --chunk-size SIZE     unit of progress and resume (default: config, else 16 MiB growing with the file)
	  -f, --force               overwrite OUTPUT, and start over even if an interrupted job left a checkpoint
	      --output-dir DIR      several INPUTs (a batch): write the outputs under DIR, each at its input's
	                            path (a directory photos/ gives DIR/photos/...); default: beside the inputs
	      --recursive           INPUT may be a directory: every file below it, as one batch
${jobFlagsHelp}`;

export const encryptSpec = {
	name: 'encrypt',
	help: `[INPUT] [-o OUTPUT] (-r RECIPIENT... | -R RECIPIENTS_FILE... | -p) [options]

	INPUT absent or '-' reads stdin. Files are encrypted in parallel chunks and can be resumed
	('cage resume OUTPUT'); streams (stdin/stdout) are sequential and cannot. The output is a
	standard age file: 'age -d' decrypts it.

	Options
	  -r, --recipient R         encrypt to R (age1..., age1pq1..., or an SSH public key:
	                            "ssh-ed25519 AAAA..." or "ssh-rsa AAAA...", as in a .pub file); repeatable
	  -R, --recipients-file F   encrypt to the recipients listed in F, one a line (age1..., SSH
	                            public keys, authorized_keys lines); repeatable
	  -a, --armor               write the PEM-armored text age -a writes; sequential like a
	                            stream: not resumable (an interrupted job starts over)
	  --split SIZE --boundaries jsonl|json
	                            write OUTPUT.000.age, OUTPUT.001.age, … (-o OUTPUT is the prefix),
	                            each decryptable on its own, whose plaintexts are whole records
	                            of about SIZE: JSON Lines cut after a newline (cat of the decrypted
	                            parts is the file), a top-level JSON array between elements (each
	                            part an array), else between top-level values; and
	                            OUTPUT.manifest.json listing them. Sequential, not resumable
${commonHelp}

	Examples
	  $ cage encrypt backup.tar -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p -o backup.tar.age
	  $ cage encrypt -p -o notes.age notes.txt
	  $ tar c dir | cage encrypt -R team.txt > dir.tar.age
	  $ cage encrypt --recursive photos/ -R team.txt --output-dir /backup   (writes /backup/photos/…; s skips a file)`,
	flags: {
		recipient: {type: 'string', shortFlag: 'r', isMultiple: true},
		recipientsFile: {type: 'string', shortFlag: 'R', isMultiple: true},
		split: {type: 'string'},
		boundaries: {type: 'string'},
		...commonFlags,
	},
} as const;

export const decryptSpec = {
	name: 'decrypt',
	help: `[INPUT] [-o OUTPUT] (-i IDENTITY_FILE... | -p) [options]

	Every block is authenticated before its plaintext is written; a damaged or tampered file
	fails naming the chunk, and its partial output is deleted. Armored (PEM) input, from age -a
	or cage encrypt -a, is told by its first line, as age does, and read sequentially (not
	resumable). As with age, a file encrypted
	with a passphrase asks for it without -p, read from a file or from stdin (-p is needed for a
	batch); from stdin, cage reads the first bytes before anything else, so like age it waits for
	them. An age file is not read from the terminal: give INPUT or redirect stdin.

	Random access: --offset N [--length L] decrypts only the 64 KiB blocks that cover the range
	(sizes as 1048576, 64KiB, 16MiB; a negative offset counts from the end; the length defaults
	to the rest), after authenticating the file's last block, so a truncated or extended file is
	refused whatever the range. To stdout or -o (OUTPUT.partial until done); binary files only.

	Options
	      --offset N            start the plaintext at byte N (N < 0: |N| bytes before the end)
	      --length L            decrypt L bytes from there (default: to the end)
	  -i, --identity FILE       decrypt with the identities in FILE (age-keygen format), an SSH
	                            private key (~/.ssh/id_ed25519, id_rsa), or an identity file
	                            encrypted with age -p; an encrypted one asks for its passphrase
	                            on the terminal (an encrypted PEM key's public key is read from
	                            FILE.pub, as age does); repeatable
${commonHelp}

	Examples
	  $ cage decrypt backup.tar.age -i key.txt -o backup.tar
	  $ cage decrypt -p notes.age > notes.txt
	  $ cage decrypt --recursive /backup/photos -i key.txt --output-dir photos/
	  $ cage decrypt db.dump.age -i key.txt --offset 1GiB --length 1MiB -o piece.bin
	  $ cage decrypt log.age -i key.txt --offset=-64KiB          (the last 64 KiB)`,
	flags: {
		identity: {type: 'string', shortFlag: 'i', isMultiple: true},
		offset: {type: 'string'},
		length: {type: 'string'},
		...commonFlags,
	},
} as const;
