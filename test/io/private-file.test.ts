import fs from 'node:fs';
import fsPromises from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';
import {writePrivateFile} from '../../source/io/private-file.js';

let dir: string;

beforeEach(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-private-'));
});

afterEach(() => {
	vi.restoreAllMocks();
	fs.rmSync(dir, {recursive: true, force: true});
});

describe('writePrivateFile', () => {
	it('writes a 0600 file; without replace an existing one is kept (EEXIST), with replace it is swapped for a new inode', async () => {
		const file = path.join(dir, 'secret.txt');
		await writePrivateFile(file, 'one\n', {replace: false});
		expect(fs.readFileSync(file, 'utf8')).toBe('one\n');
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		await expect(writePrivateFile(file, 'two\n', {replace: false})).rejects.toMatchObject({code: 'EEXIST', path: file});
		expect(fs.readFileSync(file, 'utf8')).toBe('one\n');
		const before = fs.statSync(file).ino;
		await writePrivateFile(file, 'three\n', {replace: true});
		expect(fs.readFileSync(file, 'utf8')).toBe('three\n');
		expect(fs.statSync(file).ino).not.toBe(before);
		expect(fs.readdirSync(dir)).toEqual(['secret.txt']);
	});

	it('on a file system without hard links, creates the file with O_EXCL instead (never replacing one)', async () => {
		vi.spyOn(fsPromises, 'link').mockRejectedValue(Object.assign(new Error('EPERM: operation not permitted, link'), {code: 'EPERM'}));
		const file = path.join(dir, 'secret.txt');
		await writePrivateFile(file, 'one\n', {replace: false});
		expect(fs.readFileSync(file, 'utf8')).toBe('one\n');
		expect(fs.statSync(file).mode & 0o777).toBe(0o600);
		await expect(writePrivateFile(file, 'two\n', {replace: false})).rejects.toMatchObject({code: 'EEXIST'});
		expect(fs.readFileSync(file, 'utf8')).toBe('one\n');
		expect(fs.readdirSync(dir)).toEqual(['secret.txt']);
	});

	it('removes its temp file when writing fails, and names the target in the error', async () => {
		const file = path.join(dir, 'secret.txt');
		vi.spyOn(fsPromises, 'rename').mockRejectedValue(Object.assign(new Error('EIO: i/o error, rename'), {code: 'EIO', path: 'elsewhere'}));
		await expect(writePrivateFile(file, 'one\n', {replace: true})).rejects.toMatchObject({code: 'EIO', path: file});
		expect(fs.readdirSync(dir)).toEqual([]);
	});
});
