/**
 * `cage inspect` on files the real age CLI made: the facts age-inspect gives (computed here
 * independently from the bytes), for binary and armored files, a file and stdin, and with -i the
 * identity that opens it and the last block authenticated (a cut or extended file refused).
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {Readable} from 'node:stream';
import {armor} from 'age-encryption';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {factsOf, gatherAgeFile} from '../../source/age/inspect.js';
import {cage, makeSandbox, writeRandomFile} from '../helpers/cage.js';

const sandbox = makeSandbox();
const {env, dir} = sandbox;
afterAll(() => sandbox.cleanup());
const key = path.join(dir, 'key.txt');
const other = path.join(dir, 'other.txt');
let recipient = '';
beforeAll(() => {
	execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
	execFileSync('age-keygen', ['-o', other], {stdio: 'ignore'});
	recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
});

/** The facts of a binary age file, worked out from its bytes. */
function expected(binary: Buffer, plainSize: number) {
	const header = binary.indexOf('\n', binary.indexOf('\n---') + 1) + 1;
	const blocks = Math.max(1, Math.ceil(plainSize / 65_536));
	return {header, overhead: 16 + blocks * 16, payload: plainSize};
}

type Json = {version: string; postquantum: string; armor: boolean; stanza_types: string[]; sizes: {header: number; armor: number; overhead: number; min_payload: number; max_payload: number}; file_size: number; last_block: string; identity?: string | null};

