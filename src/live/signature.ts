/** Signing of edge reports: hex HMAC-SHA256 over the raw body, checked in constant time. */
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The key edges sign reports with, derived from the Space-token secret (TRIBUNE_TOKEN_SECRET) so an
 * edge needs one secret only, and a report signature can never double as a token MAC.
 */
export function deriveEdgeSecret(tokenSecret: Buffer): Buffer {
  if (tokenSecret.length === 0) throw new Error('the token secret must not be empty');
  return createHmac('sha256', tokenSecret).update('tribune edge report v1').digest();
}

export function signReport(edgeSecret: Buffer, rawBody: Buffer | string): string {
  return createHmac('sha256', edgeSecret).update(rawBody).digest('hex');
}

/** True when `signature` is the hex HMAC of `rawBody`. Never throws. */
export function verifyReportSignature(
  edgeSecret: Buffer,
  rawBody: Buffer,
  signature: string | string[] | undefined,
): boolean {
  if (typeof signature !== 'string' || !/^[0-9a-fA-F]{64}$/.test(signature)) return false;
  const expected = createHmac('sha256', edgeSecret).update(rawBody).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}
