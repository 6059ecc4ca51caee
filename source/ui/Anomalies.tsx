import {Text} from 'ink';
import {clock, fit} from './format.js';
import {Pane, type ScrollPaneProps} from './Pane.js';

type Props = ScrollPaneProps;

/** Anomalies, newest first, coloured by severity; scrolls when focused. */
export function Anomalies({job, theme, width, height, focused = false, scroll = 0, filter = ''}: Props) {
	const inner = Math.max(1, width - 4);
	const rows = Math.max(1, height - 2);
	const needle = filter.toLowerCase();
	const {anomalyCounts} = job;
	const anomalies = needle ? job.anomalies.filter(anomaly => `${anomaly.severity} ${anomaly.code}: ${anomaly.message}`.toLowerCase().includes(needle)) : job.anomalies;
	const offset = Math.max(0, Math.min(scroll, anomalies.length - rows));
	const shown = anomalies.slice(offset, offset + rows);
	const total = anomalyCounts.info + anomalyCounts.warn + anomalyCounts.error;
	const title = `Anomalies ${total}${anomalyCounts.error ? ` · ${anomalyCounts.error} error` : ''}${anomalyCounts.warn ? ` · ${anomalyCounts.warn} warn` : ''}${needle ? ` · ${anomalies.length} matching` : ''}${offset > 0 ? ` · +${offset} newer` : ''}`;
	return (
		<Pane title={title} width={width} height={height} theme={theme} focused={focused}>
			{shown.length === 0 ? <Text color={theme.pane.muted}>{needle ? 'none matching' : 'none'}</Text> : null}
			{shown.map(anomaly => (
				<Text key={`${anomaly.seq}-${anomaly.code}`} wrap="truncate">
					<Text color={theme.pane.muted}>{clock(anomaly.ts)} </Text>
					<Text bold color={theme.severity[anomaly.severity]}>
						{anomaly.severity.toUpperCase().padEnd(5)}
					</Text>
					<Text color={theme.pane.text}>{fit(`${anomaly.code}: ${anomaly.message}`, Math.max(1, inner - 15))}</Text>
				</Text>
			))}
		</Pane>
	);
}
