/**
 * The edge's defences in one object, created with the listener hot path (hot.ts) and consulted by
 * it on every request: the cheap checks first, each refusal costing about what a cache hit costs.
 *
 * - Per-address token buckets (buckets.ts), and a concurrent-connection cap (connections.ts).
 *   A request carrying a valid admission token is charged to its admission instead: an admitted
 *   player is never throttled below what it needs (~10 requests/s for LL-HLS), however many
 *   listeners share its address (NAT, a campus, a mobile carrier).
 * - Under-attack mode (set by the operator or the classifier, through the origin's answer to the
 *   edge's report): newcomers solve a proof of work (pow.ts) or wait a delay without JavaScript
 *   (nojs.ts); players without a token are no longer let in implicitly.
 * - Brownout (brownout.ts): tiers of work shed under overload, audio never.
 * - Telemetry (telemetry.ts): the per-second window each live report carries to the origin, where
 *   the classifier (src/ops/defence) tells a crowd from an attack.
 */
import { BucketTable } from './buckets.js';
import { Brownout } from './brownout.js';
import { ConnectionCap } from './connections.js';
import { NoJsPasses } from './nojs.js';
import { ProofOfWork } from './pow.js';
import { DefenceTelemetry } from './telemetry.js';
import type { BrownoutTier, DefenceControl, DefenceWindow } from './types.js';
import type { AdmissionGate } from '../admission/gate.js';
import type { TribuneConfig } from '../../config.js';

/** The config's `edge.defence` (src/config.ts documents each field). */
export type EdgeDefenceConfig = TribuneConfig['edge']['defence'];

export interface EdgeDefenceOptions extends EdgeDefenceConfig {
  secret: Buffer;
  trustProxy?: boolean;
  now?: () => number;
}

/** Most Spaces whose joins one window lists. */
const JOIN_SPACES_MAX = 100;

export class EdgeDefence {
  readonly addresses: BucketTable;
  readonly admissions: BucketTable;
  readonly connections: ConnectionCap;
  readonly telemetry: DefenceTelemetry;
  readonly brownout: Brownout;
  readonly pow: ProofOfWork;
  readonly nojs: NoJsPasses;
  private readonly now: () => number;
  private gate: AdmissionGate | undefined;
  private mode = false;
  private joinsBySpace = new Map<string, number>();
  private joins = 0;
  private admittedBefore = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Limits the operator set for this edge (last applied), to apply a change once. */
  private appliedLimits = '';
  /** The edge's own limits (its config), restored when the operator's are withdrawn. */
  private ownLimits: { maxListeners: number; joinsPerSec: number } | undefined;

  constructor(opts: EdgeDefenceOptions) {
    this.now = opts.now ?? Date.now;
    // Tables sized so that collisions (which share a bucket) stay rare: 2^20 admission slots hold
    // an edge's 40,000 admitted players with ~4% sharing a slot with one other (two players'
    // needs fit one bucket); 2^18 address and connection slots.
    this.addresses = new BucketTable({ ratePerSec: opts.perAddressRate, burst: opts.perAddressBurst }, 18);
    this.admissions = new BucketTable(
      { ratePerSec: opts.perAdmissionRate, burst: opts.perAdmissionBurst },
      20,
    );
    this.connections = new ConnectionCap(opts.trustProxy ? 0 : opts.maxConnectionsPerAddress, 18);
    this.telemetry = new DefenceTelemetry();
    this.brownout = new Brownout({ auto: opts.brownout !== 'off' });
    this.pow = new ProofOfWork({ secret: opts.secret, now: this.now, targetMs: opts.powTargetMs });
    this.nojs = new NoJsPasses({ secret: opts.secret, now: this.now, delayMs: opts.noJsDelayMs });
  }

  /** The admission gate whose modes follow the defences (strict under attack, paused at tier 3). */
  attach(gate: AdmissionGate | undefined): void {
    this.gate = gate;
    if (!gate) return;
    this.admittedBefore = gate.controller.stats().admitted;
    this.ownLimits = gate.controller.getLimits();
    // Orders that came before the gate was attached hold for it too.
    gate.strict = this.mode;
    gate.controller.setPaused(this.brownout.tier >= 3);
  }