describe.runIf(fs.existsSync('/usr/bin/age'))('cage inspect', () => {
	for (const size of [0, 1, 65_536, 65_537, 200_000]) {
		it(`${size} bytes, binary and armored, file and stdin: age-inspect's facts`, () => {
			const plain = path.join(dir, `p${size}`);
			writeRandomFile(plain, size);
			const binary = `${plain}.age`;
			execFileSync('age', ['-r', recipient, '-R', path.join(dir, 'ssh.pub'), '-o', binary, plain]);
			execFileSync('age', ['-a', '-r', recipient, '-o', `${plain}.armored.age`, plain]);
			const bytes = fs.readFileSync(binary);
			const want = expected(bytes, size);
			const run = cage(['inspect', binary, '--json'], {env});
			expect(run.stderr).toBe('');
			const facts = JSON.parse(run.stdout) as Json;
			expect(facts).toMatchObject({version: 'age-encryption.org/v1', postquantum: 'no', armor: false, stanza_types: ['X25519', 'ssh-ed25519'], file_size: bytes.length, last_block: 'unchecked'});
			expect(facts.sizes).toMatchObject({header: want.header, armor: 0, overhead: want.overhead, min_payload: size, max_payload: size});
			expect(facts.sizes.header + facts.sizes.overhead + facts.sizes.min_payload).toBe(bytes.length);
			expect(JSON.parse(cage(['inspect', '--json'], {env, input: bytes}).stdout)).toEqual(facts);

			const armoredText = fs.readFileSync(`${plain}.armored.age`);
			const armored = JSON.parse(cage(['inspect', `${plain}.armored.age`, '--json'], {env}).stdout) as Json;
			const decoded = Buffer.from(armor.decode(armoredText.toString('latin1')));
			expect(armored).toMatchObject({armor: true, stanza_types: ['X25519'], file_size: armoredText.length});
			expect(armored.sizes).toMatchObject({header: expected(decoded, size).header, armor: armoredText.length - decoded.length, overhead: want.overhead, min_payload: size});
			expect(JSON.parse(cage(['inspect', '--json', '-'], {env, input: armoredText}).stdout)).toEqual(armored);
		});
	}

	beforeAll(() => {
		execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'ssh')]);
	});

	it('says which identity opens it, checks the last block, and refuses a cut or extended file', () => {
		const plain = path.join(dir, 'p200000');
		const file = `${plain}.age`;
		const opened = JSON.parse(cage(['inspect', file, '--json', '-i', other, '-i', key], {env}).stdout) as Json;
		expect(opened).toMatchObject({identity: key, last_block: 'authenticated'});
		const bySsh = cage(['inspect', file, '-i', path.join(dir, 'ssh')], {env});
		expect(bySsh.stdout).toContain(`It opens with -i ${path.join(dir, 'ssh')}; its last block authenticates`);
		const none = cage(['inspect', file, '-i', other], {env});
		expect(none.status).toBe(1);
		expect(none.stderr).toBe(`cage inspect: ${file}: none of the identity files given (${other}) opens it\n`);
		const bytes = fs.readFileSync(file);
		// Cut at a block boundary the length still looks whole: only the key tells.
		const cut = path.join(dir, 'cut.age');
		fs.writeFileSync(cut, bytes.subarray(0, bytes.length - (200_000 - 3 * 65_536) - 16));
		expect(cage(['inspect', cut, '--json'], {env}).status).toBe(0);
		const cutChecked = cage(['inspect', cut, '-i', key], {env});
		expect(cutChecked.status).toBe(1);
		expect(cutChecked.stderr).toContain(`${cut}: its last block (block 2) does not authenticate as the final block`);
		const extended = path.join(dir, 'extended.age');
		fs.writeFileSync(extended, Buffer.concat([bytes, Buffer.from('x')]));
		expect(cage(['inspect', extended, '-i', key], {env}).stderr).toContain('its last block (block 3) does not authenticate');
	});

	it('says what is wrong with a file that is not an age file', () => {
		const text = path.join(dir, 'text.txt');
		fs.writeFileSync(text, 'hello\n');
		const run = cage(['inspect', text], {env});
		expect(run.status).toBe(1);
		expect(run.stderr).toBe(`cage inspect: ${text} is not an age file (it does not start with "age-encryption.org/v1")\n`);
		const cut = path.join(dir, 'cut-header.age');
		fs.writeFileSync(cut, fs.readFileSync(path.join(dir, 'p1.age')).subarray(0, 60));
		expect(cage(['inspect', cut], {env}).stderr).toBe(`cage inspect: ${cut} is truncated inside its age header\n`);
	});

	it('reads a stream arriving in small pieces the same way (post-quantum and scrypt facts too)', async () => {
		const pq = path.join(dir, 'pq.txt');
		cage(['keygen', '--pq', '-o', pq], {env});
		const pqRecipient = cage(['keygen', '-y', pq], {env}).stdout.trim();
		const plain = path.join(dir, 'p65537');
		expect(cage(['encrypt', '-a', '-r', pqRecipient, plain, '-o', `${plain}.pq.age`, '--progress', 'none', '--no-audit'], {env}).status).toBe(0);
		const text = fs.readFileSync(`${plain}.pq.age`);
		const pieces = Array.from({length: Math.ceil(text.length / 7)}, (_, index) => text.subarray(index * 7, index * 7 + 7));
		const facts = factsOf(await gatherAgeFile(null, Readable.from(pieces), 'pieces'), false);
		expect(facts).toMatchObject({armor: true, postquantum: 'yes', stanza_types: ['mlkem768x25519'], file_size: text.length});
		expect(facts.sizes.min_payload).toBe(65_537);
		expect(JSON.parse(cage(['inspect', `${plain}.pq.age`, '--json'], {env}).stdout)).toEqual(JSON.parse(JSON.stringify(facts)));
		const scrypt = path.join(dir, 'scrypt.age');
		expect(cage(['encrypt', '-p', plain, '-o', scrypt, '--progress', 'none', '--no-audit'], {env: {...env, CAGE_PASSPHRASE: 'inspect me please'}}).status).toBe(0);
		expect(JSON.parse(cage(['inspect', scrypt, '--json'], {env}).stdout)).toMatchObject({postquantum: 'yes', stanza_types: ['scrypt']});
	});
});
