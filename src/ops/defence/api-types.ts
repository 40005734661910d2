/**
 * What the operator console and the public status page read (src/web/ops-api.ts) and the origin
 * writes (center.ts, status.ts, routes.ts): one definition for both sides. Pure: no Node imports,
 * so the web app bundles it.
 */
import type { BrownoutTier, Evidence, RequestClass, Verdict } from '../../edge/defence/types.js';

/** Under-attack mode as the operator set it ('auto': on while the verdict is attack or mixed). */
export type DefenceMode = 'off' | 'on' | 'auto';
export const DEFENCE_MODES: readonly DefenceMode[] = ['off', 'on', 'auto'];

export interface EdgeLimits {
  maxListeners: number;
  joinsPerSec: number;
}

export interface EdgeOverview {
  edgeId: string;
  lastSeenMs: number;
  /** 0..1 */
  cpu: number;
  tier: BrownoutTier;
  tierFloor: BrownoutTier;
  limits: EdgeLimits;
  admitted: number;
  queue: number;
}

export interface SpaceOverview {
  spaceId: string;
  title: string;
  listeners: number;
}

/** One point per second over the last 5 minutes, every array aligned on `t` (unix seconds). */
export interface DefenceSeries {
  t: number[];
  /** Requests per second by class. */
  classes: Record<RequestClass, number[]>;
  /** Distinct clients (all edges). */
  clients: number[];
  /** 0 normal, 1 crowd, 2 mixed, 3 attack. */
  verdict: number[];
  listenersBySpace: Record<string, number[]>;
  listenersByEdge: Record<string, number[]>;
  joinsPerSec: number[];
  admittedPerSec: number[];
  queue: number[];
  joinsBySpace: Record<string, number[]>;
  /** 0..1 */
  cpuByEdge: Record<string, number[]>;
  tierByEdge: Record<string, number[]>;
}

export interface DefenceOverview {
  atMs: number;
  mode: DefenceMode;
  /** In force now: mode on, or auto with an attack/mixed verdict. */
  underAttack: boolean;
  verdict: { verdict: Verdict; sinceMs: number; evidence: Evidence[] };
  edges: EdgeOverview[];
  spaces: SpaceOverview[];
  series: DefenceSeries;
}

export interface StatusDocument {
  deployment: string;
  atMs: number;
  verdict: Verdict;
  verdictSinceMs: number;
  evidence: string[];
  underAttack: boolean;
  brownoutTier: number;
  spaces: { live: number; up: boolean };
  edges: { reporting: number };
}

export interface SignedStatus<D = StatusDocument> {
  document: D;
  /** base64url Ed25519 signature over canonicalJson(document). */
  signature: string;
  alg: 'Ed25519';
  /** base64url raw 32-byte public key (also at GET /api/status/key). */
  publicKey: string;
}

/** The JSON the status signature covers: object keys sorted (recursively), no spaces. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}
