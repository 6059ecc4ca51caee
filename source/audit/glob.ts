/**
 * The file patterns `cage watch` accepts: a path, or a glob (`*`, `?`, `[abc]`, `{a,b}`, `**`).
 * chokidar 4+ no longer expands globs, and node 20's `path.matchesGlob` is experimental (it prints
 * a warning), so patterns are compiled here into a base directory to watch and a matcher.
 */
import path from 'node:path';

/** A compiled pattern. */
export type FilePattern = {
	/** The pattern as given. */
	source: string;
	/** The directory to watch: the longest leading part of the path without glob characters. */
	base: string;
	/** True when files may be deeper than the base's direct children (`**`, or a glob in a directory part). */
	recursive: boolean;
	/** True when the pattern is a plain path. */
	literal: boolean;
	/** Does this absolute path match? */
	matches(file: string): boolean;
};

const globCharacters = /[*?[{]/;

/** True when `text` contains glob characters. */
export function isGlob(text: string): boolean {
	return globCharacters.test(text);
}

/**
 * Compile a path or glob, resolved against `cwd`.
 *
 * Whether it is a glob, and where, is read from `pattern` alone (what the user typed): the working
 * directory and a configured path are plain names, so a directory called `proj[1]` or a state
 * directory under `/srv/{a}` neither turns a plain path into a glob nor becomes part of one. A
 * glob's directories before its first glob character are resolved like a path, and matched as
 * the literal text they are. `literal` takes the whole of `pattern` as a path (a configured log).
 */
export function compilePattern(pattern: string, cwd = process.cwd(), {literal = false}: {literal?: boolean} = {}): FilePattern {
	if (literal || !isGlob(pattern)) {
		const absolute = path.resolve(cwd, pattern);
		return {source: pattern, base: path.dirname(absolute), recursive: false, literal: true, matches: file => path.resolve(file) === absolute};
	}

	const parts = pattern.split(path.sep);
	const firstGlob = parts.findIndex(part => isGlob(part));
	const leading = parts.slice(0, firstGlob).join(path.sep);
	const base = path.resolve(cwd, leading === '' && path.isAbsolute(pattern) ? path.sep : leading || '.');
	const recursive = firstGlob < parts.length - 1 || parts[firstGlob]!.includes('**');
	const prefix = [...(base.endsWith(path.sep) ? base : base + path.sep)].map(character => escape(character)).join('');
	const regex = new RegExp(`^${prefix}${globToRegex(parts.slice(firstGlob).join('/'))}$`);
	return {source: pattern, base, recursive, literal: false, matches: file => regex.test(path.resolve(file))};
}

function escape(character: string): string {
	return /[\\^$.*+?()[\]{}|/]/.test(character) ? `\\${character}` : character;
}

/** Translate a glob into a regular expression source (path separators are `/`). */
export function globToRegex(glob: string): string {
	let out = '';
	let braces = 0;
	for (let index = 0; index < glob.length; index++) {
		const character = glob[index]!;
		switch (character) {
			case '*': {
				if (glob[index + 1] === '*') {
					// `**/` matches any number of directories (including none); a lone `**` anything.
					const slash = glob[index + 2] === '/';
					out += slash ? '(?:[^/]*/)*' : '.*';
					index += slash ? 2 : 1;
				} else {
					out += '[^/]*';
				}

				break;
			}

			case '?': {
				out += '[^/]';
				break;
			}

			case '[': {
				const close = glob.indexOf(']', index + 2);
				if (close === -1) {
					out += '\\[';
					break;
				}

				let body = glob.slice(index + 1, close);
				if (body.startsWith('!')) body = `^${body.slice(1)}`;
				out += `[${body.replaceAll('\\', '\\\\')}]`;
				index = close;
				break;
			}

			case '{': {
				braces++;
				out += '(?:';
				break;
			}

			case '}': {
				if (braces > 0) {
					braces--;
					out += ')';
				} else {
					out += '\\}';
				}

				break;
			}

			case ',': {
				out += braces > 0 ? '|' : ',';
				break;
			}

			default: {
				out += escape(character);
			}
		}
	}

	return out + ')'.repeat(braces);
}
