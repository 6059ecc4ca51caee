import {PassThrough} from 'node:stream';
import {describe, expect, it} from 'vitest';
import {JobEmitter} from '../../source/chunker/emitter.js';
import {defaultSettings} from '../../source/config.js';
import type {Io} from '../../source/commands/command.js';
import {ControlProxy} from '../../source/jobs/control-proxy.js';
import {runSession} from '../../source/session/session.js';
import '../../source/telemetry/register-detectors.js';

const MiB = 2 ** 20;

describe('detectors session extension', () => {
	it('raises anomalies in a non-dashboard session too (they reach the JSON reporter)', async () => {
		const stderr = new PassThrough();
		let text = '';
		stderr.on('data', (data: Buffer) => (text += data.toString('utf8')));
		const io = {stdin: new PassThrough(), stdout: new PassThrough(), stderr} as unknown as Io;
		const emitter = new JobEmitter();
		const {exitCode} = await runSession(
			{io, progress: 'json', settings: {...defaultSettings, slowChunkFactor: 3}, auditLog: null, command: 'test'},
			emitter,
			new ControlProxy(),
			async () => {
				emitter.send({type: 'job:start', kind: 'hash', source: null, output: null, size: 10 * MiB, chunkSize: MiB, chunks: 10, chunksDone: 0, bytesDone: 0, jobs: 1, pid: 1, resumed: false});
				for (let id = 0; id < 8; id++) {
					emitter.send({type: 'chunk:start', chunk: id, start: id * MiB, size: MiB, attempt: 1});
					emitter.send({type: 'chunk:done', chunk: id, start: id * MiB, size: MiB, durationMs: id === 6 ? 4000 : 1000, attempt: 1, bytesDone: (id + 1) * MiB});
					await Promise.resolve();
				}

				emitter.send({type: 'job:done', outcome: 'completed', bytesDone: 8 * MiB, durationMs: 11_000});
				return {outcome: 'completed' as const};
			},
		);
		expect(exitCode).toBe(0);
		const events = text
			.split('\n')
			.filter(Boolean)
			.map(line => JSON.parse(line) as {type: string; code?: string; chunk?: number});
		const anomalies = events.filter(event => event.type === 'anomaly');
		expect(anomalies).toHaveLength(1);
		expect(anomalies[0]).toMatchObject({code: 'slow-chunk', chunk: 6});
	});
});