  /** Samples the load once a second and moves the brownout tier (unref'd timer). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(this.now()), 1000);
    this.timer.unref();
  }

  tick(nowMs: number): BrownoutTier {
    const tier = this.brownout.tick(nowMs);
    this.gate?.controller.setPaused(tier >= 3);
    return tier;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get underAttack(): boolean {
    return this.mode;
  }

  set underAttack(on: boolean) {
    this.mode = on;
    if (this.gate) this.gate.strict = on;
  }

  /**
   * May this request go on? `admissionId`: the id of a valid admission token it carries (then its
   * admission's bucket is charged, not its address's).
   */
  allow(address: string, admissionId: string | undefined, nowMs: number): boolean {
    if (admissionId !== undefined) return this.admissions.take(admissionId, nowMs);
    return this.addresses.take(address, nowMs);
  }

  /** A newcomer asked to join `spaceId` (counted for the console's joins per Space). */
  noteJoin(spaceId: string): void {
    this.joins++;
    const v = this.joinsBySpace.get(spaceId);
    if (v !== undefined) this.joinsBySpace.set(spaceId, v + 1);
    else if (this.joinsBySpace.size < 10_000) this.joinsBySpace.set(spaceId, 1);
  }

  /** The origin's orders (its answer to a live report). */
  applyControl(c: DefenceControl): void {
    this.underAttack = c.underAttack === true;
    const floor = c.tierFloor;
    this.brownout.floor = floor === 1 || floor === 2 || floor === 3 ? floor : 0;
    this.gate?.controller.setPaused(this.brownout.tier >= 3);
    // The operator's capacity, or back to the edge's own once it is withdrawn.
    const limits = c.limits ?? this.ownLimits;
    const key = c.limits ? `${c.limits.maxListeners}/${c.limits.joinsPerSec}` : '';
    if (this.gate && limits && key !== this.appliedLimits) {
      this.appliedLimits = key;
      this.gate.setLimits(limits);
    }
  }

  /** The telemetry window since the last call (the live report's `defence`). */
  window(nowMs: number): DefenceWindow {
    const gate = this.gate;
    const stats = gate?.controller.stats();
    const admitted = stats?.admitted ?? 0;
    const top = [...this.joinsBySpace.entries()].sort((a, b) => b[1] - a[1]).slice(0, JOIN_SPACES_MAX);
    const w = this.telemetry.drain(nowMs, {
      cpu: this.brownout.load,
      tier: this.brownout.tier,
      underAttack: this.mode,
      admission: {
        maxListeners: stats?.limits.maxListeners ?? 0,
        joinsPerSec: stats?.limits.joinsPerSec ?? 0,
        admitted: stats ? stats.active + stats.reserved : 0,
        queue: stats?.waiting ?? 0,
        joins: this.joins,
        admittedInWindow: Math.max(0, admitted - this.admittedBefore),
      },
      joinsBySpace: Object.fromEntries(top),
      pow: this.pow.drainCounts(),
    });
    this.admittedBefore = admitted;
    this.joins = 0;
    this.joinsBySpace = new Map();
    return w;
  }
}

/** The origin's answer to a report, checked (an origin of another version may answer otherwise). */
export function parseControl(answer: unknown): DefenceControl | undefined {
  const c = (answer as { defence?: unknown } | null)?.defence as Partial<DefenceControl> | undefined;
  if (!c || typeof c !== 'object' || typeof c.underAttack !== 'boolean') return undefined;
  const tierFloor = c.tierFloor === 1 || c.tierFloor === 2 || c.tierFloor === 3 ? c.tierFloor : 0;
  const l = c.limits;
  const limits =
    l &&
    Number.isInteger(l.maxListeners) &&
    l.maxListeners >= 0 &&
    Number.isInteger(l.joinsPerSec) &&
    l.joinsPerSec >= 1
      ? { maxListeners: l.maxListeners, joinsPerSec: l.joinsPerSec }
      : undefined;
  return { underAttack: c.underAttack, tierFloor, limits };
}

/** The live reporter's hooks: telemetry in each report, the origin's orders from each answer. */
export function reportHooks(defence: EdgeDefence): {
  extend: (report: { defence?: DefenceWindow }) => void;
  onAnswer: (answer: unknown) => void;
  samples: () => boolean;
} {
  return {
    extend: (report) => {
      report.defence = defence.window(Date.now());
    },
    onAnswer: (answer) => {
      const c = parseControl(answer);
      if (c) defence.applyControl(c);
    },
    // Brownout tier 1: the listener sample (avatars on the page) is left out of reports.
    samples: () => !defence.brownout.sheds(1),
  };
}
