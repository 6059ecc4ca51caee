/**
 * The age engine end to end through the `cage` binary, against the real `age` CLI both ways.
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {chunksToVerify} from '../../source/jobs/chunked-job.js';
import {cage, cliPath, makeSandbox, parseEvents, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

const key = path.join(dir, 'key.txt');
const otherKey = path.join(dir, 'other.txt');
let recipient = '';
let otherRecipient = '';
const quiet = ['--progress', 'none', '--no-audit'];

beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	execFileSync('age-keygen', ['-o', otherKey], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	otherRecipient = execFileSync('age-keygen', ['-y', otherKey]).toString().trim();
});

const same = (a: string, b: string) => Buffer.compare(fs.readFileSync(a), fs.readFileSync(b)) === 0;
// Through stdout: age 1.1 opens -o lazily and creates no file for an empty plaintext.
const ageDecrypt = (file: string, out: string) => {
	const result = spawnSync('age', ['-d', '-i', key, file], {maxBuffer: 1024 ** 3});
	if (result.status === 0) fs.writeFileSync(out, result.stdout);
	return {status: result.status, stderr: result.stderr.toString('utf8')};
};
const leftovers = (output: string) => [output, `${output}.partial`, `${output}.checkpoint.json`].filter(file => fs.existsSync(file));

describe('interop with the age CLI', () => {
	const sizes: Array<[string, number, string[]]> = [
		['0', 0, []],
		['1', 1, []],
		['65535', 65_535, []],
		['65536', 65_536, []],
		['65537', 65_537, []],
		['10 MiB + 3', 10 * 1024 * 1024 + 3, []],
		['multi-chunk 5 MiB + 7 in 1 MiB chunks, 3 jobs', 5 * 1024 * 1024 + 7, ['--chunk-size', '1MiB', '--jobs', '3']],
		['multi-chunk, chunk boundary on a block edge', 3 * 1024 * 1024, ['--chunk-size', '1MiB', '--jobs', '2']],
	];

	it.each(sizes)('cage encrypt -> age -d, size %s', (_name, size, extra) => {
		const plain = path.join(dir, `plain-${size}-${extra.length}`);
		writeRandomFile(plain, size);
		const encrypted = `${plain}.age`;
		const run = cage(['encrypt', plain, '-r', recipient, '-o', encrypted, ...quiet, ...extra], {env});
		expect(run.stderr).toBe('');
		expect(run.status).toBe(0);
		const result = ageDecrypt(encrypted, `${plain}.out`);
		expect(result.stderr).toBe('');
		expect(same(plain, `${plain}.out`)).toBe(true);
		expect(leftovers(encrypted)).toEqual([encrypted]);
	});

	it.each(sizes)('age -r -> cage decrypt, size %s', (_name, size, extra) => {
		const plain = path.join(dir, `plain2-${size}-${extra.length}`);
		writeRandomFile(plain, size);
		execFileSync('age', ['-r', recipient, '-o', `${plain}.age`, plain]);
		const run = cage(['decrypt', `${plain}.age`, '-i', key, '-o', `${plain}.out`, ...quiet, ...extra], {env});
		expect(run.stderr).toBe('');
		expect(run.status).toBe(0);
		expect(same(plain, `${plain}.out`)).toBe(true);
	});

	it('streams: stdin -> stdout both ways', () => {
		const plain = path.join(dir, 'stream-plain');
		writeRandomFile(plain, 3 * 65_536 + 11);
		const raw = spawnSync(process.execPath, [cliPath, 'encrypt', '-r', recipient, ...quiet], {env, input: fs.readFileSync(plain)});
		expect(raw.status).toBe(0);
		fs.writeFileSync(`${plain}.age`, raw.stdout);
		expect(ageDecrypt(`${plain}.age`, `${plain}.out`).status).toBe(0);
		expect(same(plain, `${plain}.out`)).toBe(true);
		const back = spawnSync(process.execPath, [cliPath, 'decrypt', '-i', key, ...quiet], {env, input: fs.readFileSync(`${plain}.age`)});
		expect(back.status).toBe(0);
		expect(Buffer.compare(back.stdout, fs.readFileSync(plain))).toBe(0);
	});

	it('several recipients and a recipients file', () => {
		const plain = path.join(dir, 'multi');
		writeRandomFile(plain, 100_000);
		const list = path.join(dir, 'recipients.txt');
		fs.writeFileSync(list, `# team\n${otherRecipient}\n\n`);
		const run = cage(['encrypt', plain, '-r', recipient, '-R', list, '-o', `${plain}.age`, ...quiet], {env});
		expect(run.status).toBe(0);
		expect(spawnSync('age', ['-d', '-i', otherKey, '-o', `${plain}.o2`, `${plain}.age`]).status).toBe(0);
		expect(same(plain, `${plain}.o2`)).toBe(true);
	});

	it('passphrase from CAGE_PASSPHRASE round-trips through cage', {timeout: 120_000}, () => {
		const plain = path.join(dir, 'pass');
		writeRandomFile(plain, 70_000);
		const passEnv = {...env, CAGE_PASSPHRASE: 'correct horse battery staple'};
		expect(cage(['encrypt', plain, '-p', '-o', `${plain}.age`, ...quiet], {env: passEnv}).status).toBe(0);
		expect(fs.readFileSync(`${plain}.age`, 'latin1')).toContain('-> scrypt');
		expect(cage(['decrypt', `${plain}.age`, '-p', '-o', `${plain}.out`, ...quiet], {env: passEnv}).status).toBe(0);
		expect(same(plain, `${plain}.out`)).toBe(true);
		const wrong = cage(['decrypt', `${plain}.age`, '-p', '-o', `${plain}.wrong`, ...quiet], {env: {...env, CAGE_PASSPHRASE: 'nope'}});
		expect(wrong.status).toBe(1);
		expect(wrong.stderr).toMatch(/passphrase/i);
		expect(leftovers(`${plain}.wrong`)).toEqual([]);
		// Like age, a passphrase-encrypted file needs no -p; without -i, other files still ask for one.
		expect(cage(['decrypt', `${plain}.age`, '-o', `${plain}.auto`, ...quiet], {env: passEnv}).status).toBe(0);
		expect(same(plain, `${plain}.auto`)).toBe(true);
		execFileSync('age', ['-r', recipient, '-o', `${plain}.x25519.age`, plain]);
		const noKey = cage(['decrypt', `${plain}.x25519.age`, '-o', `${plain}.none`, ...quiet], {env: passEnv});
		expect(noKey.status).toBe(2);
		expect(noKey.stderr).toContain('missing identities: give -i IDENTITY_FILE');
		// The same from stdin, as age does: the header is looked at before the job, then read whole.
		const piped = spawnSync(process.execPath, [cliPath, 'decrypt', ...quiet], {env: passEnv, input: fs.readFileSync(`${plain}.age`), maxBuffer: 1024 * 1024});
		expect(piped.status).toBe(0);
		expect(Buffer.compare(piped.stdout, fs.readFileSync(plain))).toBe(0);
		const pipedToFile = cage(['decrypt', '-', '-o', `${plain}.piped`, ...quiet], {env: passEnv, input: fs.readFileSync(`${plain}.age`)});
		expect(pipedToFile.status).toBe(0);
		expect(same(plain, `${plain}.piped`)).toBe(true);
		const pipedNoKey = cage(['decrypt', ...quiet], {env: passEnv, input: fs.readFileSync(`${plain}.x25519.age`)});
		expect(pipedNoKey.status).toBe(2);
		expect(pipedNoKey.stderr).toContain('missing identities: give -i IDENTITY_FILE');
	});

	it('an identity file given as recipients, or a mistyped identity, is refused without printing the key', () => {
		const plain = path.join(dir, 'secret-check');
		fs.writeFileSync(plain, 'x');
		const secret = fs.readFileSync(key, 'utf8').split('\n').find(line => line.startsWith('AGE-SECRET-KEY-'))!;
		const asRecipients = cage(['encrypt', plain, '-R', key, '-o', `${plain}.age`, ...quiet], {env});
		expect(asRecipients.status).toBe(1);
		expect(asRecipients.stderr).toBe(
			`cage encrypt: -R ${key}, line 3: a secret key, not a recipient; -R takes public keys (age1…, ssh-…): give its public key instead (cage keygen -y ${key}), and pass ${key} with -i to decrypt\n`,
		);
		const asArgument = cage(['encrypt', plain, '-r', secret, '-o', `${plain}.age`, ...quiet], {env});
		expect(asArgument.status).toBe(1);
		expect(asArgument.stderr).not.toMatch(/AGE-SECRET-KEY-1/i);
		const typo = path.join(dir, 'typo-key.txt');
		const mistyped = secret.slice(0, 20) + (secret[20] === 'Q' ? 'P' : 'Q') + secret.slice(21);
		fs.writeFileSync(typo, `${mistyped}\n`, {mode: 0o600});
		const decrypt = cage(['decrypt', `${plain}.age`, '-i', typo, '-o', `${plain}.out`, ...quiet], {env});
		expect(decrypt.status).toBe(1);
		expect(decrypt.stderr).toBe(`cage decrypt: -i ${typo}, line 1: not a valid age identity (bad checksum: a character is wrong or missing); restore the file from a good copy\n`);
		for (const run of [asRecipients, asArgument, decrypt]) expect(run.stderr).not.toContain(secret.slice(20, 40));
	});

	it('keygen writes a 0600 identity that age accepts', () => {
		const file = path.join(dir, 'cage-key.txt');
		const run = cage(['keygen', '-o', file], {env});
		expect(run.status).toBe(0);
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		const pub = /Public key: (age1\w+)/.exec(run.stderr)![1]!;
		expect(execFileSync('age-keygen', ['-y', file]).toString().trim()).toBe(pub);
		expect(cage(['keygen', '-o', file], {env}).status).toBe(1);
	});
});

describe('resume after kill -9', () => {
	it.each([1, 4, 9])('encrypt killed after %i checkpointed chunks resumes to a file age decrypts to the input', async chunks => {
		const plain = path.join(dir, `big-${chunks}`);
		// Checkpoints come at most once a second (every ~4 chunks at 4 MiB/s): room for several past 9.
		writeRandomFile(plain, 24 * 1024 * 1024 + 5);
		const encrypted = `${plain}.age`;
		const run = startCage(['encrypt', plain, '-r', recipient, '-o', encrypted, '--chunk-size', '1MiB', '--jobs', '2', '--rate', '4MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= chunks), {what: 'checkpoint', timeout: 60_000});
		run.child.kill('SIGKILL');
		await run.exited;
		expect(fs.existsSync(`${encrypted}.partial`)).toBe(true);
		expect(fs.existsSync(encrypted)).toBe(false);
		const checkpoint = fs.readFileSync(`${encrypted}.checkpoint.json`, 'utf8');
		expect(checkpoint).not.toContain(fs.readFileSync(key, 'utf8').split('\n').find(line => line.startsWith('AGE-SECRET'))!);
		const resumed = cage(['resume', encrypted, '--progress', 'json', '--no-audit'], {env});
		expect(resumed.status).toBe(0);
		const start = parseEvents(resumed.stderr).find(event => event.type === 'job:start')!;
		expect(start.resumed).toBe(true);
		expect(start.chunksDone as number).toBeGreaterThanOrEqual(chunks);
		expect(ageDecrypt(encrypted, `${plain}.out`).status).toBe(0);
		expect(same(plain, `${plain}.out`)).toBe(true);
		expect(leftovers(encrypted)).toEqual([encrypted]);
	});

	it('decrypt killed mid-way resumes; SIGTERM exits 75 with the resume line', {timeout: 120_000}, async () => {
		const plain = path.join(dir, 'dec-resume');
		writeRandomFile(plain, 10 * 1024 * 1024);
		execFileSync('age', ['-r', recipient, '-o', `${plain}.age`, plain]);
		const output = `${plain}.out`;
		const run = startCage(['decrypt', `${plain}.age`, '-i', key, '-o', output, '--chunk-size', '1MiB', '--rate', '4MiB', '--jobs', '1', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 2), {what: 'checkpoint'});
		run.child.kill('SIGTERM');
		expect(await run.exited).toBe(75);
		// The line repeats this run's choices: its rate, its worker count, no audit log.
		const line = /resume with: (cage resume .*)/.exec(run.stderr())![1]!;
		expect(line).toBe(`cage resume ${output} --rate 4MiB --jobs 1 --no-audit`);
		expect(fs.existsSync(output)).toBe(false);
		const auditDir = path.join(env.XDG_STATE_HOME!, 'cage');
		const logs = () => (fs.existsSync(auditDir) ? fs.readdirSync(auditDir).map(name => `${name} ${fs.statSync(path.join(auditDir, name)).size}`) : []);
		const logsBefore = logs();
		const resumed = cage([...line.split(' ').slice(1).filter(arg => arg !== '--rate' && arg !== '4MiB'), '--progress', 'none'], {env});
		expect(resumed.status).toBe(0);
		expect(same(plain, output)).toBe(true);
		expect(logs()).toEqual(logsBefore);
	});

	it('a signal to a job with no checkpoint (one small chunk) says so and leaves nothing; a second Ctrl-C keeps the last checkpoint', {timeout: 60_000}, async () => {
		const small = path.join(dir, 'small-signal');
		writeRandomFile(small, 1024 * 1024);
		const run = startCage(['encrypt', small, '-r', recipient, '-o', `${small}.age`, '--rate', '128KiB', '--progress', 'plain', '--no-audit'], {env});
		await waitFor(() => run.stderr().includes('encrypt'), {what: 'the start line'});
		run.child.kill('SIGTERM');
		expect(await run.exited).toBe(1);
		expect(run.stderr()).toContain('SIGTERM: stopping at the next block; this job keeps no checkpoint');
		expect(run.stderr()).toContain('stopped before the end, with no checkpoint to resume from (a job this small or a stream has none; what a stream wrote is incomplete): run the command again');
		expect(leftovers(`${small}.age`)).toEqual([]);

		const big = path.join(dir, 'twice');
		writeRandomFile(big, 24 * 1024 * 1024);
		const twice = startCage(['encrypt', big, '-r', recipient, '-o', `${big}.age`, '--chunk-size', '1MiB', '--rate', '8MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(twice.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 2), {what: 'checkpoint'});
		twice.child.kill('SIGINT');
		twice.child.kill('SIGINT');
		expect(await twice.exited).toBe(75);
		const line = /resume with: cage resume (\S+)/.exec(twice.stderr())![1]!;
		expect(cage(['resume', line, ...quiet], {env}).status).toBe(0);
		expect(ageDecrypt(`${big}.age`, `${big}.out`).status).toBe(0);
		expect(same(big, `${big}.out`)).toBe(true);
	});

	it('a second process never writes an output a running job writes: resume and --force are refused', {timeout: 60_000}, async () => {
		const plain = path.join(dir, 'busy');
		// 8 s at 3 MiB/s: long enough for the two refusals on a loaded machine.
		writeRandomFile(plain, 24 * 1024 * 1024);
		const output = path.join(dir, 'busy.age');
		const run = startCage(['encrypt', plain, '-r', recipient, '-o', output, '--chunk-size', '1MiB', '--rate', '3MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 1), {what: 'checkpoint'});
		const pid = run.child.pid!;
		const resumed = cage(['resume', output, ...quiet], {env});
		expect(resumed.status).toBe(1);
		expect(resumed.stderr).toContain(`cage process ${pid} is running this job now`);
		const forced = cage(['encrypt', plain, '-r', recipient, '-o', output, '--force', ...quiet], {env});
		expect(forced.status).toBe(1);
		expect(forced.stderr).toContain(`cage process ${pid} is writing ${output} now`);
		expect(await run.exited).toBe(0);
		expect(ageDecrypt(output, `${output}.out`).status).toBe(0);
		expect(same(plain, `${output}.out`)).toBe(true);
	});

	it('a job with no checkpoint to name its pid: a second start is refused, and a --force start makes it fail instead of renaming the other\'s unfinished file', {timeout: 60_000}, async () => {
		// One chunk each (under the checkpoint threshold), slowed so that they overlap.
		const first = path.join(dir, 'first');
		const second = path.join(dir, 'second');
		writeRandomFile(first, 3 * 1024 * 1024);
		writeRandomFile(second, 6 * 1024 * 1024);
		const output = path.join(dir, 'contended.age');
		const slow = ['--rate', '1MiB', '--progress', 'json', '--no-audit'];
		const running = startCage(['encrypt', first, '-r', recipient, '-o', output, ...slow], {env});
		await waitFor(() => parseEvents(running.stderr()).some(event => event.type === 'job:start'), {what: 'first job started'});
		const again = cage(['encrypt', second, '-r', recipient, '-o', output, ...quiet], {env});
		expect(again.status).toBe(1);
		expect(again.stderr).toContain(`${output}.partial already exists: another cage process is writing ${output} now`);
		const forced = startCage(['encrypt', second, '-r', recipient, '-o', output, '--force', ...slow], {env});
		// The first finishes while the forced one is still writing: it must not rename that file.
		expect(await running.exited).toBe(1);
		expect(running.stderr()).toContain(`${output}.partial was replaced by another cage process while this job ran`);
		expect(fs.existsSync(output)).toBe(false);
		expect(await forced.exited).toBe(0);
		expect(ageDecrypt(output, `${output}.out`).status).toBe(0);
		expect(same(second, `${output}.out`)).toBe(true);
		// A partial left by a job killed before its first checkpoint: refused, replaced with --force.
		fs.rmSync(output);
		fs.writeFileSync(`${output}.partial`, 'left by a killed job');
		expect(cage(['encrypt', first, '-r', recipient, '-o', output, ...quiet], {env}).status).toBe(1);
		expect(cage(['encrypt', '-r', recipient, '-o', output, ...quiet], {env, input: fs.readFileSync(first)}).status).toBe(1);
		expect(fs.readFileSync(`${output}.partial`, 'utf8')).toBe('left by a killed job');
		expect(cage(['encrypt', first, '-r', recipient, '-o', output, '--force', ...quiet], {env}).status).toBe(0);
		expect(fs.existsSync(`${output}.partial`)).toBe(false);
	});

	it('a source changed while the job runs stops the job at the next checkpoint, and leaves nothing behind', {timeout: 60_000}, async () => {
		const plain = path.join(dir, 'moving');
		const size = 32 * 1024 * 1024;
		writeRandomFile(plain, size);
		const output = path.join(dir, 'moving.age');
		const run = startCage(['encrypt', plain, '-r', recipient, '-o', output, '--chunk-size', '1MiB', '--rate', '4MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 2), {what: 'checkpoint'});
		fs.appendFileSync(plain, 'more');
		expect(await run.exited).toBe(1);
		const done = parseEvents(run.stderr()).find(event => event.type === 'job:done')!;
		expect(done).toMatchObject({outcome: 'failed'});
		// It stopped soon after the change (at 4 MiB/s the whole file would take 8 s), not at the end.
		expect(done.bytesDone as number).toBeLessThan(size / 2);
		expect(run.stderr()).toMatch(/moving changed while the job ran \(size 33554432 -> 33554436 bytes/);
		expect(leftovers(output)).toEqual([]);
	});

	it('refuses to resume with different recipients, or after the source changed', async () => {
		const plain = path.join(dir, 'changed');
		writeRandomFile(plain, 8 * 1024 * 1024);
		// A whole-second mtime, so putting it back after the edit is exact (a Date drops sub-ms digits).
		fs.utimesSync(plain, 1_700_000_000, 1_700_000_000);
		const encrypted = `${plain}.age`;
		// 2 MiB/s: 4 s for the file, so that a loaded machine still kills it long before its end.
		const run = startCage(['encrypt', plain, '-r', recipient, '-o', encrypted, '--chunk-size', '1MiB', '--rate', '2MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 2), {what: 'checkpoint'});
		run.child.kill('SIGKILL');
		await run.exited;
		// Killed in the middle: nothing renamed into place yet (else there would be nothing to refuse).
		expect(fs.existsSync(encrypted), 'the job had finished before the kill').toBe(false);
		const other = cage(['resume', encrypted, '-r', otherRecipient, ...quiet], {env});
		expect(other.status).toBe(1);
		expect(other.stderr).toContain('recipients given now differ');
		const fd = fs.openSync(plain, 'r+');
		fs.writeSync(fd, Buffer.from('x'), 0, 1, 10);
		fs.closeSync(fd);
		fs.utimesSync(plain, 1_700_000_000, 1_700_000_000);
		const changed = cage(['resume', encrypted, ...quiet], {env});
		expect(changed.status).toBe(1);
		expect(changed.stderr).toMatch(/chunk 0 .*source changed/);
		expect(fs.existsSync(encrypted)).toBe(false);
	});

	it('a source edited in place with its modification time put back is re-verified in full: refused, and only slower after a chmod', async () => {
		const plain = path.join(dir, 'edited');
		writeRandomFile(plain, 16 * 1024 * 1024);
		const mtime = 1_700_000_000;
		fs.utimesSync(plain, mtime, mtime);
		const encrypted = `${plain}.age`;
		const run = startCage(['encrypt', plain, '-r', recipient, '-o', encrypted, '--chunk-size', '1MiB', '--rate', '8MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 6), {what: 'checkpoint'});
		run.child.kill('SIGKILL');
		await run.exited;
		const checkpoint = JSON.parse(fs.readFileSync(`${encrypted}.checkpoint.json`, 'utf8')) as {chunksDone: number; skipped: number[]};
		const sampled = new Set(chunksToVerify(checkpoint.chunksDone, checkpoint.skipped, 'sample'));
		const unsampled = Array.from({length: checkpoint.chunksDone}, (_, id) => id).find(id => !sampled.has(id))!;
		expect(unsampled).toBeDefined();

		// Metadata only: every chunk is redone, nothing differs, the job completes.
		fs.chmodSync(plain, 0o640);
		const chmodded = cage(['resume', encrypted, '--progress', 'json', '--no-audit'], {env});
		expect(chmodded.status).toBe(0);
		const warning = parseEvents(chmodded.stderr).find(event => event.type === 'anomaly' && event.code === 'source-changed');
		expect(warning?.message).toContain(`re-verifying all ${checkpoint.chunksDone} done chunks`);
		expect(ageDecrypt(encrypted, `${plain}.out`).status).toBe(0);
		expect(same(plain, `${plain}.out`)).toBe(true);

		// Again, now editing a chunk the sample skips and putting the modification time back.
		fs.rmSync(encrypted);
		const again = startCage(['encrypt', plain, '-r', recipient, '-o', encrypted, '--chunk-size', '1MiB', '--rate', '8MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(again.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) > unsampled), {what: 'checkpoint'});
		again.child.kill('SIGKILL');
		await again.exited;
		const fd = fs.openSync(plain, 'r+');
		fs.writeSync(fd, Buffer.from('edit'), 0, 4, unsampled * 1024 * 1024 + 100);
		fs.closeSync(fd);
		fs.utimesSync(plain, mtime, mtime);
		const edited = cage(['resume', encrypted, ...quiet], {env});
		expect(edited.status).toBe(1);
		expect(edited.stderr).toContain(`chunk ${unsampled} (bytes ${unsampled * 1024 * 1024}..${(unsampled + 1) * 1024 * 1024}) of ${plain} is not what was encrypted before; the source changed`);
	});

	it('after a clean stop, a partial output written to since is checked whole: damage outside the sample is found and redone', async () => {
		const plain = path.join(dir, 'stopped');
		writeRandomFile(plain, 16 * 1024 * 1024);
		const encrypted = `${plain}.age`;
		const run = startCage(['encrypt', plain, '-r', recipient, '-o', encrypted, '--chunk-size', '1MiB', '--rate', '8MiB', '--progress', 'json', '--no-audit'], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 6), {what: 'checkpoint'});
		run.child.kill('SIGTERM');
		expect(await run.exited).toBe(75);
		const checkpoint = JSON.parse(fs.readFileSync(`${encrypted}.checkpoint.json`, 'utf8')) as {chunksDone: number; skipped: number[]; stopped?: boolean; partialCtimeMs?: number};
		expect(checkpoint.stopped).toBe(true);
		expect(checkpoint.partialCtimeMs).toBe(fs.statSync(`${encrypted}.partial`).ctimeMs);
		const sampled = new Set(chunksToVerify(checkpoint.chunksDone, checkpoint.skipped, 'sample'));
		const unsampled = Array.from({length: checkpoint.chunksDone}, (_, id) => id).find(id => !sampled.has(id))!;
		// One byte of that chunk's ciphertext (past the header: 16 blocks of 64 KiB + 16 per chunk).
		const fd = fs.openSync(`${encrypted}.partial`, 'r+');
		const at = 1000 + unsampled * 16 * 65_552;
		const byte = Buffer.alloc(1);
		fs.readSync(fd, byte, 0, 1, at);
		byte[0]! ^= 0x01;
		fs.writeSync(fd, byte, 0, 1, at);
		fs.closeSync(fd);
		const resumed = cage(['resume', encrypted, '--progress', 'json', '--no-audit'], {env});
		expect(resumed.status).toBe(0);
		const events = parseEvents(resumed.stderr);
		expect(events.find(event => event.type === 'anomaly' && event.code === 'output-changed')?.message).toContain(`chunk ${unsampled} of ${checkpoint.chunksDone} committed was not as written`);
		expect(ageDecrypt(encrypted, `${plain}.out`).status).toBe(0);
		expect(same(plain, `${plain}.out`)).toBe(true);
	});

	it('a full re-verification is not repeated: the next resume compares with the source as verified, and with its own writes', async () => {
		const plain = path.join(dir, 'reverified');
		writeRandomFile(plain, 24 * 1024 * 1024);
		const encrypted = `${plain}.age`;
		const args = ['--progress', 'json', '--no-audit'];
		const run = startCage(['encrypt', plain, '-r', recipient, '-o', encrypted, '--chunk-size', '1MiB', '--rate', '8MiB', ...args], {env});
		await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 4), {what: 'checkpoint'});
		run.child.kill('SIGTERM');
		expect(await run.exited).toBe(75);
		fs.chmodSync(plain, 0o640);
		// The first resume re-verifies everything (the change time moved), then writes and is killed.
		const first = startCage(['resume', encrypted, '--rate', '8MiB', ...args], {env});
		await waitFor(() => parseEvents(first.stderr()).some(event => event.type === 'chunk:done'), {what: 'a chunk written by the resume'});
		first.child.kill('SIGKILL');
		await first.exited;
		expect(parseEvents(first.stderr()).filter(event => event.type === 'anomaly').map(event => event.code)).toEqual(['source-changed']);
		// The next one samples the source again: neither the chmod nor the first resume's own writes
		// count; the kill -9 makes it check the partial output's committed chunks, which are intact.
		const second = cage(['resume', encrypted, ...args], {env});
		expect(second.status).toBe(0);
		expect(parseEvents(second.stderr).filter(event => event.type === 'anomaly').map(event => [event.code, event.severity])).toEqual([['resume-checked', 'info']]);
		expect(ageDecrypt(encrypted, `${plain}.out`).status).toBe(0);
		expect(same(plain, `${plain}.out`)).toBe(true);
	});

	it.each(['encrypt', 'decrypt'] as const)('%s after kill -9: a damaged partial output is redone; a changed source is refused, and both are kept for a fixed retry', async kind => {
		const plain = path.join(dir, `damaged-${kind}`);
		writeRandomFile(plain, 6 * 1024 * 1024);
		const input = kind === 'encrypt' ? plain : `${plain}.age`;
		const output = kind === 'encrypt' ? `${plain}.age` : `${plain}.out`;
		if (kind === 'decrypt') execFileSync('age', ['-r', recipient, '-o', input, plain]);
		const mtime = 1_700_000_000;
		fs.utimesSync(input, mtime, mtime);
		const keyArgs = kind === 'encrypt' ? ['-r', recipient] : ['-i', key];
		const killed = async () => {
			const run = startCage([kind, input, ...keyArgs, '-o', output, '--chunk-size', '1MiB', '--rate', '4MiB', '--force', '--progress', 'json', '--no-audit'], {env});
			await waitFor(() => parseEvents(run.stderr()).some(event => event.type === 'job:checkpoint' && (event.chunksDone as number) >= 3), {what: 'checkpoint'});
			run.child.kill('SIGKILL');
			await run.exited;
		};

		const flip = (file: string, at: number) => {
			const fd = fs.openSync(file, 'r+');
			const byte = Buffer.alloc(1);
			fs.readSync(fd, byte, 0, 1, at);
			byte[0]! ^= 0x01;
			fs.writeSync(fd, byte, 0, 1, at);
			fs.closeSync(fd);
			fs.utimesSync(file, mtime, mtime);
		};

		const check = () => {
			if (kind === 'decrypt') return same(plain, output);
			return ageDecrypt(output, `${plain}.check`).status === 0 && same(plain, `${plain}.check`);
		};

		// A byte of chunk 1 of the partial output (not in the sample a clean stop would check): found
		// by its digest and redone; the result is right.
		await killed();
		const partial = `${output}.partial`;
		flip(partial, 1024 * 1024 + 5300);
		const repaired = cage(['resume', output, '--progress', 'json', '--no-audit'], {env});
		expect(repaired.status).toBe(0);
		expect(parseEvents(repaired.stderr).find(event => event.type === 'anomaly' && event.code === 'output-changed')?.message).toMatch(/chunk 1 of \d+ committed was not as written .*redone/);
		expect(check()).toBe(true);
		expect(leftovers(output)).toEqual([output]);

		// Damage in chunk 0 and a source that changed under it: redoing it gives other bytes.
		await killed();
		flip(partial, 5300);
		flip(input, 5300);
		const changed = cage(['resume', output, ...quiet], {env});
		expect(changed.status).toBe(1);
		expect(changed.stderr).toContain(`chunk 0 (bytes 0..1048576) of the partial output ${partial} was not as written, and ${input} no longer gives what was ${kind}ed before: the source changed`);
		// Both files stay for the user to decide (and the output this job was to replace with --force);
		// resuming again would fail the same way, so it is not suggested.
		expect(leftovers(output)).toEqual([output, partial, `${output}.checkpoint.json`]);
		expect(changed.stderr).not.toContain('fix the cause, then run');

		// The source put back: the resume redoes chunk 0 and completes.
		flip(input, 5300);
		const resumed = cage(['resume', output, ...quiet], {env});
		expect(resumed.stderr).toBe('');
		expect(resumed.status).toBe(0);
		expect(check()).toBe(true);
		expect(leftovers(output)).toEqual([output]);
	});
});

describe('bad input', () => {
	const plain = path.join(dir, 'victim');
	beforeAll(() => writeRandomFile(plain, 3 * 1024 * 1024 + 1));

	it('names a malformed recipient', () => {
		const run = cage(['encrypt', plain, '-r', 'age1notarecipient', '-o', path.join(dir, 'x.age'), ...quiet], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain('age1notarecipient');
		expect(leftovers(path.join(dir, 'x.age'))).toEqual([]);
	});

	it('names an unreadable recipients file and a missing identity file', () => {
		const r = cage(['encrypt', plain, '-R', path.join(dir, 'missing.txt'), '-o', path.join(dir, 'x.age'), ...quiet], {env});
		expect(r.status).toBe(1);
		expect(r.stderr).toContain('missing.txt');
		const i = cage(['decrypt', plain, '-i', path.join(dir, 'missing-key.txt'), '-o', path.join(dir, 'x'), ...quiet], {env});
		expect(i.status).toBe(1);
		expect(i.stderr).toContain('missing-key.txt');
	});

	it('no identity matches', () => {
		execFileSync('age', ['-r', recipient, '-o', `${plain}.age`, plain]);
		const run = cage(['decrypt', `${plain}.age`, '-i', otherKey, '-o', `${plain}.nomatch`, ...quiet], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toMatch(/identit/i);
		expect(leftovers(`${plain}.nomatch`)).toEqual([]);
	});

	it('not an age file', () => {
		const run = cage(['decrypt', plain, '-i', key, '-o', `${plain}.notage`, ...quiet], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toMatch(/not an age file|age header/i);
	});

	/** `plain` encrypted by age, then a byte flipped about 2.5 MiB into the payload: block 40, chunk 2 with 1 MiB chunks. */
	const tampered = (name: string) => {
		const encrypted = path.join(dir, name);
		execFileSync('age', ['-r', recipient, '-o', encrypted, plain]);
		const bytes = fs.readFileSync(encrypted);
		bytes[bytes.length - 600_000]! ^= 1;
		fs.writeFileSync(encrypted, bytes);
		return encrypted;
	};

	it('a tampered block names the block, its byte and the chunk, and leaves no plaintext behind', () => {
		const encrypted = tampered('tampered.age');
		const output = path.join(dir, 'tampered.out');
		const run = cage(['decrypt', encrypted, '-i', key, '-o', output, '--chunk-size', '1MiB', ...quiet], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toMatch(/block 3\d \(byte \d+ of the file, plaintext bytes from \d+, in chunk 2 of this job\) failed authentication/);
		expect(leftovers(output)).toEqual([]);
	});

	it('plain progress says a failure once: the outcome, then the error naming the file and chunk', () => {
		const encrypted = tampered('tampered-plain.age');
		const output = path.join(dir, 'tampered-plain.out');
		const run = cage(['decrypt', encrypted, '-i', key, '-o', output, '--chunk-size', '1MiB', '--progress', 'plain', '--no-audit'], {env});
		expect(run.status).toBe(1);
		const lines = run.stderr.trim().split('\n');
		expect(lines.filter(line => line.includes('failed authentication'))).toEqual([lines.at(-1)]);
		expect(lines.at(-1)).toMatch(new RegExp(`^cage decrypt: ${encrypted}: block 3\\d \\(byte \\d+ of the file, plaintext bytes from \\d+, in chunk 2 of this job\\) failed authentication: .*; nothing was written to ${output}$`));
		expect(lines.at(-2)).toMatch(/^failed: \S+ \S+ in \S+ \([\d.]+ MiB\/s\)$/);
	});

	it('a truncated file and trailing data fail', () => {
		const encrypted = path.join(dir, 'cut.age');
		execFileSync('age', ['-r', recipient, '-o', encrypted, plain]);
		const bytes = fs.readFileSync(encrypted);
		fs.writeFileSync(encrypted, bytes.subarray(0, bytes.length - 65_552));
		const cut = cage(['decrypt', encrypted, '-i', key, '-o', path.join(dir, 'cut.out'), ...quiet], {env});
		expect(cut.status).toBe(1);
		expect(leftovers(path.join(dir, 'cut.out'))).toEqual([]);
		fs.writeFileSync(encrypted, Buffer.concat([bytes, Buffer.from('trailing')]));
		const trailing = cage(['decrypt', encrypted, '-i', key, '-o', path.join(dir, 'trail.out'), ...quiet], {env});
		expect(trailing.status).toBe(1);
		expect(leftovers(path.join(dir, 'trail.out'))).toEqual([]);
	});

	it('a stream cut in the middle of a block names its input and says the plaintext written is incomplete', () => {
		const encrypted = path.join(dir, 'cut-stream.age');
		execFileSync('age', ['-r', recipient, '-o', encrypted, plain]);
		const bytes = fs.readFileSync(encrypted);
		fs.writeFileSync(encrypted, bytes.subarray(0, 2_000_000));
		const run = spawnSync(process.execPath, [cliPath, 'decrypt', '-i', key, ...quiet], {env, input: fs.readFileSync(encrypted), maxBuffer: 64 * 1024 * 1024});
		expect(run.status).toBe(1);
		const written = run.stdout.length;
		expect(written).toBeGreaterThan(0);
		expect(run.stderr.toString()).toContain(`cage decrypt: stdin: block ${Math.floor(written / 65_536)} failed authentication: the block was modified, or the file is corrupt or cut short; the ${written} bytes of plaintext already written to stdout are incomplete: discard them`);
	});

	it('refuses an existing output without --force, and input == output', () => {
		const existing = path.join(dir, 'exists.age');
		fs.writeFileSync(existing, 'precious');
		const run = cage(['encrypt', plain, '-r', recipient, '-o', existing, ...quiet], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toContain('already exists; pass --force');
		expect(fs.readFileSync(existing, 'utf8')).toBe('precious');
		expect(cage(['encrypt', plain, '-r', recipient, '-o', existing, '--force', ...quiet], {env}).status).toBe(0);
		expect(ageDecrypt(existing, `${existing}.out`).status).toBe(0);
		const self = cage(['encrypt', plain, '-r', recipient, '-o', plain, '--force', ...quiet], {env});
		expect(self.status).toBe(1);
		expect(self.stderr).toContain('the same file');
	});

	it('refuses its own partial output or checkpoint as the input, --force or not (--force removed it before reading it)', () => {
		const input = path.join(dir, 'named.age.partial');
		writeRandomFile(input, 10_000);
		const before = fs.readFileSync(input);
		for (const force of [[], ['--force']]) {
			const run = cage(['encrypt', input, '-r', recipient, '-o', path.join(dir, 'named.age'), ...force, ...quiet], {env});
			expect(run.status).toBe(1);
			expect(run.stderr).toContain('is a file cage writes for -o');
		}

		expect(fs.readFileSync(input).equals(before)).toBe(true);
	});

	it('refuses a directory as the output, --force or not, before any work', () => {
		const directory = path.join(dir, 'a-directory');
		fs.mkdirSync(directory);
		for (const force of [[], ['--force']]) {
			const run = cage(['encrypt', plain, '-r', recipient, '-o', directory, ...force, ...quiet], {env});
			expect(run.status).toBe(1);
			expect(run.stderr).toContain(`${directory} is a directory; the output must be a file`);
		}

		expect(fs.existsSync(`${directory}.partial`)).toBe(false);
		expect(fs.readdirSync(directory)).toEqual([]);
	});

	it('a reader of stdout that goes away ends cage with 141; one of stderr does not stop the job', async () => {
		const big = path.join(dir, 'pipe-plain');
		writeRandomFile(big, 48 * 1024 * 1024);
		// Ciphertext to stdout, and the reader closes its end after the first bytes.
		const toStdout = startCage(['encrypt', big, '-r', recipient, ...quiet], {env});
		await new Promise(resolve => toStdout.child.stdout!.once('data', resolve));
		toStdout.child.stdout!.destroy();
		expect(await toStdout.exited).toBe(141);

		// Progress on stderr, and its reader goes away: the job finishes all the same.
		const output = path.join(dir, 'pipe.age');
		const progress = startCage(['encrypt', big, '-r', recipient, '-o', output, '--progress', 'json', '--rate', '64MiB', '--no-audit'], {env});
		await new Promise(resolve => progress.child.stderr!.once('data', resolve));
		progress.child.stderr!.destroy();
		expect(await progress.exited).toBe(0);
		expect(ageDecrypt(output, `${output}.out`).status).toBe(0);
		expect(same(`${output}.out`, big)).toBe(true);
		expect(fs.existsSync(`${output}.partial`) || fs.existsSync(`${output}.checkpoint.json`)).toBe(false);
	}, 120_000);

	it('usage errors exit 2: no recipients, -p with -r, a bad --jobs', () => {
		expect(cage(['encrypt', plain, '-o', path.join(dir, 'u.age')], {env}).status).toBe(2);
		expect(cage(['encrypt', plain, '-p', '-r', recipient, '-o', path.join(dir, 'u.age')], {env}).status).toBe(2);
		expect(cage(['encrypt', plain, '-r', recipient, '-o', path.join(dir, 'u.age'), '--jobs', '0'], {env}).status).toBe(2);
		const notNumber = cage(['encrypt', plain, '-r', recipient, '-o', path.join(dir, 'u.age'), '--jobs', 'abc'], {env});
		expect(notNumber.status).toBe(2);
		expect(notNumber.stderr).toContain('--jobs must be a whole number from 1 to 64 (got something that is not a number)');
	});

	it.skipIf(process.getuid?.() !== 0)('disk full: the checkpoint is kept and the resume line printed', context => {
		const mount = path.join(dir, 'small-disk');
		fs.mkdirSync(mount);
		// A real full disk: a 2 MiB tmpfs (needs root and mount rights; reported as skipped without them).
		if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount]).status !== 0) context.skip('cannot mount a tmpfs here');
		try {
			const output = path.join(mount, 'full.age');
			// One chunk at a time, so that chunk 0 is whole before chunk 1 fills the disk.
			const run = cage(['encrypt', plain, '-r', recipient, '-o', output, '--chunk-size', '1MiB', '--jobs', '1', ...quiet], {env});
			// Interrupted, not failed: the chunks committed before the disk filled are kept (#13).
			expect(run.status).toBe(75);
			expect(run.stderr).toMatch(/full\.age\.partial: no space left on device while writing chunk \d+/);
			expect(run.stderr).toContain(`cage resume`);
			expect(fs.existsSync(output)).toBe(false);
			const kept = JSON.parse(fs.readFileSync(`${output}.checkpoint.json`, 'utf8')) as {chunksDone: number; stopped?: boolean};
			expect(kept.chunksDone).toBeGreaterThanOrEqual(1);
			expect(kept.stopped).toBe(true);
			expect(fs.readdirSync(mount).filter(name => name.includes('.tmp-'))).toEqual([]);
			// Room again (a bigger disk): the resume continues from the kept chunks, and age decrypts the result.
			spawnSync('mount', ['-o', 'remount,size=8m', mount]);
			const resumed = cage(['resume', output, '--progress', 'json', '--no-audit'], {env});
			expect(resumed.status).toBe(0);
			expect(parseEvents(resumed.stderr).find(event => event.type === 'job:start')?.chunksDone).toBe(kept.chunksDone);
			expect(ageDecrypt(output, path.join(dir, 'full.out')).status).toBe(0);
			expect(same(plain, path.join(dir, 'full.out'))).toBe(true);
			fs.rmSync(output);
			fs.writeFileSync(`${output}.checkpoint.json`, '{}');
			fs.writeFileSync(`${output}.partial`, '');
			spawnSync('mount', ['-o', 'remount,size=2m', mount]);
			// A file too small for a checkpoint is not told to resume.
			fs.rmSync(`${output}.checkpoint.json`);
			fs.rmSync(`${output}.partial`);
			fs.writeFileSync(path.join(mount, 'filler'), Buffer.alloc(1024 * 1024));
			const small = path.join(dir, 'small-for-full-disk');
			writeRandomFile(small, 1536 * 1024);
			const once = cage(['encrypt', small, '-r', recipient, '-o', path.join(mount, 'small.age'), ...quiet], {env});
			expect(once.status).toBe(1);
			expect(once.stderr).toContain('no space left on device');
			expect(once.stderr).toContain('then run the command again (a job this small keeps no checkpoint)');
			expect(fs.readdirSync(mount).filter(name => name.startsWith('small.age'))).toEqual([]);
		} finally {
			spawnSync('umount', [mount]);
		}
	});
});

