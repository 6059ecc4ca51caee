import {afterEach, describe, expect, it} from 'vitest';
import {releaseWarmWorkers, takeWarmWorker, warmForArgv, warmLimit} from '../../source/age/warm-workers.js';

function takeAll(): number {
	let count = 0;
	for (let worker = takeWarmWorker(); worker; worker = takeWarmWorker()) {
		count++;
		void worker.terminate();
	}

	return count;
}

describe('warm workers', () => {
	afterEach(() => {
		releaseWarmWorkers();
	});

	it('warms the setting’s number of workers for encrypt, decrypt, resume and verify, at most one per core', () => {
		for (const command of ['encrypt', 'decrypt', 'resume', 'verify']) {
			warmForArgv([command, 'file', '-r', 'age1x'], 1);
			expect(takeAll()).toBe(1);
			warmForArgv([command, 'file', '-r', 'age1x'], 64);
			expect(takeAll()).toBe(warmLimit());
		}
	});

	it('honours --jobs, -j and --jobs= on the command line, within the same limit', () => {
		warmForArgv(['encrypt', 'file', '--jobs', '1'], 3);
		expect(takeAll()).toBe(1);
		warmForArgv(['decrypt', '-j', '64', 'file'], 1);
		expect(takeAll()).toBe(warmLimit());
		warmForArgv(['encrypt', '--jobs=1', 'file'], 3);
		expect(takeAll()).toBe(1);
	});

	it('warms nothing for other commands, help, or a bad --jobs (the command reports it)', () => {
		// A range (decrypt --offset/--length) runs on the main thread.
		for (const argv of [['chunk', 'hash', 'f'], ['watch'], ['keygen'], ['encrypt', '--help'], ['--version'], [], ['decrypt', 'f.age', '--offset', '5'], ['decrypt', 'f.age', '--length=1']]) {
			warmForArgv(argv, 2);
			expect(takeAll()).toBe(0);
		}

		warmForArgv(['encrypt', '--jobs', 'x', 'f'], 1);
		expect(takeAll()).toBe(1);
	});

	it('releases the workers nobody took', () => {
		warmForArgv(['encrypt', 'f'], 2);
		releaseWarmWorkers();
		expect(takeAll()).toBe(0);
	});
});
