/** Types for `bcrypt-pbkdf` (a port of OpenBSD's bcrypt_pbkdf, which OpenSSH keys use); it ships none. */
declare module 'bcrypt-pbkdf' {
	/** Fills `key` (keylen bytes) from the passphrase and salt; returns 0, or -1 on bad arguments. */
	export function pbkdf(pass: Uint8Array, passlen: number, salt: Uint8Array, saltlen: number, key: Uint8Array, keylen: number, rounds: number): number;
}
