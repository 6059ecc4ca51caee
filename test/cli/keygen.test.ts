/**
 * `cage keygen -o FILE`: the key appears whole, mode 0600 from its first byte, or not at all; an
 * existing file is replaced only with --force and only once the new key is on disk; symlinks
 * are never followed.
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {cage, cliPath, makeSandbox} from '../helpers/cage.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());

const secretLine = (text: string) => text.split('\n').find(line => line.startsWith('AGE-SECRET-KEY-1'));
/** Files in `directory` other than `names`: a temp file left behind shows up here. */
const others = (directory: string, ...names: string[]) => fs.readdirSync(directory).filter(name => !names.includes(name));

describe('cage keygen -o', () => {
	it('writes a 0600 key and never replaces an existing file without --force', () => {
		const sub = fs.mkdtempSync(path.join(dir, 'plain-'));
		const file = path.join(sub, 'key.txt');
		expect(cage(['keygen', '-o', file], {env}).status).toBe(0);
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		const first = fs.readFileSync(file, 'utf8');
		expect(secretLine(first)).toBeDefined();
		const again = cage(['keygen', '-o', file], {env});
		expect(again.status).toBe(1);
		expect(again.stderr).toBe(`cage keygen: ${file} already exists; pass --force to overwrite it (the old key is lost)\n`);
		expect(fs.readFileSync(file, 'utf8')).toBe(first);
		expect(others(sub, 'key.txt')).toEqual([]);
	});

	it('--force over a 0644 file puts a new 0600 file in its place (a new inode: the old file never holds the key)', () => {
		const sub = fs.mkdtempSync(path.join(dir, 'force-'));
		const file = path.join(sub, 'key.txt');
		fs.writeFileSync(file, 'old contents\n', {mode: 0o644});
		fs.chmodSync(file, 0o644);
		// A second name for the old inode: whatever was written into that file stays visible here.
		const oldInode = path.join(sub, 'old-inode');
		fs.linkSync(file, oldInode);
		const run = cage(['keygen', '-o', file, '--force'], {env});
		expect(run.status).toBe(0);
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		expect(fs.statSync(file).ino).not.toBe(fs.statSync(oldInode).ino);
		expect(secretLine(fs.readFileSync(file, 'utf8'))).toBeDefined();
		expect(fs.readFileSync(oldInode, 'utf8')).toBe('old contents\n');
		expect(others(sub, 'key.txt', 'old-inode')).toEqual([]);
	});

	it('does not follow a symlink: refused without --force, replaced (not written through) with it', () => {
		const sub = fs.mkdtempSync(path.join(dir, 'symlink-'));
		const victim = path.join(sub, 'victim.txt');
		fs.writeFileSync(victim, 'not a key\n', {mode: 0o644});
		const link = path.join(sub, 'key.txt');
		fs.symlinkSync(victim, link);
		const refused = cage(['keygen', '-o', link], {env});
		expect(refused.status).toBe(1);
		expect(refused.stderr).toContain('already exists; pass --force');
		expect(cage(['keygen', '-o', link, '--force'], {env}).status).toBe(0);
		expect(fs.lstatSync(link).isSymbolicLink()).toBe(false);
		expect(fs.statSync(link).mode & 0o777).toBe(0o600);
		expect(fs.readFileSync(victim, 'utf8')).toBe('not a key\n');

		// A dangling symlink: its target is not created, with --force or without.
		const dangling = path.join(sub, 'dangling.txt');
		const target = path.join(sub, 'created-through-link.txt');
		fs.symlinkSync(target, dangling);
		expect(cage(['keygen', '-o', dangling], {env}).status).toBe(1);
		expect(cage(['keygen', '-o', dangling, '--force'], {env}).status).toBe(0);
		expect(fs.existsSync(target)).toBe(false);
		expect(fs.lstatSync(dangling).isFile()).toBe(true);
	});

	it('names FILE (not a temp file) when its directory is missing', () => {
		const file = path.join(dir, 'no-such-dir', 'key.txt');
		const run = cage(['keygen', '-o', file], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toBe(`cage keygen: ${file}: no such file or directory\n`);
	});
});

/**
 * A full disk, on a tiny tmpfs in a private mount namespace (`unshare -rm`: root, or an
 * unprivileged user namespace). Skipped where neither is allowed.
 */
const canMount = spawnSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$0"', dir], {stdio: 'ignore'}).status === 0;

describe.runIf(canMount)('cage keygen -o on a full disk', () => {
	it('leaves no file (no empty key) and, with --force, the old key whole', () => {
		const mount = fs.mkdtempSync(path.join(dir, 'full-'));
		const out = path.join(dir, 'full-disk-result');
		const script = [
			'set -u',
			'mount -t tmpfs -o size=64k tmpfs "$MNT"',
			'"$NODE" "$CLI" keygen -o "$MNT/old.txt" 2>/dev/null || exit 90',
			'cp "$MNT/old.txt" "$OUT.old"',
			// Fill the file system to the last page.
			'head -c 1048576 /dev/zero > "$MNT/fill" 2>/dev/null',
			'"$NODE" "$CLI" keygen -o "$MNT/new.txt" 2> "$OUT.new.stderr"; echo $? > "$OUT.new.status"',
			'"$NODE" "$CLI" keygen -o "$MNT/old.txt" --force 2> "$OUT.force.stderr"; echo $? > "$OUT.force.status"',
			'ls -A "$MNT" > "$OUT.ls"',
			'cp "$MNT/old.txt" "$OUT.after"',
		].join('\n');
		const run = spawnSync('unshare', ['-rm', 'sh', '-c', script], {env: {...env, MNT: mount, OUT: out, NODE: process.execPath, CLI: cliPath}, encoding: 'utf8'});
		expect(run.status, run.stderr).toBe(0);
		expect(fs.readFileSync(`${out}.new.status`, 'utf8').trim()).toBe('1');
		expect(fs.readFileSync(`${out}.new.stderr`, 'utf8')).toBe(`cage keygen: ${mount}/new.txt: no space left on device; free some space and run the command again\n`);
		expect(fs.readFileSync(`${out}.force.status`, 'utf8').trim()).toBe('1');
		expect(fs.readFileSync(`${out}.force.stderr`, 'utf8')).toContain('no space left on device');
		// No new.txt, no temp file: only the old key and the filler.
		expect(fs.readFileSync(`${out}.ls`, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['fill', 'old.txt']);
		expect(fs.readFileSync(`${out}.after`, 'utf8')).toBe(fs.readFileSync(`${out}.old`, 'utf8'));
		expect(secretLine(fs.readFileSync(`${out}.after`, 'utf8'))).toBeDefined();
	});
});
