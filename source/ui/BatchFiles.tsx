import {Text} from 'ink';
import {formatBytes} from '../size.js';
import type {BatchFileState, JobView} from '../telemetry/state.js';
import {fit, fitPath} from './format.js';
import {Pane} from './Pane.js';
import type {Theme} from './theme.js';

/** One glyph per file state, distinct without colour. */
export const fileGlyphs: Record<BatchFileState | 'pending', string> = {running: '▶', done: '✓', skipped: '»', failed: '×', interrupted: '‖', pending: '·'};

type Props = {job: JobView; theme: Theme; width: number; height: number};

function stateColour(theme: Theme, state: BatchFileState): string | undefined {
	switch (state) {
		case 'running': {
			return theme.chunk.running;
		}

		case 'done': {
			return theme.chunk.done;
		}

		case 'failed': {
			return theme.chunk.failed;
		}

		default: {
			return theme.chunk.skipped;
		}
	}
}

/**
 * The files of a batch: the latest started (the current one last, marked), each with its state
 * and size, then how many are still to start and their bytes.
 */
export function BatchFiles({job, theme, width, height}: Props) {
	const batch = job.batch!;
	const inner = Math.max(1, width - 4);
	const rows = Math.max(1, height - 2);
	const pending = Math.max(0, batch.total - batch.done - batch.skipped - (batch.current ? 1 : 0));
	const pendingBytes = batch.bytes === null ? null : Math.max(0, batch.bytes - batch.startedBytes);
	const summary = pending > 0 ? `${fileGlyphs.pending} ${pending} pending${pendingBytes === null ? '' : ` · ${formatBytes(pendingBytes)}`}` : '';
	const listed = batch.files.slice(-Math.max(0, rows - (summary ? 1 : 0)));
	const skipped = batch.skipped - batch.failed;
	const title = `Files ${batch.done}/${batch.total}${skipped > 0 ? ` · ${skipped} skip` : ''}${batch.failed > 0 ? ` · ${batch.failed} fail` : ''}`;
	return (
		<Pane title={title} width={width} height={height} theme={theme}>
			{listed.map(file => {
				const size = ` ${formatBytes(file.size)}`;
				const name = fitPath(file.path, Math.max(1, inner - 2 - size.length));
				return (
					<Text key={file.index} wrap="truncate" bold={file.state === 'running'}>
						<Text color={stateColour(theme, file.state)}>{fileGlyphs[file.state]}</Text> <Text color={theme.pane.text}>{name.padEnd(Math.max(0, inner - 2 - size.length))}</Text>
						<Text color={theme.pane.muted}>{file.state === 'skipped' || file.state === 'failed' || file.state === 'interrupted' ? ' '.repeat(size.length) : size}</Text>
					</Text>
				);
			})}
			{summary ? (
				<Text wrap="truncate" color={theme.pane.muted}>
					{fit(summary, inner)}
				</Text>
			) : null}
		</Pane>
	);
}
