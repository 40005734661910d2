import os from 'node:os';
import path from 'node:path';

/** Everything Tribune can be configured with. One type, one defaults object, validated and frozen. */
export interface TribuneConfig {
  /** Public HTTP port (web app, API, WHIP, and the edge in embedded mode). */
  port: number;
  host: string;
  /** Where Space metadata, HLS segments and recordings are written. */
  dataDir: string;
  /**
   * PostgreSQL for the control plane (`postgres://user:password@host:5432/db`), shared by several
   * origins; empty: SQLite in `<dataDir>/tribune.db` (one origin).
   */
  databaseUrl: string;
  /**
   * Redis for state shared by several origins (sign-in throttle, rate limits, session revocation):
   * `redis://[:password@]host:6379[/db]`; empty: that state stays in this process's memory.
   */
  redisUrl: string;
  /** HMAC secret for Space tokens; when empty, one is generated and kept in `<dataDir>/secret`. */
  tokenSecret: string;
  /**
   * Origin base URL(s) the edge fetches from (edge mode), comma-separated when there are several
   * origins (`http://o1:8080,http://o2:8080`); in embedded mode the edge fetches itself.
   */
  originUrl: string;
  /** Base URL listeners use for HLS; empty means the same host, path /hls. */
  publicEdgeUrl: string;
  /**
   * Trust X-Forwarded-For from a proxy in front (nginx, a load balancer) for client addresses.
   * Leave off when clients connect directly: anyone could then forge their address.
   */
  trustProxy: boolean;
  limits: {
    maxSpeakers: number;
    whipBodyBytes: number;
    jsonBodyBytes: number;
    /** Spaces one client address may create per minute (429 RATE_LIMITED beyond). */
    createSpacePerMinute: number;
    /** WHIP offers one client address may post per minute. */
    whipPerMinute: number;
    /** Accounts one client address may create per minute. */
    signupPerMinute: number;
  };
  hls: {
    /** Part duration in 20 ms Opus frames (10 = 200 ms). */
    partFrames: number;
    /** Parts per segment (5 x 200 ms = 1 s). */
    segmentParts: number;
    /** Segments kept in the live playlist window. */
    liveWindowSegments: number;
    opusBitrate: number;
  };
  edge: {
    /** Bytes of hot objects the edge keeps in memory. */
    cacheBytes: number;
    /** How long an edge waits on the origin before answering 502. */
    originTimeoutMs: number;
    /** Stream delivery (`stream.mp4`): see src/edge/stream-hub.ts. */
    stream: {
      /** Concurrent streams per client address (more get 429 RATE_LIMITED). */
      perAddressMax: number;
      /** Parts per write by stream listeners on the edge: from `listeners` on, `parts` per write. */
      batchSteps: { listeners: number; parts: number }[];
      /** A listener whose socket is this far behind is cut (its player reconnects at the live edge). */
      maxBehindMs: number;
      /** Kernel send buffer asked for each stream socket (SO_SNDBUF; Linux doubles it); 0 = leave it. */
      sendBufferBytes: number;
    };
    /** Admission (src/edge/admission): what one edge takes on; past it, joiners wait in a queue. */
    admission: {
      /** Concurrent listeners admitted by one edge (default: ≈70% of the 56,072 stream listeners one core held in bench:edge). */
      maxListeners: number;
      /** New listeners admitted per second by one edge (default: about half the ≈11,000 stream connects per second one core managed in bench:edge; delivery shares the core). */
      joinsPerSec: number;
      /** New joins one client address may make per minute (429 RATE_LIMITED beyond). */
      joinsPerAddressPerMinute: number;
      /** Admission tokens last this long; pages renew them at half. */
      admissionTtlSec: number;
    };
    /** Flood defences, under-attack mode and brownout (src/edge/defence). */
    defence: {
      /** Requests per second one client address may make without an admission token (0: no limit). */
      perAddressRate: number;
      /** ...and at once after a quiet spell. NAT-friendly: a campus behind one address still joins. */
      perAddressBurst: number;
      /** Requests per second one admitted player may make (LL-HLS needs ~10; stream mode ~1). */
      perAdmissionRate: number;
      perAdmissionBurst: number;
      /** Concurrent connections per client address (0: no cap; off behind trustProxy). */
      maxConnectionsPerAddress: number;
      /** Under-attack mode: target proof-of-work solve time at no load (ms); at most 900 ms under load. */
      powTargetMs: number;
      /** Under-attack mode: the no-JavaScript path's wait before a place is given (ms). */
      noJsDelayMs: number;
      /** Brownout tiers from the edge's own load (`auto`), or only when an operator sets a floor (`off`). */
      brownout: 'auto' | 'off';
    };
  };
  /**
   * Handles of the accounts that operate this deployment: they open the operator console (`/ops`),
   * switch under-attack mode and change edge capacity. Empty: nobody.
   */
  operators: string[];
  /** Trust and safety (EU Digital Services Act): src/trust. */
  trust: {
    /** Art. 20: complaints are open this long after a decision (at least 6 months). */
    complaintWindowDays: number;
    /** Evidence of cases nobody decided is kept this long; decided ones until their complaint window closes. */
    evidenceRetentionDays: number;
    /** Longest range of a recording one notice keeps, seconds. */
    evidenceMaxSec: number;
    /** Notices one client address, and one account, may send per hour. */
    noticesPerAddressPerHour: number;
    noticesPerAccountPerHour: number;
    /** Art. 23: strikes expire after this many days; a strike while warned suspends the account. */
    strikeExpiryDays: number;
    /** Art. 23(2): this many manifestly unfounded notices pause the notifier for notifierPauseDays. */
    unfoundedBeforePause: number;
    notifierPauseDays: number;
    /** Art. 24(5): the Transparency Database submitter (`off` for micro and small enterprises). */
    tdb: { mode: 'off' | 'sandbox' | 'production'; endpoint: string; token: string; flushMs: number };
  };
  media: {
    /** Media engine processes (one JS thread each); Spaces are spread over them. */
    engines: number;
    /** Jitter allowance per speaker before the mixer drops the oldest audio, in 20 ms frames. */
    maxBufferedFrames: number;
  };
  spaces: {
    /** A live Space whose host has been gone (no stage connection, no open page) this long ends by itself. */
    hostAbsentEndSec: number;
    /** Replays are deleted from disk this many days after their Space ended. */
    replayRetentionDays: number;
    maxCohosts: number;
    /** Speakers besides the host and co-hosts. */
    maxSpeakers: number;
    /** How far ahead a Space can be scheduled. */
    scheduleMaxDays: number;
    /** Sessions last this long. */
    sessionDays: number;
  };
  /** Operator webhook (POST, JSON, signed with X-Tribune-Signature) for Space-started reminders; empty: none. */
  webhookUrl: string;
  /**
   * With Redis, one origin at a time delivers the webhook outbox under a lock that expires this long
   * after its holder stops renewing it (a crashed holder's work is taken over after at most this).
   */
  webhookLockMs: number;
  /**
   * Several origins (src/cluster): on when `selfUrl` and `redisUrl` are set (PostgreSQL required).
   * Each live Space's media runs on the origin holding its lease in Redis; the others forward to it.
   */
  cluster: {
    /** The URL other origins and edges reach this origin at (e.g. http://origin-1:8080); empty: one origin. */
    selfUrl: string;
    /** This origin's name in leases and logs; default host:port. */
    originId: string;
    /** A Space's lease lasts this long without a heartbeat (failover time ≈ this + a second). */
    leaseMs: number;
  };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * OS scheduling priority (nice, -20..19) asked for the HTTP process and the media engine alike, so
   * other work on the machine never starves live audio, and neither starves the other. Needs
   * CAP_SYS_NICE for values below 0; without it Tribune runs at the priority it was given.
   */
  nice: number;
}

