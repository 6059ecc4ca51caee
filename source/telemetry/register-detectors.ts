/**
 * Registers the anomaly detectors with every session, whatever the progress mode, so their
 * anomalies reach the plain and JSON reporters and the audit log as well as the dashboard.
 * Imported for its side effect by the CLI.
 */
import {registerSessionExtension} from '../session/session.js';
import {attachDetectors} from './detectors.js';

registerSessionExtension({
	async attach({emitter, options}) {
		const stop = attachDetectors(emitter, {settings: options.settings, sourcePath: options.sourcePath});
		return async () => {
			stop();
		};
	},
});
