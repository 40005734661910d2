/**
 * The public status document, signed so that it can be quoted: anyone holding the deployment's
 * public key (`GET /api/status/key`, also in every document) can check that a copy says what the
 * deployment said. Ed25519 over the canonical JSON of the document (keys sorted, no spaces). The
 * key pair is derived from the token secret, so every origin of a deployment signs alike.
 */
import { canonicalJson, type SignedStatus } from './api-types.js';
import { createHmac, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
/** SPKI DER prefix of an Ed25519 public key; the 32-byte key follows. */
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

export interface StatusKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The raw 32-byte public key, base64url. */
  publicKeyB64: string;
}

export function statusKeys(tokenSecret: Buffer): StatusKeys {
  const seed = createHmac('sha256', tokenSecret).update('tribune status document v1').digest();
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey);
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519.length);
  return { privateKey, publicKey, publicKeyB64: Buffer.from(raw).toString('base64url') };
}

export { canonicalJson } from './api-types.js';

export function signStatus<D>(keys: StatusKeys, document: D): SignedStatus<D> {
  const signature = sign(null, Buffer.from(canonicalJson(document)), keys.privateKey).toString('base64url');
  return { document, signature, alg: 'Ed25519', publicKey: keys.publicKeyB64 };
}

/**
 * True when `signature` (base64url) is `publicKey`'s over `document`; the key raw base64url (a
 * copy's), or a KeyObject (the deployment's own). Never throws.
 */
export function verifyStatus(document: unknown, signature: unknown, publicKey: string | KeyObject): boolean {
  if (
    typeof signature !== 'string' ||
    signature.length > 200 ||
    document === null ||
    typeof document !== 'object'
  )
    return false;
  try {
    let key: KeyObject;
    if (typeof publicKey === 'string') {
      const raw = Buffer.from(publicKey, 'base64url');
      if (raw.length !== 32) return false;
      key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: 'der', type: 'spki' });
    } else key = publicKey;
    const sig = Buffer.from(signature, 'base64url');
    if (sig.length !== 64) return false;
    return verify(null, Buffer.from(canonicalJson(document)), key, sig);
  } catch {
    return false;
  }
}
