import path from 'node:path';

/**
 * A path as the user would type it: relative to the working directory when the file is inside it,
 * else absolute (`../../tmp/x` helps nobody).
 */
export function displayPath(file: string, cwd = process.cwd()): string {
	const relative = path.relative(cwd, file);
	return relative === '' || relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(file) : relative;
}