export const DEFAULTS: TribuneConfig = {
  port: 8080,
  host: '0.0.0.0',
  dataDir: path.resolve('data'),
  databaseUrl: '',
  redisUrl: '',
  tokenSecret: '',
  originUrl: '',
  publicEdgeUrl: '',
  trustProxy: false,
  limits: {
    maxSpeakers: 13,
    whipBodyBytes: 32 * 1024,
    jsonBodyBytes: 16 * 1024,
    createSpacePerMinute: 20,
    whipPerMinute: 60,
    signupPerMinute: 10,
  },
  hls: { partFrames: 10, segmentParts: 5, liveWindowSegments: 12, opusBitrate: 32_000 },
  edge: {
    cacheBytes: 256 * 1024 * 1024,
    originTimeoutMs: 10_000,
    stream: {
      perAddressMax: 64,
      batchSteps: [
        { listeners: 0, parts: 1 },
        { listeners: 5_000, parts: 2 },
        { listeners: 10_000, parts: 3 },
        { listeners: 20_000, parts: 5 },
      ],
      maxBehindMs: 1000,
      sendBufferBytes: 4096,
    },
    admission: {
      maxListeners: 40_000,
      joinsPerSec: 5_000,
      joinsPerAddressPerMinute: 30,
      admissionTtlSec: 60,
    },
    defence: {
      perAddressRate: 100,
      perAddressBurst: 200,
      perAdmissionRate: 30,
      perAdmissionBurst: 60,
      maxConnectionsPerAddress: 256,
      powTargetMs: 250,
      noJsDelayMs: 5000,
      brownout: 'auto',
    },
  },
  operators: [],
  trust: {
    complaintWindowDays: 183,
    evidenceRetentionDays: 183,
    evidenceMaxSec: 300,
    noticesPerAddressPerHour: 30,
    noticesPerAccountPerHour: 30,
    strikeExpiryDays: 90,
    unfoundedBeforePause: 3,
    notifierPauseDays: 30,
    tdb: { mode: 'off', endpoint: '', token: '', flushMs: 10_000 },
  },
  media: { engines: Math.max(1, Math.min(8, os.availableParallelism())), maxBufferedFrames: 6 },
  spaces: {
    hostAbsentEndSec: 300,
    replayRetentionDays: 30,
    maxCohosts: 2,
    maxSpeakers: 10,
    scheduleMaxDays: 14,
    sessionDays: 30,
  },
  webhookUrl: '',
  webhookLockMs: 30_000,
  cluster: { selfUrl: '', originId: '', leaseMs: 2500 },
  logLevel: 'info',
  nice: -10,
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type ConfigInput = DeepPartial<TribuneConfig>;

function merge<T extends object>(base: T, over: DeepPartial<T> | undefined): T {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(over ?? {})) {
    if (v === undefined) continue;
    const b = (base as Record<string, unknown>)[k];
    out[k] = b && typeof b === 'object' && !Array.isArray(b) ? merge(b as object, v as object) : v;
  }
  return out as T;
}

