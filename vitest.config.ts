import {defineConfig} from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.{ts,tsx}'],
		globalSetup: ['test/helpers/global-setup.ts'],
		testTimeout: 60_000,
		hookTimeout: 60_000,
		// Terminal (tmux) and interop tests start real processes; keep parallelism modest on 2 cores.
		maxWorkers: 2,
		env: {FORCE_COLOR: '0'},
	},
});
