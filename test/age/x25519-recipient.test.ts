/**
 * cage's X25519 recipient (node's synchronous X25519): its stanzas open with age-encryption's own
 * X25519 identity and with the age CLI, it takes exactly the library's `age1…` X25519 recipients,
 * and it refuses a low-order point as age does.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {bech32} from '@scure/base';
import {Decrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient} from 'age-encryption';
import {afterAll, describe, expect, it} from 'vitest';
import {createHeader} from '../../source/age/header.js';
import {NodeX25519Recipient, x25519PublicKey} from '../../source/age/x25519-recipient.js';
import {encryptRange, payloadKey} from '../../source/age/stream.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cage-x25519-'));
afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

describe('NodeX25519Recipient', () => {
	it('wraps a file key that the library X25519 identity unwraps, every time with a fresh share', async () => {
		const identity = await generateX25519Identity();
		const recipient = await identityToRecipient(identity);
		const shares = new Set<string>();
		for (let round = 0; round < 5; round++) {
			const {header, fileKey} = await createHeader({recipients: [recipient]});
			const text = Buffer.from(header).toString('latin1');
			expect(text).toMatch(/^age-encryption\.org\/v1\n-> X25519 [A-Za-z\d+/]{43}\n[A-Za-z\d+/]{43}\n--- /);
			shares.add(/-> X25519 (\S+)/.exec(text)![1]!);
			const decrypter = new Decrypter();
			decrypter.addIdentity(identity);
			expect(Buffer.from(await decrypter.decryptHeader(header)).equals(Buffer.from(fileKey))).toBe(true);
		}

		expect(shares.size).toBe(5);
	});

	it('takes age1 X25519 recipients only: post-quantum, plugin and malformed ones are left to the library', async () => {
		const recipient = await identityToRecipient(await generateX25519Identity());
		expect(x25519PublicKey(recipient)).toHaveLength(32);
		expect(x25519PublicKey(await identityToRecipient(await generateHybridIdentity()))).toBeUndefined();
		expect(x25519PublicKey(bech32.encodeFromBytes('age1yubikey', new Uint8Array(33)))).toBeUndefined();
		expect(x25519PublicKey(`${recipient.slice(0, -1)}${recipient.endsWith('q') ? 'p' : 'q'}`)).toBeUndefined();
		expect(x25519PublicKey('ssh-ed25519 AAAA')).toBeUndefined();
	});

	it('refuses a low-order point', () => {
		expect(() => new NodeX25519Recipient(new Uint8Array(32)).wrapFileKey(new Uint8Array(16))).toThrow(/low-order point/);
	});

	it.runIf(fs.existsSync('/usr/bin/age'))('writes headers the age CLI opens', async () => {
		const key = path.join(dir, 'key.txt');
		execFileSync('age-keygen', ['-o', key], {stdio: 'ignore'});
		const recipient = execFileSync('age-keygen', ['-y', key]).toString().trim();
		const {header, fileKey, nonce} = await createHeader({recipients: [recipient]});
		const plain = Buffer.from('hello from cage\n');
		const file = path.join(dir, 'x.age');
		fs.writeFileSync(file, Buffer.concat([header, nonce, encryptRange(payloadKey(fileKey, nonce), plain, 0, true)]));
		expect(execFileSync('age', ['-d', '-i', key, file]).toString()).toBe(plain.toString());
	});
});
