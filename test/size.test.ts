import {describe, expect, it} from 'vitest';
import {formatBytes, formatDuration, formatRate, formatSizeArgument, parseSize, SizeError} from '../source/size.js';

describe('parseSize', () => {
	it.each([
		['1048576', 1_048_576],
		['0', 0],
		['64KiB', 64 * 1024],
		['16MiB', 16 * 2 ** 20],
		['1GiB', 2 ** 30],
		['1TiB', 2 ** 40],
		['64K', 64 * 1024],
		['16M', 16 * 2 ** 20],
		['1G', 2 ** 30],
		['1T', 2 ** 40],
		['16m', 16 * 2 ** 20],
		['16mib', 16 * 2 ** 20],
		['512B', 512],
		[' 2 MiB ', 2 * 2 ** 20],
		['1.5K', 1536],
		['16MB', 16_000_000],
		['1kb', 1000],
	])('parses %j as %d bytes', (input, bytes) => {
		expect(parseSize(input)).toBe(bytes);
	});

	it('accepts whole non-negative numbers', () => {
		expect(parseSize(4096)).toBe(4096);
		expect(parseSize(0)).toBe(0);
	});

	it.each(['', 'abc', 'MiB', '-1', '-16M', '1..5M', '16 M iB', '0x10', '1e6', 'NaN'])('rejects %j, naming it and showing valid forms', input => {
		expect(() => parseSize(input)).toThrow(SizeError);
		expect(() => parseSize(input)).toThrow(`'${input}' is not a size (examples: 1048576, 64KiB, 16MiB, 1GiB, 16M)`);
	});

	it.each([
		['16X', 'X'],
		['16Mi', 'Mi'],
		['1EiB', 'EiB'],
		['3 bytes', 'bytes'],
		['5kbit', 'kbit'],
	])('rejects %j with an unknown-unit message naming %j', (input, unit) => {
		expect(() => parseSize(input)).toThrow(`'${input}' has an unknown unit '${unit}' (use B, KiB, MiB, GiB, TiB, or K, M, G, T)`);
	});

	it('rejects negative, fractional and unsafe numbers given as numbers', () => {
		for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
			expect(() => parseSize(bad)).toThrow(SizeError);
			expect(() => parseSize(bad)).toThrow(/is not a size: expected a whole number of bytes/);
		}
	});

	it('rejects sizes too large to count exactly', () => {
		expect(() => parseSize('99999999P')).toThrow(/'99999999P' is too large/);
	});

	it('does not turn a fraction of a byte into bytes', () => {
		expect(() => parseSize('0.5')).toThrow(`'0.5' is not a whole number of bytes`);
		expect(() => parseSize('1.5B')).toThrow(SizeError);
		expect(parseSize('0.5KiB')).toBe(512);
	});
});

describe('formatting', () => {
	it('formats bytes with binary units', () => {
		expect(formatBytes(0)).toBe('0 B');
		expect(formatBytes(1023)).toBe('1023 B');
		expect(formatBytes(1024)).toBe('1.00 KiB');
		expect(formatBytes(1.5 * 2 ** 30)).toBe('1.50 GiB');
		expect(formatBytes(200 * 2 ** 20)).toBe('200 MiB');
	});

	it('formats rates in MiB/s, like sizes and --rate', () => {
		expect(formatRate(123.4 * 2 ** 20)).toBe('123 MiB/s');
		expect(formatRate(1.5 * 2 ** 20)).toBe('1.5 MiB/s');
		expect(formatRate(50 * 2 ** 20)).toBe('50.0 MiB/s');
	});

	it('formats durations', () => {
		expect(formatDuration(4200)).toBe('4.2s');
		expect(formatDuration(185_000)).toBe('3m05s');
		expect(formatDuration(3_720_000)).toBe('1h02m');
		expect(formatDuration(Number.NaN)).toBe('--');
		expect(formatDuration(-1)).toBe('--');
	});
});

describe('formatSizeArgument', () => {
	it.each([
		[50 * 2 ** 20, '50MiB'],
		[2 ** 30, '1GiB'],
		[3 * 2 ** 40, '3TiB'],
		[1536, '1536'],
		[64 * 1024, '64KiB'],
		[1000, '1000'],
		[1, '1'],
	])('%i bytes -> %s, which parseSize reads back', (bytes, text) => {
		expect(formatSizeArgument(bytes)).toBe(text);
		expect(parseSize(formatSizeArgument(bytes))).toBe(bytes);
	});
});
