/**
 * Bytes in and out of `age-encryption` without `Response`. Given bytes, the library's `encrypt`
 * and `decrypt` collect their output with `new Response(stream)`, which loads node's fetch
 * implementation (undici): 25–30 ms of every job's start, for a few hundred bytes. Given a stream
 * they return one, which `collect` reads directly.
 */

/** A stream of `bytes` (empty: a stream that ends at once). */
export function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
	return new ReadableStream<Uint8Array>({
		start(controller) {
			if (bytes.length > 0) controller.enqueue(bytes);
			controller.close();
		},
	});
}

/** All the bytes of a stream. */
export async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
	const reader = stream.getReader();
	const parts: Uint8Array[] = [];
	for (let next = await reader.read(); !next.done; next = await reader.read()) parts.push(next.value);
	const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
	let at = 0;
	for (const part of parts) {
		all.set(part, at);
		at += part.length;
	}

	return all;
}
