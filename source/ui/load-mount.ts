/**
 * Loads the dashboard: the single-file bundle made at build time (scripts/bundle-ui.mjs) when it
 * is there, else the module tree (running from source, or a build without the bundle).
 */
import fs from 'node:fs';
import {fileURLToPath} from 'node:url';
import type * as mount from './mount.js';

type MountModule = typeof mount;

export async function loadMount(): Promise<MountModule> {
	const bundle = new URL('mount.bundle.js', import.meta.url);
	if (fs.existsSync(fileURLToPath(bundle))) return (await import(bundle.href)) as MountModule;
	return import('./mount.js');
}
