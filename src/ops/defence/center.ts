/**
 * The origin's view of the edges' defences: every edge's report brings a telemetry window
 * (src/edge/defence/telemetry.ts); once a second the center merges the windows of all edges into
 * one point of the console's time series, asks the classifier for a verdict (crowd, attack, mixed
 * or normal) and its evidence, and answers each report with the orders for that edge: under-attack
 * mode (the operator's switch, or the classifier's in automatic mode), a brownout floor, capacity.
 *
 * The operator's settings are kept in `<dataDir>/defence.json` (written atomically, read again
 * when it changes): several origins sharing a data directory share them. With several origins each
 * one sees every edge's report (they are shared over Redis), so each computes the same verdict.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { EdgeReport } from '../../live/types.js';
import {
  REQUEST_CLASSES,
  type BrownoutTier,
  type DefenceControl,
  type DefenceWindow,
  type Evidence,
  type RequestClass,
  type Verdict,
  VERDICT_CODE,
} from '../../edge/defence/types.js';
import { Classifier } from './classifier.js';
import { registerDefenceMetrics } from './metrics.js';
import {
  DEFENCE_MODES,
  type DefenceMode,
  type DefenceOverview,
  type SignedStatus,
  type StatusDocument,
} from './api-types.js';
import { signStatus, statusKeys, verifyStatus, type StatusKeys } from './status.js';

export { DEFENCE_MODES, type DefenceMode } from './api-types.js';

/** Console history: one point a second. */
const SERIES_POINTS = 300;
/** An edge that has not reported for this long is no longer listed (its history stays). */
const EDGE_STALE_MS = 10_000;
/** An edge silent this long is forgotten (its history stays in the series). */
const EDGE_FORGOTTEN_MS = 10 * 60_000;
/** Most Spaces and edges in the series (the busiest). */
const SERIES_KEYS_MAX = 12;

interface Settings {
  mode: DefenceMode;
  limits: Record<string, { maxListeners: number; joinsPerSec: number }>;
  tierFloors: Record<string, BrownoutTier>;
}

interface EdgeState {
  lastSeenMs: number;
  /** The newest report's `atMs`: a report not newer (a retry, a replay) brings no window again. */
  lastAtMs: number;
  latest: DefenceWindow | undefined;
  pending: DefenceWindow[];
  listeners: Record<string, number>;
}

interface Point {
  t: number;
  classes: Record<RequestClass, number>;
  clients: number;
  verdict: number;
  listenersBySpace: Record<string, number>;
  listenersByEdge: Record<string, number>;
  joins: number;
  admitted: number;
  queue: number;
  joinsBySpace: Record<string, number>;
  cpuByEdge: Record<string, number>;
  tierByEdge: Record<string, number>;
}

export interface DefenceCenterOptions {
  dataDir: string;
  tokenSecret: Buffer;
  /** Names the deployment in the status document. */
  deployment: string;
  registry?: Registry;
  now?: () => number;
  /** Live Spaces and whether their media runs (for the status document). */
  spaces?: () => { live: number; up: boolean };
  /** A Space's title for the console, if known. */
  titleOf?: (spaceId: string) => string | undefined;
}

export class DefenceCenter {
  readonly classifier: Classifier;
  private readonly opts: DefenceCenterOptions;
  private readonly now: () => number;
  private readonly file: string;
  private readonly keys: StatusKeys;
  private readonly edges = new Map<string, EdgeState>();
  private readonly points: Point[] = [];
  private settings: Settings = { mode: 'off', limits: {}, tierFloors: {} };
  private settingsText = '';
  private timer: NodeJS.Timeout | undefined;
  private verdictNow: { verdict: Verdict; sinceMs: number; evidence: Evidence[] } = {
    verdict: 'normal',
    sinceMs: 0,
    evidence: [],
  };
  private lastTickMs: number | undefined;
  private statusCache: { atS: number; signed: SignedStatus<StatusDocument> } | undefined;

