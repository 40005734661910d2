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
import { Classifier, mergeWindows } from './classifier.js';
import { registerDefenceMetrics } from './metrics.js';
import { signStatus, statusKeys, type SignedStatus, type StatusKeys } from './status.js';

export type DefenceMode = 'off' | 'on' | 'auto';
export const DEFENCE_MODES: readonly DefenceMode[] = ['off', 'on', 'auto'];

/** Console history: one point a second. */
const SERIES_POINTS = 300;
/** An edge that has not reported for this long is no longer listed (its history stays). */
const EDGE_STALE_MS = 10_000;
/** Most Spaces and edges in the series (the busiest). */
const SERIES_KEYS_MAX = 12;

interface Settings {
  mode: DefenceMode;
  limits: Record<string, { maxListeners: number; joinsPerSec: number }>;
  tierFloors: Record<string, BrownoutTier>;
}

interface EdgeState {
  lastSeenMs: number;
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
      e = { lastSeenMs: 0, latest: undefined, pending: [], listeners: {} };
      this.edges.set(report.edgeId, e);
    }
    e.lastSeenMs = this.now();
    const listeners: Record<string, number> = {};
    for (const [id, s] of Object.entries(report.spaces)) if (s.listeners > 0) listeners[id] = s.listeners;
    e.listeners = listeners;
    if (report.defence) {
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
    for (const [id, e] of this.edges) if (t - e.lastSeenMs > 10 * 60_000) this.edges.delete(id);
    const windows: DefenceWindow[] = [];
    const fresh = [...this.edges.entries()].filter(([, e]) => t - e.lastSeenMs <= EDGE_STALE_MS);
    for (const [, e] of this.edges) {
      windows.push(...e.pending);
      e.pending = [];
    }
    this.classifier.observe(windows, t);
    const v = this.classifier.verdict(t);
    this.verdictNow = { verdict: v.verdict, sinceMs: v.sinceMs, evidence: v.evidence };
    const merged = mergeWindows(windows);
    const point: Point = {
      t: Math.floor(t / 1000),
      classes: { ...merged.classes },
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
      point.joins += w.admission.joins;
      point.admitted += w.admission.admittedInWindow;
      for (const [id, k] of Object.entries(w.joinsBySpace))
        point.joinsBySpace[id] = (point.joinsBySpace[id] ?? 0) + k;
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
    this.settings = { ...this.settings, mode };
    this.writeSettings();
  }

  setLimits(edgeId: string, limits: { maxListeners: number; joinsPerSec: number }): void {
    this.settings = { ...this.settings, limits: { ...this.settings.limits, [edgeId]: limits } };
    this.writeSettings();
  }

  setTierFloor(edgeId: string, tier: BrownoutTier): void {
    const tierFloors = { ...this.settings.tierFloors };
    if (tier === 0) delete tierFloors[edgeId];
    else tierFloors[edgeId] = tier;
    this.settings = { ...this.settings, tierFloors };
    this.writeSettings();
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
  overview(): unknown {
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

  // ------------------------------------------------------------------ internals

  /**
   * The file is read whole once a second and compared (it is a few hundred bytes): a change by
   * another origin is seen even where two writes share a timestamp (coarse mtimes, the same ms).
   */
  private readSettings(): void {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return; // none yet: defaults
    }
    if (text === this.settingsText) return;
    try {
      const v = JSON.parse(text) as Partial<Settings>;
      this.settings = {
        mode: DEFENCE_MODES.includes(v.mode as DefenceMode) ? (v.mode as DefenceMode) : 'off',
        limits: v.limits && typeof v.limits === 'object' ? v.limits : {},
        tierFloors: v.tierFloors && typeof v.tierFloors === 'object' ? v.tierFloors : {},
      };
      this.settingsText = text;
    } catch {
      // a half-written file from an older version: keep what we had
    }
  }

  private writeSettings(): void {
    const text = JSON.stringify(this.settings);
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, this.file);
    this.settingsText = text;
  }
}
