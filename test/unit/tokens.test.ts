import { describe, expect, it } from 'vitest';
import { bearer, TokenSigner } from '../../src/origin/tokens.js';

describe('TokenSigner', () => {
  const signer = new TokenSigner(Buffer.from('s3cret'));
  const token = signer.sign({ s: 'space1', r: 'host', i: 1 });

  it('round-trips claims', () => {
    expect(signer.verify(token)).toEqual({ s: 'space1', r: 'host', i: 1 });
  });

  it('refuses forged, truncated and foreign tokens', () => {
    const [body, sig] = token.split('.') as [string, string];
    const forgedBody = Buffer.from(JSON.stringify({ s: 'space1', r: 'host', i: 2 })).toString('base64url');
    expect(signer.verify(`${forgedBody}.${sig}`)).toBeNull();
    expect(signer.verify(`${body}.${sig.slice(0, -2)}`)).toBeNull();
    expect(signer.verify(body)).toBeNull();
    expect(signer.verify(`${body}.${sig}.x`)).toBeNull();
    expect(signer.verify('')).toBeNull();
    expect(signer.verify(undefined)).toBeNull();
    expect(signer.verify('x'.repeat(10_000))).toBeNull();
    expect(new TokenSigner(Buffer.from('other')).verify(token)).toBeNull();
  });

  it('refuses a validly signed body with the wrong shape', () => {
    const odd = signer.sign({ s: 'a', r: 'admin', i: 1 } as never);
    expect(signer.verify(odd)).toBeNull();
  });

  it('parses bearer headers', () => {
    expect(bearer('Bearer abc')).toBe('abc');
    expect(bearer('bearer abc')).toBe('abc');
    expect(bearer('Basic abc')).toBeUndefined();
    expect(bearer(undefined)).toBeUndefined();
  });
});
