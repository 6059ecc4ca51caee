// The esbuild options cage's binary is bundled with (scripts/bundle.mjs), shared with the bench's
// minimal Ink app (scripts/bench-ui.mjs), so that the two load their dependencies the same way.
import path from 'node:path';

/** Options for an ESM bundle for node 20 of code that may use Ink and React; `root` is the repository. */
export function nodeBundleOptions(root) {
	return {
		bundle: true,
		// A native addon: loaded from node_modules at run time (source/age/poly1305-check.ts).
		external: ['sodium-native'],
		platform: 'node',
		format: 'esm',
		target: 'node20',
		logLevel: 'warning',
		// Ink reaches for React's devtools only in development; the stub keeps it out of the bundle.
		alias: {'react-devtools-core': path.join(root, 'scripts/devtools-stub.mjs')},
		// React's production build (production-react.ts sets the same at run time for the library).
		// No fetch: the layout engine's loader asks `typeof fetch`, and reading node's global fetch
		// loads its HTTP client (undici), 35 ms of the dashboard's start. cage never fetches.
		define: {'process.env.NODE_ENV': '"production"', fetch: 'undefined'},
		logOverride: {'assign-to-define': 'silent'},
		// Some bundled CommonJS dependencies call require() for node built-ins.
		banner: {js: "import {createRequire as __cageCreateRequire} from 'node:module'; const require = __cageCreateRequire(import.meta.url);"},
		plugins: [
			// `node:process` is the global process (scripts/process-shim.mjs says why).
			{
				name: 'cage-process-shim',
				setup(builder) {
					builder.onResolve({filter: /^(node:)?process$/}, () => ({path: path.join(root, 'scripts/process-shim.mjs')}));
				},
			},
		],
	};
}
