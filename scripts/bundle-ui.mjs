#!/usr/bin/env node
// Bundles the dashboard (Ink, React, the layout engine and cage's own views) into one file,
// dist/ui/mount.bundle.js, after tsc: node then reads and links one module instead of hundreds,
// which cut the dashboard's start from about 0.44 s to 0.15 s — time a two-core machine would
// otherwise take from the encryption. source/ui/load-mount.ts falls back to dist/ui/mount.js when
// the bundle is missing.
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {build} from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await build({
	entryPoints: [path.join(root, 'dist/ui/mount.js')],
	outfile: path.join(root, 'dist/ui/mount.bundle.js'),
	bundle: true,
	platform: 'node',
	format: 'esm',
	target: 'node20',
	logLevel: 'warning',
	// Ink reaches for React's devtools only in development; the stub keeps it out of the bundle.
	alias: {'react-devtools-core': path.join(root, 'scripts/devtools-stub.mjs')},
	define: {'process.env.NODE_ENV': '"production"'},
	// production-react.ts sets the same value at run time for the unbundled tree; moot here.
	logOverride: {'assign-to-define': 'silent'},
	// Some bundled CommonJS dependencies call require() for node built-ins.
	banner: {js: "import {createRequire as __cageCreateRequire} from 'node:module'; const require = __cageCreateRequire(import.meta.url);"},
});
