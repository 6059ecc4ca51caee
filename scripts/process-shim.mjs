// What the binary's bundles get for `import process from 'node:process'` (see scripts/bundle.mjs):
// the global. node builds an ES module of the built-in by copying every property of `process`,
// which runs the getter of `allowedNodeEnvironmentFlags` (it parses node's option table): 8-15 ms
// of every start, before the cipher workers could even be started. Named imports the bundled
// dependencies use are added here; an import of any other name fails the build, not a run.
const process = globalThis.process;
export default process;
export const env = process.env;
export function cwd() {
	return process.cwd();
}