describe('a full disk under the worker threads', () => {
	it.skipIf(process.getuid?.() !== 0)('a write on a worker thread fails: exit 75, the chunks written before are kept, and the resume finishes', context => {
		const mount = path.join(dir, 'small-disk-threads');
		fs.mkdirSync(mount);
		// Larger than the files encrypted on the main thread (pool.ts), so the workers write and meet the full disk.
		if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]).status !== 0) context.skip('cannot mount a tmpfs here');
		try {
			const plain = path.join(dir, 'threads-victim');
			writeRandomFile(plain, 6 * 1024 * 1024);
			const output = path.join(mount, 'full.age');
			// Paced (6 MiB/s): the checkpoint beside the output is written every 200 ms, and on a full
			// disk it cannot be written any more, so the first chunks must commit well before the disk
			// fills for a checkpoint to record them (unpaced, on a loaded machine, none did: 0 kept).
			const run = cage(['encrypt', plain, '-r', recipient, '-o', output, '--chunk-size', '1MiB', '--jobs', '2', '--rate', '6MiB', ...quiet], {env});
			expect(run.status).toBe(75);
			expect(run.stderr).toMatch(/full\.age\.partial: no space left on device while writing chunk \d+/);
			const kept = JSON.parse(fs.readFileSync(`${output}.checkpoint.json`, 'utf8')) as {chunksDone: number};
			expect(kept.chunksDone).toBeGreaterThanOrEqual(1);
			expect(kept.chunksDone).toBeLessThan(6);
			spawnSync('mount', ['-o', 'remount,size=16m', mount]);
			const resumed = cage(['resume', output, '--progress', 'json', '--no-audit'], {env});
			expect(resumed.status).toBe(0);
			expect(ageDecrypt(output, path.join(dir, 'threads-victim.out')).status).toBe(0);
			expect(same(plain, path.join(dir, 'threads-victim.out'))).toBe(true);
		} finally {
			spawnSync('umount', [mount]);
		}
	});
});

