/**
 * Looking at the start of a stream before its consumer does: a decryption of stdin tells from the
 * age header whether to ask for a passphrase, before its job (and its dashboard) starts.
 */
import type {Readable} from 'node:stream';

/**
 * The first `length` bytes of `stream` (fewer when it ends sooner), put back so that whoever reads
 * the stream next reads them again, from its first byte.
 */
export async function peekStream(stream: Readable, length: number): Promise<Buffer> {
	return new Promise<Buffer>((resolve, reject) => {
		const finish = (error: Error | undefined, head?: Buffer) => {
			stream.off('readable', attempt);
			stream.off('end', ended);
			stream.off('error', finish);
			if (error) reject(error);
			else resolve(head!);
		};

		// `read(length)` gives `length` bytes once they are buffered, or at the end what is left;
		// they are put back at once, before the stream could emit `end` (no unshift after it).
		// One listener for the whole wait: adding a 'readable' listener while bytes are buffered
		// emits 'readable' again, so adding one per attempt would spin.
		function attempt() {
			const chunk = stream.read(length) as Buffer | string | null;
			if (chunk !== null) {
				stream.unshift(chunk);
				finish(undefined, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
			} else if (stream.readableEnded || stream.destroyed) {
				finish(undefined, Buffer.alloc(0));
			}
		}

		const ended = () => finish(undefined, Buffer.alloc(0));
		stream.on('readable', attempt);
		stream.on('end', ended);
		stream.on('error', finish);
		attempt();
	});
}

/**
 * The start of `stream`, put back like peekStream's, as soon as `enough` says it tells what the
 * caller needs (or the stream ends, or `max` bytes are there): a writer that sends a few bytes
 * and then waits is not waited for beyond them.
 */
export async function peekUntil(stream: Readable, enough: (head: Buffer) => boolean, max: number): Promise<Buffer> {
	for (let length = 1; ; length = Math.min(max, length * 2)) {
		const head = await peekStream(stream, length);
		if (head.length < length || length >= max || enough(head)) return head;
	}
}
