/**
 * The CLI's first import (before meow, the age library and the rest are loaded and run): starts
 * the age worker threads at once when the command is an encryption, a decryption or a resume, so
 * they boot in parallel with everything else. See age/warm-workers.ts.
 */
import process from 'node:process';
import {warmForArgv} from './age/warm-workers.js';
import {defaultSettings, readSettings} from './config.js';

let jobs = defaultSettings.jobs;
try {
	jobs = readSettings().jobs;
} catch {
	// An invalid config file is reported by the command itself; warm the default meanwhile.
}

try {
	warmForArgv(process.argv.slice(2), jobs);
} catch {
	// No worker script (a broken build): the pool reports it as a one-line error when the job starts.
}
