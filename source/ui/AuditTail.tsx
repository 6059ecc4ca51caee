import {Text} from 'ink';
import {clock, fit} from './format.js';
import {Pane, type ScrollPaneProps} from './Pane.js';

type Props = ScrollPaneProps;

/** The latest events as the audit log records them, newest at the bottom; scrolls when focused. */
export function AuditTail({job, theme, width, height, focused = false, scroll = 0, filter = ''}: Props) {
	const inner = Math.max(1, width - 4);
	const rows = Math.max(1, height - 2);
	const needle = filter.toLowerCase();
	const lines = needle ? job.audit.filter(line => line.text.toLowerCase().includes(needle) || line.type.includes(needle)) : job.audit;
	const offset = Math.max(0, Math.min(scroll, lines.length - rows));
	const end = lines.length - offset;
	const shown = lines.slice(Math.max(0, end - rows), end);
	return (
		<Pane title={`Audit tail${needle ? ` · ${lines.length} matching '${filter}'` : ''}${offset > 0 ? ` · ${offset} older` : ''}`} width={width} height={height} theme={theme} focused={focused}>
			{shown.map(line => (
				<Text key={`${line.seq}-${line.type}-${line.ts}`} wrap="truncate">
					<Text color={theme.pane.muted}>
						{clock(line.ts)} #{line.seq}{' '}
					</Text>
					<Text color={line.type === 'anomaly' ? theme.pane.accent : theme.pane.text}>{fit(line.text, Math.max(1, inner - 10 - String(line.seq).length))}</Text>
				</Text>
			))}
		</Pane>
	);
}
