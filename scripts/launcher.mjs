#!/usr/bin/env node
// Replaces the `#!/usr/bin/env node` line of dist/cli.js with a launcher that is both a shell
// script and JavaScript (see source/cli.tsx for why): /bin/sh runs line 2 — `:` is the shell's
// no-op builtin, then exec — while node reads a string statement and a comment. Done after tsc,
// which would otherwise rewrite line 2.
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');
const text = fs.readFileSync(cli, 'utf8');
const shebang = '#!/usr/bin/env node\n';
if (!text.startsWith(shebang)) throw new Error(`${cli} does not start with ${shebang.trim()}`);
const launcher = '#!/bin/sh\n":" //; exec env MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-268435456}" node "$0" "$@"\n';
fs.writeFileSync(cli, launcher + text.slice(shebang.length), {mode: 0o755});
