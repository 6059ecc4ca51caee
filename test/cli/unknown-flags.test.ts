import {describe, expect, it} from 'vitest';
import {UsageError} from '../../source/commands/command.js';
import {checkFlags} from '../../source/commands/unknown-flags.js';

const flags = {
	output: {type: 'string', shortFlag: 'o'},
	outputDir: {type: 'string'},
	recipient: {type: 'string', shortFlag: 'r', isMultiple: true},
	recipientsFile: {type: 'string', shortFlag: 'R', isMultiple: true},
	force: {type: 'boolean', shortFlag: 'f'},
	passphrase: {type: 'boolean', shortFlag: 'p'},
	audit: {type: 'boolean', default: true},
	rate: {type: 'string'},
	jobs: {type: 'number', shortFlag: 'j'},
};

const refusal = (args: string[]): string => {
	try {
		checkFlags(args, flags);
	} catch (error) {
		expect(error).toBeInstanceOf(UsageError);
		return (error as Error).message;
	}

	return 'accepted';
};

describe('checkFlags', () => {
	it('accepts every declared spelling', () => {
		for (const args of [
			['in', '-o', 'out', '-r', 'age1x', '--recipients-file', 'team.txt', '-R', 'more.txt'],
			['--output=out', '--no-audit', '--audit', '--rate', '5MiB', '--jobs=2', '-j', '4'],
			['-fp', '-fo', 'out', '-', '-o', '-'],
			['--rate', '-1', '--jobs=-2', '-o', 'out'],
			['in', '--', '--anything', '-x'],
		]) expect(refusal(args), args.join(' ')).toBe('accepted');
	});

	it('names the unknown flag, with the nearest known one', () => {
		expect(refusal(['--output-file', 'x'])).toBe('unknown flag --output-file (did you mean --output?)');
		expect(refusal(['--recipient-file', 'x'])).toBe('unknown flag --recipient-file (did you mean --recipients-file?)');
		expect(refusal(['--jobz=3'])).toBe('unknown flag --jobz (did you mean --jobs?)');
		expect(refusal(['--frobnicate'])).toBe('unknown flag --frobnicate');
		expect(refusal(['--output-directory', 'x'])).toBe('unknown flag --output-directory (did you mean --output-dir?)');
		expect(refusal(['--no-rate'])).toBe('unknown flag --no-rate');
		expect(refusal(['-x'])).toBe('unknown flag -x');
		expect(refusal(['-fx'])).toBe('unknown flag -x');
		expect(refusal(['-o', 'out', '--bogus'])).toBe('unknown flag --bogus');
	});

	it('a flag that takes a value needs one, as its own argument, as the parser reads it', () => {
		expect(refusal(['-o', '--bogus'])).toBe('-o needs a value');
		expect(refusal(['in', '-o'])).toBe('-o needs a value');
		expect(refusal(['--rate', '--no-audit'])).toBe('--rate needs a value');
		expect(refusal(['--output='])).toBe('--output needs a value');
		expect(refusal(['-o', ''])).toBe('-o needs a value');
		expect(refusal(['-oout.age'])).toBe('write -o out.age with a space between the flag and its value');
		expect(refusal(['-fobig.age'])).toBe('write -o big.age with a space between the flag and its value');
		// An attached number is read as the parser reads it: -j2 is -j 2.
		expect(refusal(['-j2', 'in'])).toBe('accepted');
		expect(refusal(['-jx'])).toBe('write -j x with a space between the flag and its value');
	});
});
