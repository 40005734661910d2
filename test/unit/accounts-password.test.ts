import { describe, expect, it } from 'vitest';
import {
  hashPassword,
  needsRehash,
  parseHash,
  SCRYPT_PARAMS,
  verifyPassword,
} from '../../src/accounts/password.js';
import { TribuneError } from '../../src/errors.js';

describe('password hashing', () => {
  it('round-trips and refuses a wrong password', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('writes scrypt$N$r$p$salt$hash with a fresh 16-byte salt and a 32-byte key', async () => {
    const a = await hashPassword('same password');
    const b = await hashPassword('same password');
    expect(a).not.toBe(b);
    const parts = a.split('$');
    expect(parts).toHaveLength(6);
    expect(parts.slice(0, 4)).toEqual(['scrypt', '16384', '8', '1']);
    expect(Buffer.from(parts[4]!, 'base64url')).toHaveLength(16);
    expect(Buffer.from(parts[5]!, 'base64url')).toHaveLength(32);
    expect(parts[4]).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(parts[5]).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(needsRehash(a)).toBe(false);
  });

  it('normalises Unicode so composed and decomposed forms match', async () => {
    const stored = await hashPassword('caf\u00e9 au lait');
    expect(await verifyPassword('cafe\u0301 au lait', stored)).toBe(true);
  });

  it('refuses passwords outside 8..200 characters', async () => {
    await expect(hashPassword('1234567')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(hashPassword('x'.repeat(201))).rejects.toBeInstanceOf(TribuneError);
    await expect(hashPassword('12345678')).resolves.toMatch(/^scrypt\$/);
    // Length counts characters (code points), not UTF-16 units: 200 emoji are allowed.
    await expect(hashPassword('\u{1F600}'.repeat(200))).resolves.toMatch(/^scrypt\$/);
  });

  it('returns false for tampered or malformed stored strings', async () => {
    const stored = await hashPassword('hunter2hunter2');
    const parts = stored.split('$');
    const flip = (s: string): string => {
      const buf = Buffer.from(s, 'base64url');
      buf[0] = buf[0]! ^ 1;
      return buf.toString('base64url');
    };
    const tampered = [
      [...parts.slice(0, 5), flip(parts[5]!)].join('$'), // hash
      [...parts.slice(0, 4), flip(parts[4]!), parts[5]].join('$'), // salt
      ['scrypt', '8192', ...parts.slice(2)].join('$'), // N
      ['scrypt', '16384', '4', ...parts.slice(3)].join('$'), // r
      ['bcrypt', ...parts.slice(1)].join('$'),
      parts.slice(0, 5).join('$'),
      `${stored}$extra`,
      ['scrypt', '16383', ...parts.slice(2)].join('$'), // N not a power of two
      ['scrypt', String(2 ** 24), ...parts.slice(2)].join('$'), // N beyond bounds (no 2 GiB allocation)
      ['scrypt', '016384', ...parts.slice(2)].join('$'),
      [...parts.slice(0, 5), `${parts[5]}!`].join('$'),
      '',
    ];
    for (const t of tampered) {
      expect(await verifyPassword('hunter2hunter2', t), t).toBe(false);
    }
    expect(await verifyPassword('hunter2hunter2', stored)).toBe(true);
  });

  it('reads the parameters from the stored string, so they can be raised later', async () => {
    // A hash made elsewhere with other parameters (N=1024, r=4, p=2, 24-byte key).
    const { scryptSync, randomBytes } = await import('node:crypto');
    const salt = randomBytes(16);
    const key = scryptSync('old parameters', salt, 24, { N: 1024, r: 4, p: 2 });
    const stored = `scrypt$1024$4$2$${salt.toString('base64url')}$${key.toString('base64url')}`;
    expect(parseHash(stored)).toMatchObject({ N: 1024, r: 4, p: 2 });
    expect(await verifyPassword('old parameters', stored)).toBe(true);
    expect(await verifyPassword('other password', stored)).toBe(false);
    expect(needsRehash(stored)).toBe(true);
    expect(SCRYPT_PARAMS).toEqual({ N: 16384, r: 8, p: 1 });
  });
});
