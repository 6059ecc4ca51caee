import {cleanup, render} from 'ink-testing-library';
import {afterEach, describe, expect, it} from 'vitest';
import {ChunkGrid} from '../../source/ui/ChunkGrid.js';
import {chunkGlyphs, mapGeometry, mapRows, slowCode, verySlowCode} from '../../source/ui/chunk-map.js';
import {reduceEvents, selectedJob} from '../../source/telemetry/reducer.js';
import {EventScript} from '../telemetry/synthetic.js';
import {MiB, mono} from './fixtures.js';

afterEach(() => {
	cleanup();
});

/** 20 chunks of a 40-chunk job done at 100 ms each, except chunk 3 (300 ms) and 5 (900 ms); 6 failed, 7 skipped. */
function shadedJob() {
	const script = new EventScript();
	script.start({size: 40 * MiB, chunks: 40});
	let bytes = 0;
	for (let id = 0; id < 20; id++) {
		if (id === 6) script.send({type: 'chunk:failed', chunk: 6, start: 6 * MiB, size: MiB, attempt: 2, willRetry: false, error: 'EIO'});
		else if (id === 7) script.send({type: 'chunk:skipped', chunk: 7, start: 7 * MiB, size: MiB, reason: 'test'});
		else bytes = script.chunk(id, MiB, id === 3 ? 300 : id === 5 ? 900 : 100, bytes);
	}

	return selectedJob(reduceEvents(script.events))!;
}

describe('mapGeometry', () => {
	it('makes the cells as large as fit, so few chunks fill the pane', () => {
		const few = mapGeometry(16, 76, 8);
		expect(few.cellWidth * few.perRow).toBeLessThanOrEqual(76);
		expect(mapRows(few)).toBeLessThanOrEqual(8);
		expect(few.cellWidth * few.cellHeight).toBeGreaterThan(8);
		// Each cell gets a share of the pane: not one row over empty ones.
		expect(mapRows(few)).toBeGreaterThanOrEqual(6);
	});

	it('shares cells when the chunks outnumber them', () => {
		const many = mapGeometry(65_536, 76, 4);
		expect(many.perCell).toBe(Math.ceil(65_536 / (76 * 4)));
		expect(many.cells).toBeLessThanOrEqual(76 * 4);
	});
});

describe('ChunkGrid', () => {
	it('shades done chunks by their time against the median; failed and skipped stay distinct without colour', () => {
		const job = shadedJob();
		const {lastFrame} = render(<ChunkGrid job={job} theme={mono} width={44} height={8} frame={0} />);
		const narrow = render(<ChunkGrid job={job} theme={mono} width={62} height={8} frame={0} />).lastFrame()!;
		const frame = lastFrame()!;
		// 40 chunks in 40 x 5: cells of three glyphs and a gap, so that they fill the pane.
		const row = frame.split('\n')[1]!.slice(2, 42);
		const [slow, verySlow] = [chunkGlyphs[slowCode], chunkGlyphs[verySlowCode]];
		expect(row).toBe(`███ ███ ███ ${slow.repeat(3)} ███ ${verySlow.repeat(3)} ××× ░░░ ███ ███ `);
		expect(frame).toContain('median 0.1s');
		expect(narrow).toContain('▓ ≥2×med');
		expect(narrow).toContain('▞ ≥4×');
		expect(render(<ChunkGrid job={job} theme={mono} width={80} height={8} frame={0} />).lastFrame()).toContain('× failed  ░ skipped  ▓ ≥2× median  ▞ ≥4×');
	});

	it('shows the chunk under the cursor: number, bytes, time, attempts', () => {
		const job = shadedJob();
		const {lastFrame, rerender} = render(<ChunkGrid focused job={job} theme={mono} width={100} height={8} frame={0} cursor={5} />);
		expect(lastFrame()).toContain('▸ chunk 5 · bytes 5.00 MiB–6.00 MiB · done · took 0.9s (');
		expect(lastFrame()).toMatch(/× median\) · 1 attempt/);
		rerender(<ChunkGrid focused job={job} theme={mono} width={100} height={8} frame={1} cursor={6} />);
		expect(lastFrame()).toContain('▸ chunk 6 · bytes 6.00 MiB–7.00 MiB · failed · 2 attempts');
		// Not focused: no cursor line.
		rerender(<ChunkGrid job={job} theme={mono} width={100} height={8} frame={2} cursor={6} />);
		expect(lastFrame()).not.toContain('▸');
	});
});