function deepFreeze<T>(o: T): Readonly<T> {
  for (const v of Object.values(o as object)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(o);
}

/** Reads PORT, TRIBUNE_DATA_DIR, TRIBUNE_* from the environment. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ConfigInput {
  const num = (v: string | undefined): number | undefined =>
    v === undefined || v === '' ? undefined : Number(v);
  return {
    port: num(env.PORT),
    host: env.HOST || undefined,
    trustProxy: env.TRIBUNE_TRUST_PROXY ? env.TRIBUNE_TRUST_PROXY === 'true' : undefined,
    limits: {
      createSpacePerMinute: num(env.TRIBUNE_CREATE_SPACE_PER_MINUTE),
      whipPerMinute: num(env.TRIBUNE_WHIP_PER_MINUTE),
      signupPerMinute: num(env.TRIBUNE_SIGNUP_PER_MINUTE),
    } as ConfigInput['limits'],
    dataDir: env.TRIBUNE_DATA_DIR ? path.resolve(env.TRIBUNE_DATA_DIR) : undefined,
    databaseUrl: env.TRIBUNE_DATABASE_URL || undefined,
    redisUrl: env.TRIBUNE_REDIS_URL || undefined,
    tokenSecret: env.TRIBUNE_TOKEN_SECRET || undefined,
    originUrl: env.TRIBUNE_ORIGIN_URL || undefined,
    publicEdgeUrl: env.TRIBUNE_PUBLIC_EDGE_URL || undefined,
    logLevel: (env.TRIBUNE_LOG_LEVEL as TribuneConfig['logLevel']) || undefined,
    nice: num(env.TRIBUNE_NICE),
    media: { engines: num(env.TRIBUNE_MEDIA_ENGINES) } as ConfigInput['media'],
    edge: {
      stream: {
        perAddressMax: num(env.TRIBUNE_EDGE_STREAMS_PER_ADDRESS),
        batchSteps: parseBatchSteps(env.TRIBUNE_EDGE_STREAM_BATCH),
      },
      admission: {
        maxListeners: num(env.TRIBUNE_EDGE_MAX_LISTENERS),
        joinsPerSec: num(env.TRIBUNE_EDGE_JOINS_PER_SEC),
        joinsPerAddressPerMinute: num(env.TRIBUNE_EDGE_JOINS_PER_ADDRESS_PER_MINUTE),
      },
      defence: {
        perAddressRate: num(env.TRIBUNE_EDGE_RATE_PER_ADDRESS),
        perAddressBurst: num(env.TRIBUNE_EDGE_BURST_PER_ADDRESS),
        perAdmissionRate: num(env.TRIBUNE_EDGE_RATE_PER_ADMISSION),
        perAdmissionBurst: num(env.TRIBUNE_EDGE_BURST_PER_ADMISSION),
        maxConnectionsPerAddress: num(env.TRIBUNE_EDGE_CONNECTIONS_PER_ADDRESS),
        powTargetMs: num(env.TRIBUNE_POW_TARGET_MS),
        noJsDelayMs: num(env.TRIBUNE_NOJS_DELAY_MS),
        brownout: (env.TRIBUNE_EDGE_BROWNOUT as 'auto' | 'off') || undefined,
      },
    } as ConfigInput['edge'],
    operators: env.TRIBUNE_OPERATORS
      ? env.TRIBUNE_OPERATORS.split(',')
          .map((h) => h.trim())
          .filter(Boolean)
      : undefined,
    trust: {
      complaintWindowDays: num(env.TRIBUNE_COMPLAINT_WINDOW_DAYS),
      evidenceRetentionDays: num(env.TRIBUNE_EVIDENCE_RETENTION_DAYS),
      noticesPerAddressPerHour: num(env.TRIBUNE_NOTICES_PER_ADDRESS_PER_HOUR),
      noticesPerAccountPerHour: num(env.TRIBUNE_NOTICES_PER_ACCOUNT_PER_HOUR),
      tdb: {
        mode: (env.TRIBUNE_TDB_MODE as 'off' | 'sandbox' | 'production') || undefined,
        endpoint: env.TRIBUNE_TDB_URL || undefined,
        token: env.TRIBUNE_TDB_TOKEN || undefined,
        flushMs: num(env.TRIBUNE_TDB_FLUSH_MS),
      },
    } as ConfigInput['trust'],
    spaces: {
      hostAbsentEndSec: num(env.TRIBUNE_HOST_ABSENT_END_SEC),
      replayRetentionDays: num(env.TRIBUNE_REPLAY_RETENTION_DAYS),
    } as ConfigInput['spaces'],
    webhookUrl: env.TRIBUNE_WEBHOOK_URL || undefined,
    webhookLockMs: num(env.TRIBUNE_WEBHOOK_LOCK_MS),
    cluster: {
      selfUrl: env.TRIBUNE_SELF_URL || undefined,
      originId: env.TRIBUNE_ORIGIN_ID || undefined,
      leaseMs: num(env.TRIBUNE_LEASE_MS),
    } as ConfigInput['cluster'],
  };
}

/**
 * `TRIBUNE_EDGE_STREAM_BATCH`: `N` (always N parts per write) or `listeners:parts,…`
 * (e.g. `0:1,5000:2,10000:3,20000:5`). Undefined when unset; malformed input throws.
 */
export function parseBatchSteps(v: string | undefined): { listeners: number; parts: number }[] | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return [{ listeners: 0, parts: Number(v) }];
  const steps = v.split(',').map((pair) => {
    const m = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(pair);
    if (!m) throw new Error(`TRIBUNE_EDGE_STREAM_BATCH: expected N or listeners:parts,..., got ${v}`);
    return { listeners: Number(m[1]), parts: Number(m[2]) };
  });
  return steps.sort((a, b) => a.listeners - b.listeners);
}

