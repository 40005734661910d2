/**
 * `tribune capacity`: the edges, cores, memory and bandwidth a Space's audience needs, what it costs,
 * and the time to first audio a discrete-event simulation of its arrival predicts.
 *
 *   tribune capacity --listeners 1000000 --arrival-window 60 [--bitrate-kbps 32] [--json] ...
 *
 * Absurd inputs print `CAPACITY_OUT_OF_RANGE: <input and its range>` and exit with status 2.
 */
import { parseArgs } from 'node:util';
import { isTribuneError, TribuneError } from '../../errors.js';
import type { ArrivalProfile } from './des.js';
import { loadFigures, type LoadedFigures } from './figures.js';
import { toNumber, type CapacityInput } from './model.js';
import { capacityReport, DEFAULT_CPU_TARGET, type CapacityReport, type SimOptions } from './predict.js';

export const USAGE = `usage: tribune capacity --listeners N (--arrival-per-sec R | --arrival-window S) [options]
  --bitrate-kbps K          audio bitrate (default 32)
  --mode stream|llhls       how listeners play (default stream)
  --profile ramp|step|lobby arrival: N over N/R s, N at once, or N waiting for the start (default ramp)
  --edges K                 run K edges instead of the computed number
  --balance even|random     how listeners land on edges (default even)
  --cpu-target F            share of an edge core planned for (default ${DEFAULT_CPU_TARGET})
  --max-listeners-per-edge N, --joins-per-core N
  --price-core-hour P, --price-gb-egress P, --price-gb-ram-hour P   (default 0: not priced)
  --figures FILE            per-node figures (default bench/results/edge.json)
  simulation: --rtt-ms, --handshake-rtts, --join-service-ms, --poll-service-ms, --poll-ms,
    --abandon-after-s, --join-window-s, --max-listeners, --joins-per-sec (per-edge limits),
    --sample-edges, --seed (default 1), --no-sim
  --json                    one JSON object as the last line`;

const NUMERIC = [
  'listeners',
  'arrival-per-sec',
  'arrival-window',
  'bitrate-kbps',
  'edges',
  'cpu-target',
  'max-listeners-per-edge',
  'joins-per-core',
  'price-core-hour',
  'price-gb-egress',
  'price-gb-ram-hour',
  'rtt-ms',
  'handshake-rtts',
  'join-service-ms',
  'poll-service-ms',
  'poll-ms',
  'abandon-after-s',
  'join-window-s',
  'max-listeners',
  'joins-per-sec',
  'sample-edges',
  'seed',
] as const;

export interface CapacityArgs {
  input: CapacityInput;
  sim: SimOptions | null;
  figuresFile?: string;
  json: boolean;
}

const out = (why: string) => new TribuneError('CAPACITY_OUT_OF_RANGE', why);

