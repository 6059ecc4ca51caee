import {execSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Build once when dist/ is missing or older than the sources (npm test builds anyway). */
export default function setup(): void {
	const root = path.resolve(import.meta.dirname, '../..');
	const cli = path.join(root, 'dist/cli.js');
	if (fs.existsSync(cli) && !process.env.CAGE_TEST_REBUILD) return;
	execSync('npm run build', {cwd: root, stdio: 'inherit'});
}