  constructor(opts: DefenceCenterOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.classifier = new Classifier({ now: this.now });
    this.file = path.join(opts.dataDir, 'defence.json');
    this.keys = statusKeys(opts.tokenSecret);
    this.verdictNow.sinceMs = this.now();
    this.readSettings();
    if (opts.registry) registerDefenceMetrics(this, opts.registry);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get mode(): DefenceMode {
    return this.settings.mode;
  }

  /** Under-attack mode in force: switched on, or automatic and the verdict says attack or mixed. */
  get underAttack(): boolean {
    const m = this.settings.mode;
    return (
      m === 'on' ||
      (m === 'auto' && (this.verdictNow.verdict === 'attack' || this.verdictNow.verdict === 'mixed'))
    );
  }

  /** A report from an edge (HTTP, Redis or in-process); returns the answer for that edge. */
  ingest(report: EdgeReport): { defence: DefenceControl } {
    let e = this.edges.get(report.edgeId);
    if (!e) {
      e = { lastSeenMs: 0, lastAtMs: -1, latest: undefined, pending: [], listeners: {} };
      this.edges.set(report.edgeId, e);
    }
    if (report.atMs <= e.lastAtMs) return { defence: this.control(report.edgeId) };
    e.lastAtMs = report.atMs;
    e.lastSeenMs = this.now();
    const listeners: Record<string, number> = {};
    for (const [id, s] of Object.entries(report.spaces)) if (s.listeners > 0) listeners[id] = s.listeners;
    e.listeners = listeners;
    if (report.defence && saneWindow(report.defence)) {
      e.latest = report.defence;
      if (e.pending.length < 10) e.pending.push(report.defence);
    }
    return { defence: this.control(report.edgeId) };
  }

  control(edgeId: string): DefenceControl {
    const s = this.settings;
    const tierFloor = s.tierFloors[edgeId] ?? 0;
    const limits = s.limits[edgeId];
    return { underAttack: this.underAttack, tierFloor, ...(limits ? { limits } : {}) };
  }

  /** One second: merge the edges' windows, classify, append a point. */
  tick(): void {
    const t = this.now();
    this.readSettings();
    for (const [id, e] of this.edges) if (t - e.lastSeenMs > EDGE_FORGOTTEN_MS) this.edges.delete(id);
    const windows: DefenceWindow[] = [];
    const fresh = [...this.edges.entries()].filter(([, e]) => t - e.lastSeenMs <= EDGE_STALE_MS);
    for (const [, e] of this.edges) {
      windows.push(...e.pending);
      e.pending = [];
    }
    const merged = this.classifier.observe(windows, t);
    const v = this.classifier.verdict(t);
    this.verdictNow = { verdict: v.verdict, sinceMs: v.sinceMs, evidence: v.evidence };
    // Per second of this origin's clock (an edge's report may land in this tick or the next).
    const perS = this.lastTickMs === undefined ? 1 : Math.min(5, Math.max(0.5, (t - this.lastTickMs) / 1000));
    this.lastTickMs = t;
    const classes = { ...merged.classes };
    for (const c of REQUEST_CLASSES) classes[c] = Math.round(classes[c] / perS);
    const point: Point = {
      t: Math.floor(t / 1000),
      classes,
      clients: windows.length ? Math.round(merged.clients) : 0,
      verdict: VERDICT_CODE[v.verdict],
      listenersBySpace: {},
      listenersByEdge: {},
      joins: 0,
      admitted: 0,
      queue: 0,
      joinsBySpace: {},
      cpuByEdge: {},
      tierByEdge: {},
    };
    for (const w of windows) {
      point.joins += w.admission.joins / perS;
      point.admitted += w.admission.admittedInWindow / perS;
      for (const [id, k] of Object.entries(w.joinsBySpace))
        point.joinsBySpace[id] = (point.joinsBySpace[id] ?? 0) + k / perS;
    }
    for (const [edgeId, e] of fresh) {
      let sum = 0;
      for (const [id, k] of Object.entries(e.listeners)) {
        point.listenersBySpace[id] = (point.listenersBySpace[id] ?? 0) + k;
        sum += k;
      }
      point.listenersByEdge[edgeId] = sum;
      if (e.latest) {
        point.queue += e.latest.admission.queue;
        point.cpuByEdge[edgeId] = e.latest.cpu;
        point.tierByEdge[edgeId] = e.latest.tier;
      }
    }
    this.points.push(point);
    if (this.points.length > SERIES_POINTS) this.points.splice(0, this.points.length - SERIES_POINTS);
  }

  get verdict(): { verdict: Verdict; sinceMs: number; evidence: Evidence[] } {
    return this.verdictNow;
  }

  /** The latest point (metrics, tests). */
  latest(): Point | undefined {
    return this.points[this.points.length - 1];
  }

  // ------------------------------------------------------------------ operator

  setMode(mode: DefenceMode): void {
    this.change((s) => ({ ...s, mode }));
  }

  setLimits(edgeId: string, limits: { maxListeners: number; joinsPerSec: number }): void {
    this.change((s) => ({ ...s, limits: { ...s.limits, [edgeId]: limits } }));
  }

  /** The edge goes back to its own capacity (its config). */
  clearLimits(edgeId: string): void {
    this.change((s) => {
      const limits = { ...s.limits };
      delete limits[edgeId];
      return { ...s, limits };
    });
  }

  setTierFloor(edgeId: string, tier: BrownoutTier): void {
    this.change((s) => {
      const tierFloors = { ...s.tierFloors };
      if (tier === 0) delete tierFloors[edgeId];
      else tierFloors[edgeId] = tier;
      return { ...s, tierFloors };
    });
  }

  /** Each edge heard from in the last 10 minutes, with its latest load (metrics). */
  edgeLoads(): { edgeId: string; fresh: boolean; tier: number; cpu: number }[] {
    const t = this.now();
    return [...this.edges.entries()].map(([edgeId, e]) => ({
      edgeId,
      fresh: t - e.lastSeenMs <= EDGE_STALE_MS,
      tier: e.latest?.tier ?? 0,
      cpu: e.latest?.cpu ?? 0,
    }));
  }

  knowsEdge(edgeId: string): boolean {
    return this.edges.has(edgeId);
  }

  /** The console's document (GET /api/ops/defence). */
  overview(): DefenceOverview {
    const t = this.now();
    const pts = this.points;
    const last = pts[pts.length - 1];
    const top = (pick: (p: Point) => Record<string, number>): string[] => {
      const score = new Map<string, number>();
      for (const p of pts.slice(-30))
        for (const [k, v] of Object.entries(pick(p))) score.set(k, Math.max(score.get(k) ?? 0, v));
      return [...score.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, SERIES_KEYS_MAX)
        .map(([k]) => k);
    };
    const keyed = (pick: (p: Point) => Record<string, number>): Record<string, number[]> => {
      const out: Record<string, number[]> = {};
      for (const k of top(pick)) out[k] = pts.map((p) => pick(p)[k] ?? 0);
      return out;
    };
    const classes = {} as Record<RequestClass, number[]>;
    for (const c of REQUEST_CLASSES) classes[c] = pts.map((p) => p.classes[c] ?? 0);
    const edges = [...this.edges.entries()]
      .filter(([, e]) => t - e.lastSeenMs <= EDGE_STALE_MS)
      .map(([edgeId, e]) => ({
        edgeId,
        lastSeenMs: e.lastSeenMs,
        cpu: e.latest?.cpu ?? 0,
        tier: e.latest?.tier ?? 0,
        tierFloor: this.settings.tierFloors[edgeId] ?? 0,
        limits: this.settings.limits[edgeId] ?? {
          maxListeners: e.latest?.admission.maxListeners ?? 0,
          joinsPerSec: e.latest?.admission.joinsPerSec ?? 0,
        },
        admitted: e.latest?.admission.admitted ?? 0,
        queue: e.latest?.admission.queue ?? 0,
      }));
    // Every Space the series show (a Space down to 0 listeners keeps its title), busiest first.
    const shown = new Set([...top((p) => p.listenersBySpace), ...top((p) => p.joinsBySpace)]);
    for (const id of Object.keys(last?.listenersBySpace ?? {})) if (shown.size < 50) shown.add(id);
    const spaces = [...shown]
      .map((spaceId) => ({
        spaceId,
        title: this.opts.titleOf?.(spaceId) ?? spaceId,
        listeners: last?.listenersBySpace[spaceId] ?? 0,
      }))
      .sort((a, b) => b.listeners - a.listeners);
    return {
      atMs: t,
      mode: this.settings.mode,
      underAttack: this.underAttack,
      verdict: this.verdictNow,
      edges,
      spaces,
      series: {
        t: pts.map((p) => p.t),
        classes,
        clients: pts.map((p) => p.clients),
        verdict: pts.map((p) => p.verdict),
        listenersBySpace: keyed((p) => p.listenersBySpace),
        listenersByEdge: keyed((p) => p.listenersByEdge),
        joinsPerSec: pts.map((p) => p.joins),
        admittedPerSec: pts.map((p) => p.admitted),
        queue: pts.map((p) => p.queue),
        joinsBySpace: keyed((p) => p.joinsBySpace),
        cpuByEdge: keyed((p) => p.cpuByEdge),
        tierByEdge: keyed((p) => p.tierByEdge),
      },
    };
  }

  // ------------------------------------------------------------------ public status

  /** The signed public status document (one signature per second at most). */
  status(): SignedStatus<StatusDocument> {
    const t = this.now();
    const atS = Math.floor(t / 1000);
    if (this.statusCache?.atS === atS) return this.statusCache.signed;
    const fresh = [...this.edges.values()].filter((e) => t - e.lastSeenMs <= EDGE_STALE_MS);
    const document: StatusDocument = {
      deployment: this.opts.deployment,
      atMs: t,
      verdict: this.verdictNow.verdict,
      verdictSinceMs: this.verdictNow.sinceMs,
      evidence: this.verdictNow.evidence.filter((e) => e.points !== 'normal').map((e) => e.text),
      underAttack: this.underAttack,
      brownoutTier: Math.max(0, ...fresh.map((e) => e.latest?.tier ?? 0)),
      spaces: this.opts.spaces?.() ?? { live: 0, up: true },
      edges: { reporting: fresh.length },
    };
    const signed = signStatus(this.keys, document);
    this.statusCache = { atS, signed };
    return signed;
  }

  get publicKey(): string {
    return this.keys.publicKeyB64;
  }

  /** Whether a copy of a status document is this deployment's, unchanged. */
  verifyCopy(document: unknown, signature: unknown): boolean {
    return verifyStatus(document, signature, this.keys.publicKey);
  }

  // ------------------------------------------------------------------ internals

  /**
   * The file is read whole once a second and compared (it is a few hundred bytes): a change by
   * another origin is seen even where two writes share a timestamp (coarse mtimes, the same ms).
   * Its contents are checked like the operator routes' bodies: anything else is left out.
   */
  private readSettings(): void {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return; // none yet: defaults
    }
    if (text === this.settingsText) return;
    let v: Partial<Record<keyof Settings, unknown>>;
    try {
      v = JSON.parse(text) as Partial<Record<keyof Settings, unknown>>;
    } catch {
      return; // not JSON (a hand edit gone wrong): keep what we had
    }
    this.settings = parseSettings(v);
    this.settingsText = text;
  }

