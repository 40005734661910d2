/**
 * The operator console's and the public status page's calls (issue 9): the defence overview
 * (`/api/ops/defence`, operators only), its controls, and the signed status document
 * (`/api/status`, public). They go through the app's client (same origin, CSRF header on POSTs).
 */
import { useEffect, useState } from 'react';
import { client, toApiError, type ApiError } from './api.js';
import type { BrownoutTier } from '../edge/defence/types.js';
import type { DefenceMode, DefenceOverview, EdgeLimits, SignedStatus } from '../ops/defence/api-types.js';
import { canonicalJson } from '../ops/defence/api-types.js';

export type { BrownoutTier, Evidence, RequestClass, Verdict } from '../edge/defence/types.js';
export {
  canonicalJson,
  DEFENCE_MODES,
  type DefenceMode,
  type DefenceOverview,
  type DefenceSeries,
  type EdgeLimits,
  type EdgeOverview,
  type SignedStatus,
  type SpaceOverview,
  type StatusDocument,
} from '../ops/defence/api-types.js';
export { REQUEST_CLASSES } from '../edge/defence/types.js';

const enc = encodeURIComponent;

export const opsApi = {
  /** Whether the signed-in user operates this deployment (401 signed out). */
  access: (): Promise<{ operator: boolean }> => client.request('GET', '/api/ops/access'),
  overview: (): Promise<DefenceOverview> => client.request('GET', '/api/ops/defence'),
  setMode: (mode: DefenceMode): Promise<DefenceOverview> =>
    client.request('POST', '/api/ops/defence/mode', { mode }),
  setLimits: (edgeId: string, limits: EdgeLimits): Promise<DefenceOverview> =>
    client.request('POST', `/api/ops/defence/edges/${enc(edgeId)}/limits`, limits),
  setTierFloor: (edgeId: string, tier: BrownoutTier): Promise<DefenceOverview> =>
    client.request('POST', `/api/ops/defence/edges/${enc(edgeId)}/tier-floor`, { tier }),
  status: (): Promise<SignedStatus> => client.request('GET', '/api/status'),
};

function fromBase64Url(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(s.length / 4) * 4, '=');
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Checks a signed status document with the browser's WebCrypto: true / false, or 'unsupported'
 * when this browser has no Ed25519.
 */
export async function verifyStatus(s: SignedStatus): Promise<boolean | 'unsupported'> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return 'unsupported';
  let key: CryptoKey;
  try {
    key = await subtle.importKey('raw', fromBase64Url(s.publicKey), { name: 'Ed25519' }, false, ['verify']);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'NotSupportedError') return 'unsupported';
    return false;
  }
  try {
    const data = new TextEncoder().encode(canonicalJson(s.document));
    return await subtle.verify({ name: 'Ed25519' }, key, fromBase64Url(s.signature), data);
  } catch {
    return false;
  }
}

/**
 * Whether the signed-in user (by id) is an operator: null while asking or signed out. One answer
 * per user for the whole page load (the header's link and the console share it).
 */
const accessCache = new Map<string, Promise<{ operator: boolean }>>();

export function operatorAccess(userId: string): Promise<{ operator: boolean }> {
  let p = accessCache.get(userId);
  if (!p) {
    p = opsApi.access();
    accessCache.set(userId, p);
    // A failure is not remembered: ask again next time.
    p.catch(() => accessCache.delete(userId));
  }
  return p;
}

export interface OperatorAccessState {
  /** null: not known (signed out, or asking). */
  operator: boolean | null;
  error: ApiError | null;
}

export function useOperatorAccess(userId: string | null): OperatorAccessState {
  const [state, setState] = useState<OperatorAccessState & { userId: string | null }>({
    userId: null,
    operator: null,
    error: null,
  });
  useEffect(() => {
    if (!userId) return;
    let stopped = false;
    operatorAccess(userId).then(
      (a) => !stopped && setState({ userId, operator: !!a.operator, error: null }),
      (err: unknown) => !stopped && setState({ userId, operator: null, error: toApiError(err) }),
    );
    return () => {
      stopped = true;
    };
  }, [userId]);
  if (!userId || state.userId !== userId) return { operator: null, error: null };
  return { operator: state.operator, error: state.error };
}