/** Parses `tribune capacity` arguments; range errors are CAPACITY_OUT_OF_RANGE (checked again by the model). */
export function parseCapacityArgs(argv: string[]): CapacityArgs {
  const options = Object.fromEntries(NUMERIC.map((k) => [k, { type: 'string' as const }]));
  // `--listeners -5`: a negative number is the option's value (to be refused), not an option
  const args: string[] = [];
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    const next = argv[k + 1];
    if (NUMERIC.some((n) => a === `--${n}`) && next !== undefined && /^-[\d.]/.test(next)) {
      args.push(`${a}=${next}`);
      k++;
    } else args.push(a);
  }
  const { values } = parseArgs({
    args,
    options: {
      ...options,
      mode: { type: 'string', default: 'stream' },
      profile: { type: 'string', default: 'ramp' },
      balance: { type: 'string', default: 'even' },
      figures: { type: 'string' },
      'no-sim': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const v = values as Record<string, string | boolean | undefined>;
  const num = (k: (typeof NUMERIC)[number]): number | undefined =>
    typeof v[k] === 'string' ? toNumber(v[k]) : undefined;
  const listeners = num('listeners');
  if (listeners === undefined) throw out('listeners is required (1 to 1000000000)');
  const rate = num('arrival-per-sec');
  const window = num('arrival-window');
  if ((rate === undefined) === (window === undefined))
    throw out('give one of arrival-per-sec (listeners per second) or arrival-window (seconds)');
  if (window !== undefined && !(window >= 0.001 && window <= 604_800))
    throw out(
      `arrival-window must be a number from 0.001 to 604800 s (got ${v['arrival-window'] as string})`,
    );
  const maxL = num('max-listeners');
  const jps = num('joins-per-sec');
  if ((maxL === undefined) !== (jps === undefined))
    throw out('give both max-listeners and joins-per-sec, or neither');
  const input: CapacityInput = {
    listeners,
    arrivalPerSec: rate ?? listeners / window!,
    bitrateKbps: num('bitrate-kbps') ?? 32,
    mode: v.mode as CapacityInput['mode'],
    cpuTarget: num('cpu-target') ?? DEFAULT_CPU_TARGET,
    maxListenersPerEdge: num('max-listeners-per-edge'),
    joinsPerCore: num('joins-per-core'),
    edges: num('edges'),
    balance: v.balance as CapacityInput['balance'],
    prices: {
      coreHour: num('price-core-hour') ?? 0,
      gbEgress: num('price-gb-egress') ?? 0,
      gbRamHour: num('price-gb-ram-hour') ?? 0,
    },
  };
  const sim: SimOptions | null = v['no-sim']
    ? null
    : {
        profile: v.profile as ArrivalProfile,
        seed: num('seed') ?? 1,
        rttMs: num('rtt-ms'),
        handshakeRtts: num('handshake-rtts'),
        joinServiceMs: num('join-service-ms'),
        pollServiceMs: num('poll-service-ms'),
        pollMs: num('poll-ms'),
        abandonAfterS: num('abandon-after-s'),
        joinWindowS: num('join-window-s'),
        sampleEdges: num('sample-edges'),
        limits: maxL !== undefined ? { maxListeners: maxL, joinsPerSec: jps! } : undefined,
      };
  return { input, sim, figuresFile: v.figures as string | undefined, json: v.json === true };
}

const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
const n1 = (x: number, d = 1) => x.toLocaleString('en-US', { maximumFractionDigits: d });
const money = (x: number) => x.toLocaleString('en-US', { maximumSignificantDigits: 4 });

export function formatReport(args: CapacityArgs, loaded: LoadedFigures, r: CapacityReport): string[] {
  const { input: i } = args;
  const { plan: p, des, simulation: s } = r;
  const f = loaded.figures;
  const lines: string[] = [];
  const profile = des?.profile ?? 'ramp';
  const arrival =
    profile === 'ramp'
      ? `arriving at ${n0(i.arrivalPerSec)}/s (a ramp over ${n1(i.listeners / i.arrivalPerSec)} s)`
      : profile === 'step'
        ? 'arriving all at once (step)'
        : 'waiting in the lobby for the start';
  lines.push(
    `tribune capacity: ${n0(i.listeners)} listeners ${arrival}, ${n1(i.bitrateKbps)} kbps, ${i.mode}`,
  );
  lines.push(
    `figures: ${loaded.source} (${f.command}, ${f.date}, ${f.machine.cores} x ${f.machine.cpu_model}${f.git ? `, git ${f.git}` : ''})`,
  );
  lines.push(
    `  ${n0(p.basis.listenersPerCore)} listeners per core (${p.basis.listenersPerCoreSource}); ` +
      `${n0(p.basis.joinsPerCore)} joins/s per core (${p.basis.joinsPerCoreSource}); ` +
      `${p.basis.kbPerListener} KB per listener + ${n1(p.basis.edgeBaseRssMb)} MB per edge; ` +
      `${f.wire_bytes_per_listener_s ?? 'no'} B per listener-second measured on the wire at ${f.bench_bitrate_kbps} kbps`,
  );
  lines.push('');
  lines.push(`Plan (an edge = one edge process on one core, planned at ${n0(i.cpuTarget * 100)}% of it)`);
  lines.push(
    `  edges       ${n0(p.edges)}  (for listeners ${n0(p.edgesForListeners)}, for joins ${n0(p.edgesForJoins)}, ` +
      `for random balance ${n0(p.edgesForRandomBalance)}; decided by ${p.limitedBy})`,
  );
  lines.push(
    `  per edge    cap ${n0(p.perEdge.maxListeners)} listeners and ${n0(p.perEdge.joinsPerSec)} joins/s; ` +
      `holds ${n0(p.perEdge.listeners)} listeners, ${n0(p.perEdge.memoryMb)} MB, ${n0(p.perEdge.mbitPerS)} Mbit/s`,
  );
  lines.push(`  cores       ${n0(p.cores)}`);
  lines.push(`  memory      ${n1(p.memoryGb)} GB`);
  lines.push(
    `  bandwidth   ${n1(p.bandwidth.gbitPerS, 2)} Gbit/s out of the edges (${n0(p.bandwidth.bytesPerListenerS)} B per listener-second: ` +
      `${n0((i.bitrateKbps * 1000) / 8)} audio + ${n0(p.bandwidth.overheadBytesPerS)} overhead); ${n0(p.bandwidth.egressGbPerHour)} GB per hour`,
  );
  const used = Object.entries(p.pricesUsed);
  if (!used.length)
    lines.push('  cost        not priced (pass --price-core-hour, --price-gb-egress, --price-gb-ram-hour)');
  else
    lines.push(
      `  cost        ${money(p.cost.perListenerHour)} per listener-hour; ${money(p.cost.perHour)} per hour ` +
        `(cores ${money(p.cost.coresPerHour)}, egress ${money(p.cost.egressPerHour)}, RAM ${money(p.cost.ramPerHour)}); ` +
        `prices used: ${used.map(([k, x]) => `${k} ${x}`).join(', ')}; others 0`,
    );
  if (!s || !des) return lines;
  lines.push('');
  lines.push(
    `Simulation (seed ${des.seed}; ${n0(s.simulatedEdges)} of ${n0(des.edges)} edges simulated, ${n0(s.simulatedListeners)} listeners, ` +
      `totals x${n1(s.scale, 2)}; balance ${des.balance})`,
  );
  lines.push(
    `  per edge: cap ${n0(des.limits.maxListeners)}, ${n0(des.limits.joinsPerSec)} joins/s (${des.sources.limits}); ` +
      `RTT ${des.rttMs} ms (${des.sources.rttMs}), ${des.handshakeRtts} handshake RTTs (${des.sources.handshakeRtts}); ` +
      `per join ${n1(des.joinServiceMs, 4)} ms, per admit/poll ${n1(des.pollServiceMs, 4)} ms of edge core; ` +
      `polls: ${des.pollMs ? `every ${des.pollMs} ms` : des.sources.pollMs}` +
      (s.joinWindowS !== null ? `; lobby join window ${n1(s.joinWindowS, 2)} s (the edge's choice)` : ''),
  );
  const pc = (x: { p50: number; p99: number; n: number }) =>
    x.n ? `p50 ${n0(x.p50)} ms, p99 ${n0(x.p99)} ms (${n0(x.n)} simulated)` : 'none';
  lines.push(
    `  time to first audio  p50 ${n0(s.firstAudioMs.p50)} ms, p90 ${n0(s.firstAudioMs.p90)} ms, p99 ${n0(s.firstAudioMs.p99)} ms, ` +
      `max ${n0(s.firstAudioMs.max)} ms (from ${des.profile === 'lobby' ? "the host's start" : "each listener's arrival"})`,
  );
  lines.push(
    `    admitted at once: ${pc(s.firstAudioAtOnceMs)}; from the queue: ${pc(s.firstAudioFromQueueMs)}`,
  );
  lines.push(
    `  admitted ${n0(s.admitted)} (${n0(s.admittedAtOnce)} at once), still queued ${n0(s.queued)}, gave up ${n0(s.abandoned)}; ` +
      `peak queue ${n0(s.peakQueue)} at ${n1(s.peakQueueAtS)} s (${n0(s.peakQueuePerEdge)} on the busiest simulated edge); ` +
      `longest wait for an edge core ${n0(s.maxServerWaitMs)} ms; last first audio at ${n1(s.lastFirstAudioS, 2)} s`,
  );
  lines.push('     t s     arrived    admitted     playing      queued');
  const rows =
    s.timeline.length > 12
      ? s.timeline.filter((_, k) => k % Math.ceil(s.timeline.length / 12) === 0)
      : s.timeline;
  for (const t of [...rows, ...(rows.at(-1) === s.timeline.at(-1) ? [] : s.timeline.slice(-1))])
    lines.push(
      `  ${n1(t.tS).padStart(6)}  ${n0(t.arrived).padStart(10)}  ${n0(t.admitted).padStart(10)}  ${n0(t.playing).padStart(10)}  ${n0(t.queued).padStart(10)}`,
    );
  if (s.queued > 0)
    lines.push(
      `  note: ${n0(s.queued)} listeners were still queued ${n0(s.endS - s.lastFirstAudioS)} s after the last first audio: ` +
        'their edges are full (listeners do not leave in the simulation); add edges or raise the cap',
    );
  return lines;
}

/** `bitrateKbps must be ...` -> `--bitrate-kbps must be ...` (the model names inputs in camelCase). */
export function asFlag(detail: string): string {
  const m = /^(price )?([a-z][A-Za-z]*)\b/.exec(detail);
  if (!m) return detail;
  const flag = `${m[1] ? 'price-' : ''}${m[2]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const known =
    (NUMERIC as readonly string[]).includes(flag) || ['mode', 'profile', 'balance'].includes(flag);
  return known ? `--${flag}${detail.slice(m[0].length)}` : detail;
}

/** Runs the command; returns the exit status (2 for CAPACITY_OUT_OF_RANGE and bad usage). */
export function runCapacityCli(
  argv: string[],
  print: (line: string) => void = (l) => console.log(l),
  printErr: (line: string) => void = (l) => console.error(l),
): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    print(USAGE);
    return 0;
  }
  try {
    const args = parseCapacityArgs(argv);
    const loaded = loadFigures(args.figuresFile);
    const report = capacityReport(args.input, loaded.figures, args.sim);
    if (args.json) {
      const sim = report.simulation;
      for (const line of formatReport(args, loaded, report)) print(line);
      print(
        JSON.stringify({
          input: args.input,
          figures: { source: loaded.source, ...loaded.figures },
          plan: report.plan,
          des: report.des,
          simulation: sim ? { ...sim, trace: undefined } : null,
        }),
      );
    } else for (const line of formatReport(args, loaded, report)) print(line);
    return 0;
  } catch (err) {
    if (isTribuneError(err) && err.code === 'CAPACITY_OUT_OF_RANGE') {
      printErr(`CAPACITY_OUT_OF_RANGE: ${asFlag(err.detail ?? err.message)}`);
      return 2;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      printErr(`tribune capacity: ${err.message}\n${USAGE}`);
      return 2;
    }
    printErr(`tribune capacity: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
