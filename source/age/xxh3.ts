/**
 * XXH3-64 (seed 0) over a stream of buffers, for the chunk digests (chunk-digest.ts): from
 * `@node-rs/xxhash`'s native binding where it loads (about 8 GB/s here), else from `hash-wasm`'s
 * WebAssembly build of the same function (about 3 GB/s). Both give the same sum, so a checkpoint
 * written with one is checked with the other.
 */
import {createRequire} from 'node:module';

/** A running XXH3-64 sum. */
export type Xxh3Sum = {update(bytes: Uint8Array): void; digest(): Uint8Array};

type Native = {xxh3: {Xxh3: {withSeed(seed?: bigint): {update(input: Uint8Array): unknown; digest(): bigint}}}};

function native(): (() => Xxh3Sum) | undefined {
	let binding: Native;
	try {
		binding = createRequire(import.meta.url)('@node-rs/xxhash') as Native;
	} catch {
		return undefined;
	}

	return () => {
		const state = binding.xxh3.Xxh3.withSeed(0n);
		return {
			update(bytes) {
				state.update(bytes);
			},
			digest() {
				const sum = Buffer.alloc(8);
				sum.writeBigUInt64BE(state.digest());
				return sum;
			},
		};
	};
}

async function wasm(): Promise<() => Xxh3Sum> {
	// Loaded only when needed: the module carries its WebAssembly inline (260 KB that every cipher
	// worker would otherwise compile at start).
	const {createXXHash3} = await import('hash-wasm');
	const hasher = await createXXHash3(0, 0);
	return () => {
		hasher.init();
		return {
			update(bytes) {
				hasher.update(bytes);
			},
			digest() {
				return hasher.digest('binary');
			},
		};
	};
}

/**
 * A factory of XXH3-64 sums (one sum at a time per factory from the WebAssembly build). `prefer`
 * 'wasm' skips the native binding (tests compare the two).
 */
export async function loadXxh3({prefer = 'native'}: {prefer?: 'native' | 'wasm'} = {}): Promise<{create: () => Xxh3Sum; kind: 'native' | 'wasm'}> {
	const fast = prefer === 'native' ? native() : undefined;
	return fast ? {create: fast, kind: 'native'} : {create: await wasm(), kind: 'wasm'};
}