describe('streams and write errors', () => {
	const plain = path.join(dir, 'stream-victim');
	beforeAll(() => writeRandomFile(plain, 3 * 1024 * 1024 + 1));

	it.skipIf(process.getuid?.() !== 0)('disk full under stdin -> -o FILE: exit 1, nothing under the final name (both ways)', context => {
		const mount = path.join(dir, 'small-stream-disk');
		fs.mkdirSync(mount);
		// A real full disk: a 2 MiB tmpfs, smaller than the 3 MiB stream (needs root and mount rights).
		if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount]).status !== 0) context.skip('cannot mount a tmpfs here');
		try {
			const output = path.join(mount, 'stream.age');
			const encrypted = cage(['encrypt', '-r', recipient, '-o', output, ...quiet], {env, input: fs.readFileSync(plain)});
			expect(encrypted.status).toBe(1);
			expect(encrypted.stderr).toMatch(/stream\.age\.partial: no space left on device/);
			expect(fs.readdirSync(mount)).toEqual([]);
			const ciphertext = `${plain}.age`;
			execFileSync('age', ['-r', recipient, '-o', ciphertext, plain]);
			const decrypted = cage(['decrypt', '-i', key, '-o', path.join(mount, 'stream.out'), ...quiet], {env, input: fs.readFileSync(ciphertext)});
			expect(decrypted.status).toBe(1);
			expect(decrypted.stderr).toMatch(/stream\.out\.partial: no space left on device/);
			expect(fs.readdirSync(mount)).toEqual([]);
			// The disk fills on the very last write, after the job's own loop: still a failure.
			const small = path.join(dir, 'stream-small');
			writeRandomFile(small, 2 * 65_536 + 4000);
			const filler = path.join(mount, 'filler');
			const fill = (free: number) => {
				fs.rmSync(filler, {force: true});
				const total = spawnSync('df', ['-B1', '--output=avail', mount], {encoding: 'utf8'}).stdout.trim().split('\n').at(-1)!;
				fs.writeFileSync(filler, Buffer.alloc(Number(total) - free));
			};

			fill(135_168);
			const last = cage(['encrypt', '-r', recipient, '-o', path.join(mount, 'last.age'), ...quiet], {env, input: fs.readFileSync(small)});
			expect(last.status).toBe(1);
			expect(fs.readdirSync(mount)).toEqual(['filler']);
			// stdout redirected to a file on that disk: node's own stdout ignored the short write.
			fill(135_168);
			const redirected = spawnSync('sh', ['-c', `'${cliPath}' encrypt -r ${recipient} --progress none --no-audit < '${small}' > '${path.join(mount, 'out.age')}'`], {env, encoding: 'utf8'});
			expect(redirected.status).toBe(1);
			expect(redirected.stderr).toContain('stdout: no space left on device');
			expect(redirected.stderr).toContain('the output on stdout is incomplete');
		} finally {
			spawnSync('umount', [mount]);
		}
	});

	it('a stream is read in bounded memory: 384 MiB piped through cage encrypt peak under 250 MiB of RSS (it held every chunk read)', {timeout: 120_000}, async () => {
		const child = spawn(process.execPath, [cliPath, 'encrypt', '-r', recipient, '--progress', 'none', '--no-audit'], {env, stdio: ['pipe', 'ignore', 'ignore']});
		let peak = 0;
		const poll = setInterval(() => {
			try {
				peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024);
			} catch {
				// Exited between polls.
			}
		}, 25);
		const block = Buffer.alloc(1024 * 1024, 7);
		for (let written = 0; written < 384; written++) {
			if (!child.stdin.write(block)) await new Promise(resolve => child.stdin.once('drain', resolve));
		}

		child.stdin.end();
		const code = await new Promise<number | null>(resolve => child.once('exit', resolve));
		clearInterval(poll);
		expect(code).toBe(0);
		expect(peak).toBeGreaterThan(0);
		expect(peak).toBeLessThan(250 * 1024 * 1024);
	});

	it.each(['encrypt', 'decrypt'])('%s of a stream whose writer goes silent stops at once on SIGTERM (it waited for the next bytes), leaving nothing', {timeout: 30_000}, async kind => {
		const plain = path.join(dir, `silent-${kind}`);
		writeRandomFile(plain, 200_000);
		execFileSync('age', ['-r', recipient, '-o', `${plain}.age`, plain]);
		const output = `${plain}.out`;
		const args = kind === 'encrypt' ? ['encrypt', '-r', recipient] : ['decrypt', '-i', key];
		const child = spawn(process.execPath, [cliPath, ...args, '-o', output, '--progress', 'json', '--no-audit'], {env, stdio: ['pipe', 'ignore', 'pipe']});
		let stderr = '';
		child.stderr.on('data', data => (stderr += data));
		// The first bytes, then nothing: the pipe stays open.
		child.stdin.write(fs.readFileSync(kind === 'encrypt' ? plain : `${plain}.age`).subarray(0, 100));
		await waitFor(() => parseEvents(stderr).some(event => event.type === 'job:start'), {what: 'job:start'});
		const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)));
		const signalled = Date.now();
		child.kill('SIGTERM');
		expect(await exited).toBe(1);
		expect(Date.now() - signalled).toBeLessThan(5000);
		expect(stderr).toContain('stopped before the end, with no checkpoint to resume from');
		expect(leftovers(output)).toEqual([]);
		child.stdin.destroy();
	});

	it('stdin -> -o FILE both ways: the file appears whole under its name, mode 0600, no partial left', () => {
		const output = path.join(dir, 'from-stdin.age');
		const encrypted = cage(['encrypt', '-r', recipient, '-o', output, ...quiet], {env, input: fs.readFileSync(plain)});
		expect(encrypted.status).toBe(0);
		expect(fs.statSync(output).mode & 0o777).toBe(0o600);
		const back = path.join(dir, 'from-stdin.out');
		expect(cage(['decrypt', '-i', key, '-o', back, ...quiet], {env, input: fs.readFileSync(output)}).status).toBe(0);
		expect(same(plain, back)).toBe(true);
		expect(leftovers(output)).toEqual([output]);
		expect(fs.existsSync(`${back}.partial`)).toBe(false);
	});

	it('progress of a stream counts plaintext: a file decrypted to stdout has its plaintext size, and n whole chunks are n', () => {
		const exact = path.join(dir, 'three-mib');
		writeRandomFile(exact, 3 * 1024 * 1024);
		execFileSync('age', ['-r', recipient, '-o', `${exact}.age`, exact]);
		const run = cage(['decrypt', `${exact}.age`, '-i', key, '--chunk-size', '1MiB', '--progress', 'json', '--no-audit'], {env});
		expect(run.status).toBe(0);
		const events = parseEvents(run.stderr);
		expect(events.find(event => event.type === 'job:start')).toMatchObject({size: 3 * 1024 * 1024});
		expect(cage(['decrypt', `${exact}.age`, '-i', key, '--chunk-size', '1MiB', '--progress', 'plain', '--no-audit'], {env}).stderr).toContain('3.00 MiB, ~3 chunk(s) of 1.00 MiB');
		expect(events.filter(event => event.type === 'chunk:done').map(event => event.size)).toEqual([1, 1, 1].map(mib => mib * 1024 * 1024));
		expect(events.find(event => event.type === 'job:done')).toMatchObject({outcome: 'completed', bytesDone: 3 * 1024 * 1024});
	});

	it('stdin redirected from a file has its size (a progress bar and ETA), both ways; a pipe has none', () => {
		const exact = path.join(dir, 'redirected');
		writeRandomFile(exact, 3 * 1024 * 1024 + 7);
		execFileSync('age', ['-r', recipient, '-o', `${exact}.age`, exact]);
		const run = (args: string[], input: string) => {
			const result = spawnSync('sh', ['-c', `"$@" < '${input}' > /dev/null`, 'sh', process.execPath, cliPath, ...args, '--progress', 'json', '--no-audit'], {env, encoding: 'utf8'});
			expect(result.status).toBe(0);
			return parseEvents(result.stderr).find(event => event.type === 'job:start');
		};
		expect(run(['encrypt', '-r', recipient], exact)).toMatchObject({size: 3 * 1024 * 1024 + 7});
		expect(run(['decrypt', '-i', key], `${exact}.age`)).toMatchObject({size: 3 * 1024 * 1024 + 7});
		// A shell that read some of it first: what is left counts.
		const after = (args: string[], input: string) => {
			const result = spawnSync('sh', ['-c', `{ dd bs=1000 count=1 of=/dev/null 2>/dev/null; "$@" > /dev/null; } < '${input}'`, 'sh', process.execPath, cliPath, ...args, '--progress', 'json', '--no-audit'], {env, encoding: 'utf8'});
			return {start: parseEvents(result.stderr).find(event => event.type === 'job:start'), stderr: result.stderr};
		};
		expect(after(['encrypt', '-r', recipient], exact).start).toMatchObject({size: 3 * 1024 * 1024 + 7 - 1000});
		// For decrypt what is left starts 1000 bytes into the age file: no age file, one error line
		// before any job (read by position, so the check itself takes nothing from stdin).
		expect(after(['decrypt', '-i', key], `${exact}.age`)).toEqual({start: undefined, stderr: 'cage decrypt: stdin is not an age file (it does not start with "age-encryption.org/v1")\n'});
		const piped = cage(['encrypt', '-r', recipient, '--progress', 'json', '--no-audit'], {env, input: fs.readFileSync(exact)});
		expect(parseEvents(piped.stderr).find(event => event.type === 'job:start')).toMatchObject({size: null});
	});

	it('a stream to a full stdout, or to a -o in a missing directory, is a one-line error', () => {
		const full = spawnSync('sh', ['-c', `'${cliPath}' encrypt -r ${recipient} --progress none --no-audit < '${plain}' > /dev/full`], {env, encoding: 'utf8'});
		expect(full.status).toBe(1);
		// The job hears the failed write: it ends failed (its audit log says so too), naming stdout.
		expect(full.stderr).toContain('cage encrypt: stdout: no space left on device');
		expect(full.stderr).not.toMatch(/\n\s+at /);
		const missing = cage(['encrypt', '-r', recipient, '-o', path.join(dir, 'no-such-dir', 'x.age'), ...quiet], {env, input: 'hi'});
		expect(missing.status).toBe(1);
		expect(missing.stderr).toContain(`${path.join(dir, 'no-such-dir', 'x.age.partial')}: no such file or directory`);
		expect(missing.stderr).not.toMatch(/\n\s+at /);
	});
});