/** `http://o1:8080, http://o2:8080` -> `['http://o1:8080', 'http://o2:8080']` (trimmed, empties dropped). */
export function originUrls(originUrl: string): string[] {
  return originUrl
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
}

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

export function loadConfig(...inputs: ConfigInput[]): Readonly<TribuneConfig> {
  const cfg = inputs.reduce<TribuneConfig>((acc, i) => merge(acc, i), DEFAULTS);
  const problems: string[] = [];
  const int = (name: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max)
      problems.push(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  };
  int('port', cfg.port, 0, 65535);
  int('limits.maxSpeakers', cfg.limits.maxSpeakers, 1, 13);
  int('limits.whipBodyBytes', cfg.limits.whipBodyBytes, 1024, 1024 * 1024);
  int('limits.createSpacePerMinute', cfg.limits.createSpacePerMinute, 1, 1_000_000);
  int('limits.whipPerMinute', cfg.limits.whipPerMinute, 1, 1_000_000);
  int('limits.signupPerMinute', cfg.limits.signupPerMinute, 1, 1_000_000);
  int('hls.partFrames', cfg.hls.partFrames, 5, 25);
  int('hls.segmentParts', cfg.hls.segmentParts, 2, 20);
  int('hls.liveWindowSegments', cfg.hls.liveWindowSegments, 3, 1000);
  int('media.maxBufferedFrames', cfg.media.maxBufferedFrames, 1, 100);
  int('media.engines', cfg.media.engines, 1, 64);
  int('nice', cfg.nice, -20, 19);
  int('webhookLockMs', cfg.webhookLockMs, 1000, 600_000);
  int('edge.stream.perAddressMax', cfg.edge.stream.perAddressMax, 1, 10_000_000);
  int('edge.stream.maxBehindMs', cfg.edge.stream.maxBehindMs, 200, 60_000);
  int('edge.stream.sendBufferBytes', cfg.edge.stream.sendBufferBytes, 0, 16 * 1024 * 1024);
  int('edge.admission.maxListeners', cfg.edge.admission.maxListeners, 0, 100_000_000);
  int('edge.admission.joinsPerSec', cfg.edge.admission.joinsPerSec, 1, 10_000_000);
  int('edge.admission.joinsPerAddressPerMinute', cfg.edge.admission.joinsPerAddressPerMinute, 1, 1_000_000);
  int('edge.admission.admissionTtlSec', cfg.edge.admission.admissionTtlSec, 10, 86_400);
  const d = cfg.edge.defence;
  int('edge.defence.perAddressRate', d.perAddressRate, 0, 10_000_000);
  int('edge.defence.perAddressBurst', d.perAddressBurst, 1, 10_000_000);
  int('edge.defence.perAdmissionRate', d.perAdmissionRate, 0, 10_000_000);
  int('edge.defence.perAdmissionBurst', d.perAdmissionBurst, 1, 10_000_000);
  int('edge.defence.maxConnectionsPerAddress', d.maxConnectionsPerAddress, 0, 10_000_000);
  int('edge.defence.powTargetMs', d.powTargetMs, 10, 900);
  int('edge.defence.noJsDelayMs', d.noJsDelayMs, 0, 60_000);
  if (d.brownout !== 'auto' && d.brownout !== 'off')
    problems.push('edge.defence.brownout must be auto or off');
  if (
    !Array.isArray(cfg.operators) ||
    cfg.operators.some((h) => typeof h !== 'string' || !/^[A-Za-z0-9_]{1,32}$/.test(h))
  )
    problems.push('operators must be a list of account handles');
  const t = cfg.trust;
  int('trust.complaintWindowDays', t.complaintWindowDays, 183, 3650);
  int('trust.evidenceRetentionDays', t.evidenceRetentionDays, 1, 3650);
  int('trust.evidenceMaxSec', t.evidenceMaxSec, 10, 3600);
  int('trust.noticesPerAddressPerHour', t.noticesPerAddressPerHour, 1, 1_000_000);
  int('trust.noticesPerAccountPerHour', t.noticesPerAccountPerHour, 1, 1_000_000);
  int('trust.strikeExpiryDays', t.strikeExpiryDays, 1, 3650);
  int('trust.unfoundedBeforePause', t.unfoundedBeforePause, 1, 1000);
  int('trust.notifierPauseDays', t.notifierPauseDays, 1, 3650);
  int('trust.tdb.flushMs', t.tdb.flushMs, 200, 3_600_000);
  if (!['off', 'sandbox', 'production'].includes(t.tdb.mode))
    problems.push('trust.tdb.mode (TRIBUNE_TDB_MODE) must be off, sandbox or production');
  if (t.tdb.mode !== 'off' && !isHttpUrl(t.tdb.endpoint))
    problems.push('trust.tdb.endpoint (TRIBUNE_TDB_URL) must be an http(s) URL when the submitter is on');
  if (t.tdb.mode !== 'off' && !t.tdb.token)
    problems.push('trust.tdb.token (TRIBUNE_TDB_TOKEN) is required when the submitter is on');
  for (const st of cfg.edge.stream.batchSteps) {
    int('edge.stream.batchSteps[].listeners', st.listeners, 0, 100_000_000);
    int('edge.stream.batchSteps[].parts', st.parts, 1, 25);
  }
  if (!(cfg.spaces.hostAbsentEndSec > 0)) problems.push('spaces.hostAbsentEndSec must be > 0');
  if (!(cfg.spaces.replayRetentionDays > 0)) problems.push('spaces.replayRetentionDays must be > 0');
  int('spaces.maxCohosts', cfg.spaces.maxCohosts, 0, 12);
  int('spaces.maxSpeakers', cfg.spaces.maxSpeakers, 0, 12);
  if (1 + cfg.spaces.maxCohosts + cfg.spaces.maxSpeakers > cfg.limits.maxSpeakers)
    problems.push('1 host + spaces.maxCohosts + spaces.maxSpeakers must fit limits.maxSpeakers');
  if (cfg.webhookUrl && !/^https?:\/\//.test(cfg.webhookUrl))
    problems.push('webhookUrl must be an http(s) URL');
  const segSeconds = (cfg.hls.partFrames * cfg.hls.segmentParts * 20) / 1000;
  if (segSeconds < 1 || segSeconds > 6) problems.push(`segment duration must be 1-6 s, got ${segSeconds} s`);
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(cfg.logLevel))
    problems.push(`logLevel ${cfg.logLevel} is not a pino level`);
  if (cfg.originUrl) {
    const urls = originUrls(cfg.originUrl);
    if (urls.length === 0)
      problems.push('originUrl must be an http(s) URL or a comma-separated list of them');
    urls.forEach((u, i) => {
      if (!isHttpUrl(u)) problems.push(`originUrl: entry ${i + 1} must be an http(s) URL`);
    });
  }
  // Never echo the value: it may hold a password.
  if (cfg.databaseUrl && !/^postgres(ql)?:\/\//.test(cfg.databaseUrl))
    problems.push('databaseUrl must be a postgres:// or postgresql:// URL');
  if (cfg.redisUrl && !/^rediss?:\/\//.test(cfg.redisUrl))
    problems.push('redisUrl must be a redis:// or rediss:// URL');
  int('cluster.leaseMs', cfg.cluster.leaseMs, 1000, 60_000);
  if (cfg.cluster.selfUrl) {
    if (!/^https?:\/\/[^/]+$/.test(cfg.cluster.selfUrl.replace(/\/+$/, '')))
      problems.push('cluster.selfUrl (TRIBUNE_SELF_URL) must be an http(s) base URL without a path');
    if (!cfg.redisUrl)
      problems.push('several origins (TRIBUNE_SELF_URL) need TRIBUNE_REDIS_URL: leases live there');
    if (!cfg.databaseUrl)
      problems.push('several origins (TRIBUNE_SELF_URL) need TRIBUNE_DATABASE_URL: SQLite cannot be shared');
  }
  if (cfg.cluster.originId && !/^[A-Za-z0-9_.:-]{1,64}$/.test(cfg.cluster.originId))
    problems.push('cluster.originId must be 1-64 of A-Z a-z 0-9 _ . : -');
  if (problems.length) throw new Error(`Invalid Tribune config:\n  ${problems.join('\n  ')}`);
  return deepFreeze(cfg);
}
