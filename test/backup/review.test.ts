/**
 * What a new user runs into with `cage backup`, as found reading the feature against its issue:
 * a directory given to create, a wrong key at restore, a newest generation that is damaged, a
 * registry or manifests put back from `.prev` (generation numbers still never reused), and the
 * same file backed up twice at once.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {cage, makeSandbox, startCage, waitFor, writeRandomFile} from '../helpers/cage.js';
import {checkBackupDir, generationsOf} from '../helpers/backup-dir.js';

const sandbox = makeSandbox('cage-backup-review-');
const env = {...sandbox.env, XDG_DATA_HOME: path.join(sandbox.dir, 'data')};
afterAll(() => sandbox.cleanup());

const key = path.join(sandbox.dir, 'key.txt');
const otherKey = path.join(sandbox.dir, 'other.txt');
let recipient = '';
const quiet = ['--progress', 'none', '--no-audit'];
beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	execFileSync('age-keygen', ['-o', otherKey], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
});

const create = (dir: string, file: string, extra: string[] = []) => cage(['backup', 'create', file, '-r', recipient, '--to', dir, '--chunk-size', '256K', '--keep-last', '0', ...quiet, ...extra], {env});

describe('backup, as a new user meets it', () => {
	it('a directory given to create is refused in one line that says what to do', () => {
		const run = create(path.join(sandbox.dir, 'unused'), sandbox.dir);
		expect(run.status).toBe(1);
		expect(run.stderr).toBe(`cage backup create: ${sandbox.dir} is a directory: a backup is of files, one generation each; name the files, or archive the directory (tar) and back that up\n`);
	});

	it('restore: a wrong key is said at once; a damaged newest generation is passed over, and said', () => {
		const dir = path.join(sandbox.dir, 'restore');
		const file = path.join(sandbox.dir, 'r.bin');
		const days: Buffer[] = [];
		for (let day = 0; day < 2; day++) {
			writeRandomFile(file, 1024 * 1024 + day);
			days.push(fs.readFileSync(file));
			expect(create(dir, file).status).toBe(0);
		}

		const wrong = cage(['backup', 'restore', file, '-i', otherKey, '-o', path.join(sandbox.dir, 'never'), '--to', dir, ...quiet], {env});
		expect(wrong.status).toBe(1);
		expect(wrong.stderr).toMatch(/^cage backup restore: not restoring generation 2 of .*r\.bin: .*g2\.age: the identity given cannot open it/);
		expect(fs.existsSync(path.join(sandbox.dir, 'never'))).toBe(false);

		// Generation 2 damaged (a verify found it): the restore takes generation 1, and says why.
		const [, second] = Object.values(checkBackupDir(dir, 'two generations').registry!.sources)[0]!.generations;
		const bytes = fs.readFileSync(path.join(dir, second!.file));
		bytes[bytes.length - 10]! ^= 1;
		fs.writeFileSync(path.join(dir, second!.file), bytes);
		expect(cage(['backup', 'verify', file, '--to', dir, ...quiet], {env}).status).toBe(1);
		const out = path.join(sandbox.dir, 'restored');
		const restored = cage(['backup', 'restore', file, '-i', key, '-o', out, '--to', dir, ...quiet], {env});
		expect(restored.status, restored.stderr).toBe(0);
		expect(restored.stderr).toBe('cage backup restore: restoring generation 1, the newest complete one (newer: 2 damaged)\n');
		expect(Buffer.compare(fs.readFileSync(out), days[0]!)).toBe(0);
	});

	it('a registry put back from .prev or an older copy (as the corrupt-registry message says) never reuses a generation number', () => {
		const dir = path.join(sandbox.dir, 'prev');
		const file = path.join(sandbox.dir, 'p.bin');
		writeRandomFile(file, 300_000);
		expect(create(dir, file).status).toBe(0);
		const registry = path.join(dir, '.cage_backups.json');
		// A copy of the directory's registry, taken before generation 2.
		const copy = fs.readFileSync(registry);
		writeRandomFile(file, 300_001);
		expect(create(dir, file).status).toBe(0);
		fs.writeFileSync(registry, '{"torn');
		const refused = cage(['backup', 'list', '--to', dir], {env});
		expect(refused.status).toBe(1);
		expect(refused.stderr).toContain(`To recover, its previous version is kept as ${registry}.prev: set it aside ('mv ${registry} ${registry}.damaged'), put that back ('cp ${registry}.prev ${registry}')`);
		// Its .prev is from before generation 2 was finished: there generation 2 is partial, its file whole.
		fs.copyFileSync(`${registry}.prev`, registry);
		expect(generationsOf(checkBackupDir(dir, 'put back', {temporaries: false}))).toEqual([[1, 'complete'], [2, 'partial']]);
		// The older copy knows nothing of generation 2: its file is reported, not taken for another.
		fs.writeFileSync(registry, copy);
		const dry = cage(['backup', 'prune', '--dry-run', '--to', dir], {env});
		expect(dry.stdout).toMatch(/^not in the registry: .*p\.bin\.[\da-f]{8}\.g2\.age — cage did not register it here; move it away or delete it$/m);
		writeRandomFile(file, 300_002);
		const next = create(dir, file);
		expect(next.status, next.stderr).toBe(0);
		expect(next.stdout).toContain('generation 3 written');
		expect(cage(['backup', 'verify', file, '--to', dir, ...quiet], {env}).status).toBe(0);

		// Manifests too keep their previous version, and the message says how to use it.
		const manifests = path.join(dir, '.cage_backups.chunks.json');
		fs.writeFileSync(manifests, 'not json');
		const broken = cage(['backup', 'verify', file, '--to', dir, ...quiet], {env});
		expect(broken.status).toBe(1);
		expect(broken.stderr).toContain(`the chunk manifests ${manifests} are corrupt (not valid JSON); they were not changed. To recover, its previous version is kept as ${manifests}.prev`);
		fs.copyFileSync(`${manifests}.prev`, manifests);
		const verified = cage(['backup', 'verify', file, '--generation', '3', '--to', dir, ...quiet], {env});
		expect(verified.status, verified.stderr).toBe(0);
	});

	it('the same file backed up twice at once: the second create says the first is at it, and skips', async () => {
		const dir = path.join(sandbox.dir, 'twice');
		const file = path.join(sandbox.dir, 't.bin');
		writeRandomFile(file, 2 * 1024 * 1024);
		const first = startCage(['backup', 'create', file, '-r', recipient, '--to', dir, '--chunk-size', '256K', '--rate', '2MiB', ...quiet], {env});
		await waitFor(() => fs.existsSync(dir) && fs.readdirSync(dir).some(name => name.endsWith('.checkpoint.json')), {what: 'the first create\'s checkpoint'});
		const second = create(dir, file);
		expect(second.status).toBe(0);
		expect(second.stderr).toBe(`cage backup create: ${file} is being backed up as it is now by another cage process (generation 1, 'cage backup list' shows it); skipped (--force makes another one)\n`);
		expect(await first.exited).toBe(0);
		expect(generationsOf(checkBackupDir(dir, 'both done', {temporaries: false}))).toEqual([[1, 'complete']]);
	});
});
