/** `cage backup prune` in the audit log: one item per generation removed; a dry run logs nothing. */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {afterAll, expect, it} from 'vitest';
import {cage, makeSandbox, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox('cage-prune-audit-');
const env = {...sandbox.env, XDG_DATA_HOME: path.join(sandbox.dir, 'data')};
afterAll(() => sandbox.cleanup());

it('a prune is a prune job: its removals are items and anomalies in the audit log', () => {
	const key = path.join(sandbox.dir, 'key.txt');
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
	const dir = path.join(sandbox.dir, 'backups');
	const source = path.join(sandbox.dir, 'notes.txt');
	writeRandomFile(source, 1000);
	for (let run = 0; run < 3; run++) {
		const made = cage(['backup', 'create', source, '-r', recipient, '--to', dir, '--force', '--keep-last', '0', '--progress', 'none', '--no-audit'], {env});
		expect(made.status, made.stderr).toBe(0);
	}

	const audit = path.join(sandbox.dir, 'audit.jsonl');
	const dry = cage(['backup', 'prune', '--dry-run', '--keep-last', '1', '--to', dir, '--audit-log', audit], {env});
	expect(dry.status, dry.stderr).toBe(0);
	expect(fs.existsSync(audit)).toBe(false);

	const pruned = cage(['backup', 'prune', '--keep-last', '1', '--to', dir, '--audit-log', audit], {env});
	expect(pruned.status, pruned.stderr).toBe(0);
	expect(pruned.stdout).toContain('removed');
	expect(pruned.stderr).toBe('');
	const events = fs.readFileSync(audit, 'utf8').trim().split('\n').map(line => JSON.parse(line) as Record<string, unknown>);
	expect(events[0]).toMatchObject({type: 'job:start', kind: 'prune', source: dir, items: 2});
	expect(events.filter(event => event.type === 'item:done')).toHaveLength(2);
	expect(events.filter(event => event.type === 'anomaly' && event.code === 'backup-pruned').map(event => event.message)).toEqual([
		// Expiry is decided newest-first.
		`${source} generation 2 removed (retention)`,
		`${source} generation 1 removed (retention)`,
	]);
	expect(events.at(-1)).toMatchObject({type: 'job:done', outcome: 'completed', itemsDone: 2});
	// cage watch reads it back as the same events.
	const watched = cage(['watch', audit, '--progress', 'plain', '--no-follow'], {env});
	expect(watched.status, watched.stderr).toBe(0);
	expect(watched.stdout).toContain(`prune ${dir} -> (generations removed)`);
});
