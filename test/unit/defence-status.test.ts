import { describe, expect, it } from 'vitest';
import { canonicalJson, signStatus, statusKeys, verifyStatus } from '../../src/ops/defence/status.js';

describe('signed status document', () => {
  const keys = statusKeys(Buffer.from('a deployment secret'));
  const doc = { verdict: 'crowd', atMs: 1_700_000_000_000, spaces: { up: true, live: 3 }, evidence: ['x'] };

  it('canonical JSON sorts keys at every level and has no spaces', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('verifies with the public key; the same secret gives the same key on every origin', () => {
    const s = signStatus(keys, doc);
    expect(s.alg).toBe('Ed25519');
    expect(verifyStatus(s.document, s.signature, s.publicKey)).toBe(true);
    // Key order does not matter (canonical form): a copy with every key order reversed verifies.
    const reversed = (v: unknown): unknown =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v)
              .reverse()
              .map(([k, x]) => [k, reversed(x)]),
          )
        : v;
    const copy = reversed(doc) as typeof doc;
    expect(Object.keys(copy)).toEqual(Object.keys(doc).reverse());
    expect(verifyStatus(copy, s.signature, s.publicKey)).toBe(true);
    expect(statusKeys(Buffer.from('a deployment secret')).publicKeyB64).toBe(s.publicKey);
  });

  it('a forged document, signature or key does not verify (and never throws)', () => {
    const s = signStatus(keys, doc);
    expect(verifyStatus({ ...doc, verdict: 'attack' }, s.signature, s.publicKey)).toBe(false);
    expect(verifyStatus({ ...doc, spaces: { up: false, live: 3 } }, s.signature, s.publicKey)).toBe(false);
    const flipped = (s.signature[0] === 'A' ? 'B' : 'A') + s.signature.slice(1);
    expect(verifyStatus(doc, flipped, s.publicKey)).toBe(false);
    const other = statusKeys(Buffer.from('another secret'));
    expect(verifyStatus(doc, signStatus(other, doc).signature, s.publicKey)).toBe(false);
    expect(verifyStatus(doc, 'not base64 !!', s.publicKey)).toBe(false);
    expect(verifyStatus(doc, s.signature, 'short')).toBe(false);
    expect(verifyStatus(null, s.signature, s.publicKey)).toBe(false);
    expect(verifyStatus(doc, 42, s.publicKey)).toBe(false);
  });
});
