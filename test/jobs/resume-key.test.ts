/**
 * The resume identity: made once per config directory, by whichever of several concurrent first
 * jobs gets there first, never seen empty or half-written by the others.
 */
import {execSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {generateX25519Identity} from 'age-encryption';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CheckpointError} from '../../source/chunker/checkpoint.js';
import {resumeIdentityPath, unwrapSecrets, wrapSecrets} from '../../source/jobs/resume-key.js';
import {makeSandbox} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-resume-key-');
const {dir} = sandbox;
afterAll(() => sandbox.cleanup());
const root = path.resolve(import.meta.dirname, '../..');
const distResumeKey = path.join(root, 'dist/jobs/resume-key.js');

let counter = 0;
const freshDir = () => path.join(dir, `config-${counter++}`);

describe('wrapSecrets / unwrapSecrets', () => {
	it('makes the identity on first use (0600, in a 0700 directory) and unwraps what it wrapped', async () => {
		const config = freshDir();
		const {wrapped, recipient} = await wrapSecrets({fileKey: 'abc'}, config);
		const file = resumeIdentityPath(config);
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		expect(fs.statSync(config).mode & 0o777).toBe(0o700);
		expect(fs.readFileSync(file, 'utf8')).toContain(`# public key: ${recipient}`);
		expect(await unwrapSecrets(wrapped, 'job.checkpoint.json', config)).toEqual({fileKey: 'abc'});
		expect((await wrapSecrets({fileKey: 'def'}, config)).recipient).toBe(recipient);
		expect(fs.readdirSync(config)).toEqual(['resume-identity.txt']);
	});

	it('waits for an identity that another process is still writing (empty, just created) instead of calling it damaged', async () => {
		const config = freshDir();
		fs.mkdirSync(config, {mode: 0o700});
		const file = resumeIdentityPath(config);
		fs.writeFileSync(file, '', {mode: 0o600});
		const identity = await generateX25519Identity();
		setTimeout(() => fs.writeFileSync(file, `# cage resume identity\n${identity}\n`), 300);
		const {wrapped} = await wrapSecrets({fileKey: 'abc'}, config);
		expect(fs.readFileSync(file, 'utf8')).toContain(identity);
		expect(await unwrapSecrets(wrapped, 'job.checkpoint.json', config)).toEqual({fileKey: 'abc'});
	});

	it('calls an old identity without a valid key damaged, says to restore it, and never prints the key', async () => {
		const config = freshDir();
		fs.mkdirSync(config, {mode: 0o700});
		const file = resumeIdentityPath(config);
		const identity = await generateX25519Identity();
		const typo = identity.slice(0, 30) + (identity[30] === 'Q' ? 'P' : 'Q') + identity.slice(31);
		for (const [text, problem] of [
			['', 'empty'],
			['# nothing\n', 'no AGE-SECRET-KEY line'],
			[`${typo}\n`, 'its key is not valid: bad checksum'],
		] as const) {
			fs.writeFileSync(file, text, {mode: 0o600});
			const old = new Date(Date.now() - 60_000);
			fs.utimesSync(file, old, old);
			const error = await wrapSecrets({fileKey: 'abc'}, config).then(() => undefined, (error_: unknown) => error_);
			expect(error).toBeInstanceOf(CheckpointError);
			const message = (error as Error).message;
			expect(message).toContain(`the resume identity ${file} is damaged (${problem}`);
			expect(message).toContain('restore it from a backup');
			expect(message).not.toContain(typo.slice(16, 40));
			// Nothing was replaced.
			expect(fs.readFileSync(file, 'utf8')).toBe(text);
		}
	});
});

describe('concurrent first use', () => {
	beforeAll(() => {
		if (!fs.existsSync(distResumeKey)) execSync('npm run build', {cwd: root, stdio: 'inherit'});
	});

	it('8 processes making the identity at once, 60 times, all get the same one, none sees it damaged', async () => {
		const script = path.join(dir, 'wrap.mjs');
		// Each child loads the module once, then for every config directory it is sent wraps at
		// once: the race starts at the same moment in all of them, round after round.
		fs.writeFileSync(
			script,
			`import readline from 'node:readline';
import {wrapSecrets} from ${JSON.stringify(pathToFileURL(distResumeKey).href)};
process.stdout.write('ready\\n');
for await (const config of readline.createInterface({input: process.stdin})) {
	try {
		const {recipient} = await wrapSecrets({fileKey: 'k'}, config);
		process.stdout.write('ok ' + recipient + '\\n');
	} catch (error) {
		process.stdout.write('error ' + error.message + '\\n');
	}
}
`,
		);
		const rounds = 60;
		const children = Array.from({length: 8}, () => {
			const child = spawn(process.execPath, [script], {stdio: ['pipe', 'pipe', 'inherit']});
			const lines: string[] = [];
			const waiting: Array<(line: string) => void> = [];
			let buffered = '';
			child.stdout.on('data', (data: Buffer) => {
				buffered += data.toString('utf8');
				let newline: number;
				while ((newline = buffered.indexOf('\n')) >= 0) {
					const line = buffered.slice(0, newline);
					buffered = buffered.slice(newline + 1);
					const resolve = waiting.shift();
					if (resolve) resolve(line);
					else lines.push(line);
				}
			});
			const next = () => new Promise<string>(resolve => (lines.length > 0 ? resolve(lines.shift()!) : waiting.push(resolve)));
			return {child, next};
		});
		try {
			await Promise.all(children.map(({next}) => next()));
			const failures: string[] = [];
			for (let round = 0; round < rounds; round++) {
				const config = freshDir();
				const answers = children.map(({next}) => next());
				for (const {child} of children) child.stdin.write(`${config}\n`);
				const results = await Promise.all(answers);
				failures.push(...results.filter(result => !result.startsWith('ok ')));
				const recipients = new Set(results.filter(result => result.startsWith('ok ')).map(result => result.slice(3)));
				expect(recipients.size).toBeLessThanOrEqual(1);
				expect(fs.readdirSync(config)).toEqual(['resume-identity.txt']);
				if (recipients.size === 1) expect(fs.readFileSync(resumeIdentityPath(config), 'utf8')).toContain(`# public key: ${[...recipients][0]!}`);
			}

			expect(failures).toEqual([]);
		} finally {
			for (const {child} of children) child.kill();
		}
	}, 120_000);
});
