#!/usr/bin/env node
// Bundles the binary after tsc. node 20 spends most of a short job's start reading, linking and
// compiling modules (about 120 of them for an encryption), so the build puts the CLI and the age
// worker into dist/bin/ as a few files:
//
//   dist/bin/cli.js      the CLI and everything an encryption or decryption needs
//   dist/bin/worker.js   the cipher worker thread (pool.ts finds it beside itself)
//   dist/bin/sweep-worker.js  cage sweep's JSON Lines worker thread (sweep/workers.ts finds it likewise)
//   dist/bin/chunk-*.js  what only some commands load, on demand: the dashboard (Ink, React,
//                        the layout engine), `cage watch` (chokidar), `cage config` (conf)
//
// dist/cli.js, the `bin`, becomes a launcher that imports dist/bin/cli.js: its first lines are
// both a shell script and JavaScript (see source/cli.tsx for why): /bin/sh runs line 2 — `:` is
// the shell's no-op builtin, then exec — while node reads a string statement and a comment.
// The rest of dist/ stays as tsc wrote it: it is the library (`import ... from 'cage'`).
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {build} from 'esbuild';
import {nodeBundleOptions} from './node-bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const outdir = path.join(dist, 'bin');
const shebang = '#!/usr/bin/env node\n';
const {version} = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const tscCli = fs.readFileSync(path.join(dist, 'cli.js'), 'utf8');
if (!tscCli.startsWith(shebang)) throw new Error(`dist/cli.js does not start with ${shebang.trim()}: run tsc first (npm run build)`);
/**
 * Ink and its helpers (wrap-ansi, cli-truncate, widest-line) measure text with `string-width`; in
 * the binary they get source/ui/text-width.ts instead, which answers the dashboard's strings
 * without string-width's one-time set-up and hands it everything else (see that file).
 */
const textWidth = {
	name: 'cage-text-width',
	setup(builder) {
		const replacement = path.join(dist, 'ui/text-width.js');
		builder.onResolve({filter: /^string-width$/}, args => (args.importer === replacement ? undefined : {path: replacement}));
	},
};

/**
 * Ink's frame compositor (its output.js) imports `@alcalzone/ansi-tokenize`; in the binary it gets
 * source/ui/styled-chars.ts, which gives the same output for less CPU a frame (see that file).
 */
const styledChars = {
	name: 'cage-styled-chars',
	setup(builder) {
		const replacement = path.join(dist, 'ui/styled-chars.js');
		builder.onResolve({filter: /^@alcalzone\/ansi-tokenize$/}, args => (args.importer === replacement ? undefined : {path: replacement}));
	},
};

/**
 * meow bundles normalize-package-data and runs its set-up (spdx-correct's tables among it) when
 * its module loads: about 9 ms of every command's start, for a function meow calls only when
 * its result's `pkg` is read, which cage never does. In the binary that set-up runs on first use.
 */
const lazyNormalize = {
	name: 'cage-lazy-normalize',
	setup(builder) {
		const eager = 'var normalizeExports = requireNormalize();\nconst normalizePackageData = getDefaultExportFromCjs(normalizeExports);';
		const lazy = 'const normalizePackageData = data => getDefaultExportFromCjs(requireNormalize())(data);';
		builder.onLoad({filter: /[/\\]meow[/\\]build[/\\]dependencies\.js$/}, async args => {
			const source = await fs.promises.readFile(args.path, 'utf8');
			// A new meow that changed these lines fails the build here rather than loading slowly unnoticed.
			if (!source.includes(eager)) throw new Error(`${args.path}: meow's normalize-package-data set-up changed; update the cage-lazy-normalize plugin in scripts/bundle.mjs`);
			return {contents: source.replace(eager, lazy), loader: 'js'};
		});
	},
};

fs.rmSync(outdir, {recursive: true, force: true});
const common = nodeBundleOptions(root);
await build({
	...common,
	entryPoints: {cli: path.join(dist, 'cli.js'), warm: path.join(dist, 'warm.js'), worker: path.join(dist, 'age/worker.js'), 'sweep-worker': path.join(dist, 'sweep/sweep-worker.js')},
	outdir,
	splitting: true,
	// Bundling makes every module's top-level `const` a `var`, which V8 cannot fold into hot loops;
	// syntax minification writes a module's leading numeric constants into the code that uses them
	// instead (source/sweep/scanner-codes.ts is laid out for it: the sweep's scanner ran about 15%
	// slower bundled without it). Whitespace and names stay, so stack traces stay readable.
	minifySyntax: true,
	plugins: [textWidth, styledChars, lazyNormalize, ...common.plugins],
});

const launcher = [
	'#!/bin/sh',
	// The allocator keeps what the cipher threads free (see README, Performance: page faults); a
	// sweep has no cipher threads, and the kept memory was 3 MiB of its peak RSS (65 against 62).
	'":" //; [ "$1" = sweep ] && exec node "$0" "$@"; exec env MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-268435456}" node "$0" "$@"',
	'// The cage binary: see scripts/bundle.mjs. Built; do not edit.',
	// `cage --version` answers here, without compiling the CLI (about 60 ms of node's time).
	`if (process.argv.length === 3 && process.argv[2] === '--version') process.stdout.write(${JSON.stringify(`${version}\n`)});`,
	// Small and first: starts an age job's worker threads before node compiles the big bundle.
	"else {",
	"\tawait import('./bin/warm.js');",
	"\tawait import('./bin/cli.js');",
	"}",
	'',
].join('\n');
fs.writeFileSync(path.join(dist, 'cli.js'), launcher);
// tsc made the file (mode 0644), and writeFileSync sets a mode only on files it creates.
fs.chmodSync(path.join(dist, 'cli.js'), 0o755);
fs.rmSync(path.join(dist, 'cli.js.map'), {force: true});
