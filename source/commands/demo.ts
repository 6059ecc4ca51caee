import {createHash, randomBytes} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {JobEmitter} from '../chunker/emitter.js';
import {decryptFile, encryptFile} from '../age/engine.js';
import {formatIdentityFile, generateIdentity} from '../age/keys.js';
import {ControlProxy} from '../jobs/control-proxy.js';
import {runSession} from '../session/session.js';
import {formatBytes, formatDuration} from '../size.js';
import {resolveChunkSize} from './chunk-plan.js';
import type {Io} from './command.js';
import {defineCommand, exitCodes, UsageError} from './command.js';
import {resolveJobOptions, sessionOptions} from './job-options.js';
import {jobFlags, jobFlagsHelp, sizeFlag} from './options.js';

/** Write `size` bytes of incompressible sample data in 8 MiB blocks (bounded memory). */
async function writeSample(file: string, size: number): Promise<void> {
	const handle = await fs.promises.open(file, 'w', 0o600);
	try {
		const block = randomBytes(8 * 1024 * 1024);
		for (let written = 0, counter = 0; written < size; counter++) {
			// A fresh counter per block keeps every block distinct without paying for fresh randomness.
			block.writeUInt32LE(counter, 0);
			const length = Math.min(block.length, size - written);
			await handle.write(block, 0, length);
			written += length;
		}
	} finally {
		await handle.close();
	}
}

async function sha256(file: string): Promise<string> {
	const hash = createHash('sha256');
	for await (const data of fs.createReadStream(file, {highWaterMark: 4 * 1024 * 1024})) hash.update(data as Buffer);
	return hash.digest('hex');
}

function say(io: Io, line: string): void {
	io.stderr.write(`demo: ${line}\n`);
}

/** `cage demo`: the main job on generated data with a throwaway key, dashboard included. */
export const demoCommand = defineCommand({
	name: 'demo',
	help: `[--size SIZE] [--duration SECONDS] [--keep] [options]

	Generates a sample file (default 1 GiB) and a throwaway key in a temp directory, encrypts it
	with the dashboard under a rate limit so it lasts about --duration seconds, decrypts it,
	checks the result is identical, and removes everything (unless --keep).
	Try the keys while it runs: p pause, q quit (then the printed 'cage resume' line), ? help.

	Options
	  --size SIZE         sample size (default 1GiB)
	  --duration SECONDS  target length of the encryption (default 15; 0 = as fast as possible)
	  --keep              keep the temp directory
${jobFlagsHelp}`,
	flags: {
		size: {type: 'string', default: '1GiB'},
		duration: {type: 'number', default: 15},
		keep: {type: 'boolean'},
		...jobFlags,
	},
	async run(cli, io) {
		if (cli.input.length > 0) throw new UsageError(`unexpected argument '${cli.input[0]!}'`);
		const size = sizeFlag('size', cli.flags.size)!;
		const duration = cli.flags.duration;
		if (!Number.isFinite(duration) || duration < 0) throw new UsageError(`--duration must be a number of seconds >= 0 (got ${duration})`);
		const options = resolveJobOptions(cli.flags, io);
		// In whole MiB (KiB for a small sample) a second, so the resume line after q reads well.
		const unit = size / duration >= 1024 * 1024 ? 1024 * 1024 : 1024;
		const rate = options.rate || (duration > 0 ? Math.ceil(size / duration / unit) * unit : 0);
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-demo-'));
		const sample = path.join(dir, 'sample.bin');
		const encrypted = `${sample}.age`;
		const decrypted = path.join(dir, 'sample.decrypted');
		let keep = Boolean(cli.flags.keep);
		try {
			say(io, `writing ${formatBytes(size)} of sample data to ${sample}`);
			await writeSample(sample, size);
			const {identity, recipient} = await generateIdentity();
			const keyFile = path.join(dir, 'key.txt');
			fs.writeFileSync(keyFile, formatIdentityFile(identity, recipient), {mode: 0o600});
			say(io, `throwaway key ${keyFile} (recipient ${recipient})`);
			const chunkSize = resolveChunkSize(size, undefined, options.settings.chunkSize);
			const common = {jobs: options.jobs, retries: options.settings.retries, chunkSize, checkpoint: true, resumeVerify: options.settings.resumeVerify};
			// The session prints the one resume line after q: it repeats the demo's rate, and its
			// CAGE_CONFIG_DIR when one was set for the demo alone (`CAGE_CONFIG_DIR=… cage demo`).
			const resumeArgs = {...options.resumeArgs, rate, configDir: process.env.CAGE_CONFIG_DIR};

			const encryptEmitter = new JobEmitter();
			const encryptControl = new ControlProxy();
			const encryption = await runSession({...sessionOptions(options, io, 'demo', sample), resumeArgs}, encryptEmitter, encryptControl, async () =>
				encryptFile(sample, encrypted, {recipients: [recipient]}, {...common, emitter: encryptEmitter, control: encryptControl, rate, resumeArgs}),
			);
			if (encryption.exitCode !== exitCodes.ok) {
				if (encryption.exitCode === exitCodes.interrupted) {
					keep = true;
					say(io, `stopped; the demo files stay in ${dir}`);
					say(io, `once resumed, decrypt with: cage decrypt ${encrypted} -i ${keyFile} -o ${decrypted}   (or: age -d -i ${keyFile} ${encrypted})`);
				}

				return encryption.exitCode;
			}

			const started = Date.now();
			const decryptEmitter = new JobEmitter();
			const decryptControl = new ControlProxy();
			const decryption = await runSession(sessionOptions(options, io, 'demo', encrypted), decryptEmitter, decryptControl, async () =>
				decryptFile(encrypted, decrypted, {identities: [identity]}, {...common, emitter: decryptEmitter, control: decryptControl, rate: 0}),
			);
			if (decryption.exitCode !== exitCodes.ok) return decryption.exitCode;
			const decryptedIn = Date.now() - started;
			const [before, after] = await Promise.all([sha256(sample), sha256(decrypted)]);
			if (before !== after) {
				say(io, `MISMATCH: the decrypted file differs (${before} vs ${after}); files kept in ${dir}`);
				keep = true;
				return exitCodes.failed;
			}

			// The decryption's own time (with the dashboard's summary), then how the check went.
			say(io, `decrypted in ${formatDuration(decryptedIn)}; sha256 of the sample and of the decrypted file match (${before}) — round trip verified`);
			return exitCodes.ok;
		} finally {
			if (keep) say(io, `kept ${dir}`);
			else fs.rmSync(dir, {recursive: true, force: true});
		}
	},
});