describe('post-quantum hybrid recipients (age1pq1…)', () => {
	it('encrypts to a hybrid recipient and decrypts with its AGE-SECRET-KEY-PQ-1 identity file', async () => {
		// age 1.1 predates hybrid keys, so both sides are cage here (the header is age-encryption's).
		const {generateHybridIdentity, identityToRecipient} = await import('age-encryption');
		const identity = await generateHybridIdentity();
		const pqRecipient = await identityToRecipient(identity);
		expect(pqRecipient.startsWith('age1pq1')).toBe(true);
		const identityFile = path.join(dir, 'pq-key.txt');
		fs.writeFileSync(identityFile, `# hybrid\n${identity}\n`, {mode: 0o600});
		const plain = path.join(dir, 'pq-plain');
		writeRandomFile(plain, 3 * 65_536 + 5);
		const encrypted = cage(['encrypt', plain, '-r', pqRecipient, '-r', recipient, '-o', `${plain}.age`, ...quiet], {env});
		expect(encrypted.stderr).toBe('');
		expect(encrypted.status).toBe(0);
		expect(fs.readFileSync(`${plain}.age`, 'latin1')).toContain('-> mlkem768x25519');
		const decrypted = cage(['decrypt', `${plain}.age`, '-i', identityFile, '-o', `${plain}.out`, ...quiet], {env});
		expect(decrypted.status).toBe(0);
		expect(same(plain, `${plain}.out`)).toBe(true);
		// The X25519 recipient beside it still opens the same file with the age CLI.
		expect(ageDecrypt(`${plain}.age`, `${plain}.age-out`).status).toBe(0);
		expect(same(plain, `${plain}.age-out`)).toBe(true);
	});
});
