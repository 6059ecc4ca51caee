/**
 * compilePattern: whether a pattern is a glob comes from what the user typed, never from the
 * directory it is resolved against.
 */
import {describe, expect, it} from 'vitest';
import {compilePattern} from '../../source/audit/glob.js';

describe('compilePattern', () => {
	it('a plain name stays a path when the working directory has glob characters', () => {
		for (const cwd of ['/tmp/t/proj[1]', '/tmp/t/a*b', '/tmp/t/what?', '/srv/{a,b}/x']) {
			const pattern = compilePattern('audit.jsonl', cwd);
			expect(pattern.literal).toBe(true);
			expect(pattern.base).toBe(cwd);
			expect(pattern.matches(`${cwd}/audit.jsonl`)).toBe(true);
		}

		expect(compilePattern('audit.jsonl', '/tmp/t/proj[1]').matches('/tmp/t/proj1/audit.jsonl')).toBe(false);
	});

	it('a glob typed under such a directory matches its files there, the directory taken literally', () => {
		const pattern = compilePattern('logs/*.jsonl', '/tmp/t/proj[1]');
		expect(pattern.literal).toBe(false);
		expect(pattern.base).toBe('/tmp/t/proj[1]/logs');
		expect(pattern.recursive).toBe(false);
		expect(pattern.matches('/tmp/t/proj[1]/logs/a.jsonl')).toBe(true);
		expect(pattern.matches('/tmp/t/proj1/logs/a.jsonl')).toBe(false);
		expect(pattern.matches('/tmp/t/proj[1]/logs/a.txt')).toBe(false);
		const parent = compilePattern('../*/audit.jsonl', '/srv/{a,b}.d/x');
		expect(parent.base).toBe('/srv/{a,b}.d');
		expect(parent.recursive).toBe(true);
		expect(parent.matches('/srv/{a,b}.d/y/audit.jsonl')).toBe(true);
		expect(parent.matches('/srv/a.d/y/audit.jsonl')).toBe(false);
	});

	it('absolute globs still work, from the root too', () => {
		const pattern = compilePattern('/var/log/cage/**/*.jsonl', '/tmp/t/proj[1]');
		expect(pattern.base).toBe('/var/log/cage');
		expect(pattern.recursive).toBe(true);
		expect(pattern.matches('/var/log/cage/a/b/x.jsonl')).toBe(true);
		const root = compilePattern('/*.jsonl');
		expect(root.base).toBe('/');
		expect(root.matches('/x.jsonl')).toBe(true);
		expect(root.matches('/a/x.jsonl')).toBe(false);
	});

	it('literal: a configured path is a path, whatever its characters', () => {
		const pattern = compilePattern('/state[1]/cage/audit.jsonl', '/', {literal: true});
		expect(pattern.literal).toBe(true);
		expect(pattern.base).toBe('/state[1]/cage');
		expect(pattern.matches('/state[1]/cage/audit.jsonl')).toBe(true);
		expect(pattern.matches('/state1/cage/audit.jsonl')).toBe(false);
	});
});
