/**
 * Which command-line flag a command does not know. meow's own check lets through a misspelling
 * that starts with a real flag and a hyphen: its parser reads `--output-file x` as a known
 * `--output` with a suffix, and the value then lands under a flag nobody reads (`outputFile`), so
 * `cage encrypt big -r age1… --output-file big.age` wrote the ciphertext to stdout and exited 0.
 * The CLI checks every flag here instead, against the names the command declares.
 */
import {UsageError} from './command.js';

type FlagSpec = {type: string; shortFlag?: string; aliases?: string[]};

const kebab = (name: string): string => name.replaceAll(/[A-Z]/g, letter => `-${letter.toLowerCase()}`);

/** Levenshtein distance, for the suggestion. */
function distance(a: string, b: string): number {
	let previous = Array.from({length: b.length + 1}, (_, index) => index);
	for (let i = 1; i <= a.length; i++) {
		const row = [i];
		for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
		previous = row;
	}

	return previous[b.length]!;
}

/**
 * The known name `name` most likely misspells: one within two edits (letter case aside), else the
 * longest one that it extends or that extends it; undefined when none is near.
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
	const extended = known.filter(flag => name.startsWith(flag) || flag.startsWith(name)).sort((a, b) => b.length - a.length)[0];
	const near = known.map(flag => ({flag, cost: distance(name.toLowerCase(), flag.toLowerCase())})).sort((a, b) => a.cost - b.cost)[0];
	return near && near.cost <= 2 ? near.flag : extended;
}

/** ` (did you mean --x?)` for a flag that extends or nearly spells a known one, else ''. */
function suggest(name: string, known: string[]): string {
	const best = nearestName(name, known);
	return best ? ` (did you mean --${best}?)` : '';
}

/**
 * Throws a UsageError naming the first flag in `args` (up to `--`) that `flags` does not declare,
 * with the closest declared name when one is near, and a string or number flag without a value.
 * Long flags may be written `--name=value`, booleans also `--no-name`.
 */
export function checkFlags(args: readonly string[], flags: Readonly<Record<string, FlagSpec>>): void {
	const long = new Map<string, FlagSpec>();
	const short = new Map<string, FlagSpec>();
	for (const [name, spec] of Object.entries(flags)) {
		long.set(kebab(name), spec);
		for (const alias of spec.aliases ?? []) long.set(kebab(alias), spec);
		if (spec.shortFlag) short.set(spec.shortFlag, spec);
	}

	for (let index = 0; index < args.length; index++) {
		const arg = args[index]!;
		if (arg === '--') return;
		if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) continue;
		let spec: FlagSpec | undefined;
		let shown = arg;
		let inline: string | undefined;
		if (arg.startsWith('--')) {
			const [name = '', ...value] = arg.slice(2).split('=');
			if (value.length > 0) inline = value.join('=');
			shown = `--${name}`;
			spec = long.get(name) ?? (name.startsWith('no-') && long.get(name.slice(3))?.type === 'boolean' ? long.get(name.slice(3)) : undefined);
			if (!spec) {
				throw new UsageError(`unknown flag --${name}${suggest(name, [...long.keys()])}`);
			}
		} else {
			// `-fp` is `-f -p`. A value must be its own argument (`-o FILE`): the parser would read
			// `-oFILE` as the flags -o -F -I -L -E.
			for (let at = 1; at < arg.length; at++) {
				spec = short.get(arg[at]!);
				if (!spec) throw new UsageError(`unknown flag -${arg[at]!}`);
				shown = `-${arg[at]!}`;
				if (spec.type !== 'boolean') {
					const rest = arg.slice(at + 1);
					// `-j2` is read as -j 2 (the parser takes an attached number); `-oFILE` is not.
					if (spec.type === 'number' && /^\d+$/.test(rest)) inline = rest;
					else if (rest !== '') throw new UsageError(`write ${shown} ${rest} with a space between the flag and its value`);
					break;
				}
			}
		}

		if (!spec || spec.type === 'boolean') continue;
		if (inline === undefined) {
			// As the parser does: the next argument is the value unless it is a flag (`-` alone and
			// negative numbers are values).
			const next = args[index + 1];
			if (next === undefined || (next.startsWith('-') && next !== '-' && !/^-\d/.test(next))) throw new UsageError(`${shown} needs a value`);
			inline = next;
			index++;
		}

		if (inline === '') throw new UsageError(`${shown} needs a value`);
	}
}
