/** The sweep as built into the binary (dist/bin, npm run build): what the bundle does to it. */
import fs from 'node:fs';
import path from 'node:path';
import {describe, expect, test} from 'vitest';
import * as codes from '../../source/sweep/scanner-codes.js';

const bin = path.resolve(import.meta.dirname, '../../dist/bin');

function chunks(): Map<string, string> {
	expect(fs.existsSync(bin), 'no dist/bin: run npm run build').toBe(true);
	return new Map(
		fs
			.readdirSync(bin)
			.filter(name => name.endsWith('.js'))
			.map(name => [name, fs.readFileSync(path.join(bin, name), 'utf8')]),
	);
}

/** The files a module of dist/bin loads with it: its static imports, transitively (not import()). */
function staticClosure(sources: Map<string, string>, entry: string): Set<string> {
	const seen = new Set<string>();
	const visit = (name: string) => {
		if (seen.has(name)) return;
		seen.add(name);
		for (const match of sources.get(name)!.matchAll(/^(?:import|} from|export \* from)[^'"]*["']\.\/([^'"]+)["']/gm)) visit(match[1]!);
	};

	visit(entry);
	return seen;
}

describe('the sweep in the built binary', () => {
	test('has the scanner state codes and limits written in as numbers (esbuild inlined them), not read from variables', () => {
		const sources = chunks();
		const chunk = [...sources.values()].find(source => source.includes('// dist/sweep/scanner.js'));
		expect(chunk, 'no chunk of dist/bin holds the scanner').toBeDefined();
		// The scanner module's code (to the next module of the chunk), without its comments.
		const start = chunk!.indexOf('// dist/sweep/scanner.js');
		const next = chunk!.indexOf('\n// dist/', start + 1);
		const scanner = chunk!
			.slice(start, next < 0 ? undefined : next)
			.replaceAll(/\/\*[^]*?\*\//g, '')
			.replaceAll(/^\s*\/\/.*$/gm, '');
		expect(scanner).toContain('#structure(buffer');
		const numbers = Object.entries(codes)
			.filter(([, value]) => typeof value === 'number')
			.map(([name]) => name);
		expect(numbers).toContain('G_AFTER');
		expect(numbers).toContain('fnvOffset');
		// Any of these left as a name is a module-level `var` of the bundle: V8 cannot fold it into the hot loops.
		for (const name of numbers) expect(scanner, name).not.toMatch(new RegExp(`\\b${name}\\d*\\b`));
	});

	test('cage sweep of a plain file loads neither the age library nor the SSH key code (about 2.5 MiB of its memory)', () => {
		const sources = chunks();
		const command = /import\("\.\/(sweep-[A-Z0-9]+\.js)"\)/.exec(sources.get('cli.js')!)?.[1];
		expect(command, "cli.js loads no sweep-*.js command chunk").toBeDefined();
		const loaded = [...staticClosure(sources, 'cli.js'), ...staticClosure(sources, command!)].map(name => sources.get(name)!);
		expect(loaded.some(source => source.includes('// dist/sweep/scanner.js'))).toBe(true);
		for (const module of ['// node_modules/age-encryption/', '// dist/age/keys.js', '// dist/age/ssh-identities.js', '// node_modules/tweetnacl/']) {
			expect(loaded.some(source => source.includes(module)), module).toBe(false);
		}
	});
});