  /** An operator's change, applied to the latest settings on disk (another origin's included). */
  private change(update: (s: Settings) => Settings): void {
    this.readSettings();
    const next = update(this.settings);
    const text = JSON.stringify(next);
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, this.file);
    this.settings = next; // only once it is on disk
    this.settingsText = text;
  }
}

/**
 * What the report schema cannot say about a window (src/live/origin-routes.ts checks each field):
 * it lasts between 0 and a minute, and its parts are not larger than their wholes. Others are left
 * out (only an edge holding the secret can send one: a bug, never a crowd or an attack).
 */
function saneWindow(w: DefenceWindow): boolean {
  const ms = w.toMs - w.fromMs;
  return ms > 0 && ms <= 60_000 && w.knownNetworks <= w.networks && w.patternOk <= w.patternTotal;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const EDGE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const intIn = (v: unknown, min: number, max: number): v is number =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** The settings file's contents, keeping only what the operator routes could have written. */
function parseSettings(v: Partial<Record<keyof Settings, unknown>>): Settings {
  const mode = DEFENCE_MODES.includes(v.mode as DefenceMode) ? (v.mode as DefenceMode) : 'off';
  const limits: Settings['limits'] = {};
  if (isObject(v.limits))
    for (const [id, l] of Object.entries(v.limits))
      if (
        EDGE_ID.test(id) &&
        isObject(l) &&
        intIn(l.maxListeners, 0, 100_000_000) &&
        intIn(l.joinsPerSec, 1, 10_000_000)
      )
        limits[id] = { maxListeners: l.maxListeners, joinsPerSec: l.joinsPerSec };
  const tierFloors: Settings['tierFloors'] = {};
  if (isObject(v.tierFloors))
    for (const [id, t] of Object.entries(v.tierFloors))
      if (EDGE_ID.test(id) && intIn(t, 1, 3)) tierFloors[id] = t as BrownoutTier;
  return { mode, limits, tierFloors };
}
