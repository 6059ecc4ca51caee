/**
 * Plugs the audit logger into every job session (imported for its side effect by the CLI): when
 * the session has an audit log path (`--no-audit` gives none), the job's events are appended to it.
 */
import {registerSessionExtension} from '../session/session.js';
import {AuditLogger} from './logger.js';

registerSessionExtension({
	async attach({emitter, options}) {
		if (options.auditLog === null) return undefined;
		const logger = new AuditLogger({path: options.auditLog, maxBytes: options.settings.auditMaxBytes, keep: options.settings.auditKeep});
		const detach = logger.attach(emitter);
		return async () => {
			detach();
			logger.close();
		};
	},
});
