/** The console's five live plots of the last 5 minutes, each with a text summary of its latest values. */
import { useMemo } from 'react';
import type uPlot from 'uplot';
import { VERDICT_CODE } from '../../edge/defence/types.js';
import { REQUEST_CLASSES, type DefenceOverview, type RequestClass, type Verdict } from '../ops-api.js';
import { fmt, last, pct } from './format.js';
import { AXIS, COUNT_AXIS, Plot, stepped, TIME_AXIS, type PlotSpec } from './Plot.js';

const CLASS_LABELS: Record<RequestClass, string> = {
  media_token: 'Media (token)',
  tokenless: 'Media (no token)',
  bad_token: 'Bad token',
  unknown_path: 'Unknown path',
  refused: 'Refused',
  control: 'Control',
};
const CLASS_SHORT: Record<RequestClass, string> = {
  media_token: 'media',
  tokenless: 'no token',
  bad_token: 'bad token',
  unknown_path: 'unknown path',
  refused: 'refused',
  control: 'control',
};
const CLASS_COLORS: Record<RequestClass, string> = {
  media_token: '#2fd28a',
  tokenless: '#5cc8ff',
  bad_token: '#ffb547',
  unknown_path: '#c08bff',
  refused: '#ff4d67',
  control: '#8f98ab',
};

const PALETTE = ['#a48bff', '#2fd28a', '#5cc8ff', '#ffb547', '#ff7ab6', '#f4e06d', '#7ee0c3', '#ff8a5c'];
const color = (i: number): string => PALETTE[i % PALETTE.length];
/** The CPU plot: cool colours for the CPU lines, warm ones for the tier steps (never the same). */
const CPU_COLORS = ['#a48bff', '#2fd28a', '#5cc8ff', '#7ee0c3'];
const TIER_COLORS = ['#ff8a5c', '#f4e06d', '#ff7ab6', '#ffb547'];

/** The verdict of each level the series carries (VERDICT_CODE, src/edge/defence/types.ts). */
const VERDICT_LEVELS: readonly Verdict[] = (Object.keys(VERDICT_CODE) as Verdict[]).reduce<Verdict[]>(
  (levels, v) => {
    levels[VERDICT_CODE[v]] = v;
    return levels;
  },
  [],
);
const BAND_COLORS = ['', 'rgba(255, 181, 71, 0.13)', 'rgba(255, 138, 92, 0.17)', 'rgba(255, 77, 103, 0.2)'];

function topKeys(rec: Record<string, number[]>, n: number): string[] {
  return Object.keys(rec)
    .sort((a, b) => (last(rec[b]) ?? 0) - (last(rec[a]) ?? 0) || a.localeCompare(b))
    .slice(0, n);
}

export function Plots({ overview }: { overview: DefenceOverview }) {
  const s = overview.series;
  const titles = useMemo(
    () => new Map(overview.spaces.map((sp) => [sp.spaceId, sp.title])),
    [overview.spaces],
  );
  const spaceName = (id: string): string => titles.get(id) || id;

  // (a) request classes
  const classesSpec = useMemo<PlotSpec>(
    () => ({
      key: 'classes',
      series: REQUEST_CLASSES.map((c) => ({
        label: CLASS_LABELS[c],
        stroke: CLASS_COLORS[c],
        width: 1.5,
        value: (_u: uPlot, v: number | null) => fmt(v),
      })),
    }),
    [],
  );
  const classesData = useMemo<uPlot.AlignedData>(
    () => [s.t, ...REQUEST_CLASSES.map((c) => s.classes[c] ?? [])],
    [s],
  );
  const classesText = `Requests per second by class, latest: ${REQUEST_CLASSES.map(
    (c) => `${CLASS_SHORT[c]} ${fmt(last(s.classes[c]))}`,
  ).join(', ')}.`;

  // (b) listeners per Space and per edge
  const spaceIds = topKeys(s.listenersBySpace, 8);
  const edgeIds = Object.keys(s.listenersByEdge).sort();
  const listenersKey = `listeners|${spaceIds.join(',')}|${edgeIds.join(',')}`;
  const spaceLabels = spaceIds.map(spaceName).join('\u0000');
  const listenersSpec = useMemo<PlotSpec>(
    () => ({
      key: listenersKey,
      series: [
        ...spaceIds.map((id, i) => ({
          label: spaceName(id),
          stroke: color(i),
          width: 1.5,
          value: (_u: uPlot, v: number | null) => fmt(v),
        })),
        ...edgeIds.map((id, i) => ({
          label: `Edge ${id}`,
          stroke: color(i + 3),
          width: 1.5,
          dash: [6, 4],
          value: (_u: uPlot, v: number | null) => fmt(v),
        })),
      ],
    }),
    [listenersKey, spaceLabels],
  );
  const listenersData = useMemo<uPlot.AlignedData>(
    () => [
      s.t,
      ...spaceIds.map((id) => s.listenersBySpace[id] ?? []),
      ...edgeIds.map((id) => s.listenersByEdge[id] ?? []),
    ],
    [s],
  );
  const listenersText =
    `Listeners, latest: ` +
    [
      spaceIds.length
        ? spaceIds.map((id) => `${spaceName(id)} ${fmt(last(s.listenersBySpace[id]))}`).join(', ')
        : 'no live Space',
      edgeIds.length
        ? edgeIds.map((id) => `edge ${id} ${fmt(last(s.listenersByEdge[id]))}`).join(', ')
        : 'no edge',
    ].join('; ') +
    '.';

  // (c) admission
  const admissionSpec = useMemo<PlotSpec>(
    () => ({
      key: 'admission',
      scales: { rate: { auto: true }, queue: { auto: true } },
      series: [
        { label: 'Joins/s', stroke: '#5cc8ff', width: 1.5, scale: 'rate', value: (_u, v) => fmt(v) },
        { label: 'Admitted/s', stroke: '#2fd28a', width: 1.5, scale: 'rate', value: (_u, v) => fmt(v) },
        {
          label: 'Queue',
          stroke: '#ffb547',
          width: 1.5,
          scale: 'queue',
          fill: 'rgba(255, 181, 71, 0.08)',
          value: (_u, v) => fmt(v),
        },
      ],
      axes: [TIME_AXIS, { ...COUNT_AXIS, scale: 'rate', label: 'per second', labelSize: 18 }, queueAxis()],
    }),
    [],
  );
  const admissionData = useMemo<uPlot.AlignedData>(
    () => [s.t, s.joinsPerSec, s.admittedPerSec, s.queue],
    [s],
  );
  const admissionText = `Admission, latest: joins ${fmt(last(s.joinsPerSec))}/s, admitted ${fmt(
    last(s.admittedPerSec),
  )}/s, queue ${fmt(last(s.queue))}.`;

  // (d) CPU per edge with the tier
  const cpuEdges = Array.from(new Set([...Object.keys(s.cpuByEdge), ...Object.keys(s.tierByEdge)])).sort();
  const cpuKey = `cpu|${cpuEdges.join(',')}`;
  const cpuSpec = useMemo<PlotSpec>(
    () => ({
      key: cpuKey,
      scales: { pct: { auto: false, range: [0, 100] }, tier: { auto: false, range: [0, 3.2] } },
      series: [
        ...cpuEdges.map((id, i) => ({
          label: `CPU ${id}`,
          stroke: CPU_COLORS[i % CPU_COLORS.length],
          width: 1.5,
          scale: 'pct',
          value: (_u: uPlot, v: number | null) => (v == null ? '–' : `${Math.round(v)}%`),
        })),
        ...cpuEdges.map((id, i) => ({
          label: `Tier ${id}`,
          stroke: TIER_COLORS[i % TIER_COLORS.length],
          width: 2,
          dash: [2, 3],
          scale: 'tier',
          paths: stepped,
          value: (_u: uPlot, v: number | null) => (v == null ? '–' : String(v)),
        })),
      ],
      axes: [
        TIME_AXIS,
        { ...AXIS, scale: 'pct', values: (_u, splits) => splits.map((v) => `${v}%`) },
        {
          ...AXIS,
          scale: 'tier',
          side: 1,
          grid: { show: false },
          splits: () => [0, 1, 2, 3],
          values: (_u, splits) => splits.map((v) => `T${v}`),
        },
      ],
    }),
    [cpuKey],
  );
  const cpuData = useMemo<uPlot.AlignedData>(
    () => [
      s.t,
      ...cpuEdges.map((id) => (s.cpuByEdge[id] ?? []).map((v) => (v == null ? v : v * 100))),
      ...cpuEdges.map((id) => s.tierByEdge[id] ?? []),
    ],
    [s],
  );
  const cpuText = cpuEdges.length
    ? `CPU and brownout tier per edge, latest: ${cpuEdges
        .map((id) => `${id} ${pct(last(s.cpuByEdge[id]) ?? 0)} tier ${fmt(last(s.tierByEdge[id]))}`)
        .join(', ')}.`
    : 'CPU and brownout tier per edge: no edge reporting.';

  // (e) distinct clients with the verdict
  const clientsSpec = useMemo<PlotSpec>(
    () => ({
      key: 'clients',
      scales: { clients: { auto: true }, verdict: { auto: false, range: [0, 3.2] } },
      series: [
        {
          label: 'Distinct clients',
          stroke: '#a48bff',
          width: 1.5,
          scale: 'clients',
          fill: 'rgba(124, 92, 255, 0.1)',
          value: (_u, v) => fmt(v),
        },
        {
          label: 'Verdict',
          stroke: '#ff7ab6',
          width: 1.5,
          scale: 'verdict',
          paths: stepped,
          value: (_u, v) => (v == null ? '–' : (VERDICT_LEVELS[v] ?? String(v))),
        },
      ],
      axes: [
        TIME_AXIS,
        { ...COUNT_AXIS, scale: 'clients' },
        {
          ...AXIS,
          scale: 'verdict',
          side: 1,
          size: 64,
          grid: { show: false },
          splits: () => [0, 1, 2, 3],
          values: (_u, splits) => splits.map((v) => VERDICT_LEVELS[v] ?? ''),
        },
      ],
      hooks: { drawClear: [drawVerdictBands] },
    }),
    [],
  );
  const clientsData = useMemo<uPlot.AlignedData>(() => [s.t, s.clients, s.verdict], [s]);
  const lastVerdict = last(s.verdict);
  const clientsText = `Distinct clients, latest: ${fmt(last(s.clients))}; verdict ${
    lastVerdict == null ? 'unknown' : (VERDICT_LEVELS[lastVerdict] ?? lastVerdict)
  }.`;

  return (
    <section className="ops-plots-section" aria-labelledby="ops-plots-h">
      <h2 id="ops-plots-h" className="ops-section-title">
        Last 5 minutes
      </h2>
      <div className="ops-plots">
        <Plot
          testId="plot-classes"
          title="Requests per second by class"
          description={classesText}
          spec={classesSpec}
          data={classesData}
        />
        <Plot
          testId="plot-listeners"
          title="Listeners per Space and per edge"
          description={listenersText}
          spec={listenersSpec}
          data={listenersData}
        >
          <p className="muted small tight ops-plot-note">Solid: Spaces (busiest 8). Dashed: edges.</p>
        </Plot>
        <Plot
          testId="plot-admission"
          title="Joins, admissions and queue"
          description={admissionText}
          spec={admissionSpec}
          data={admissionData}
        />
        <Plot
          testId="plot-cpu"
          title="CPU per edge, with brownout tier"
          description={cpuText}
          spec={cpuSpec}
          data={cpuData}
        >
          <p className="muted small tight ops-plot-note">Solid: CPU (left, %). Dotted steps: tier (right).</p>
        </Plot>
        <Plot
          testId="plot-clients"
          title="Distinct clients and verdict"
          description={clientsText}
          spec={clientsSpec}
          data={clientsData}
        >
          <p className="muted small tight ops-plot-note ops-bands-key">
            Background: <span className="ops-key ops-key-crowd">crowd</span>{' '}
            <span className="ops-key ops-key-mixed">mixed</span>{' '}
            <span className="ops-key ops-key-attack">attack</span>
          </p>
        </Plot>
      </div>
    </section>
  );
}

function queueAxis(): uPlot.Axis {
  return { ...COUNT_AXIS, scale: 'queue', side: 1, grid: { show: false }, label: 'queue', labelSize: 18 };
}

/** Shades the plot area behind the seconds whose verdict was not normal (series 2 of the clients plot). */
function drawVerdictBands(u: uPlot): void {
  const t = u.data[0];
  const v = u.data[2] as (number | null | undefined)[] | undefined;
  if (!v || t.length === 0) return;
  const { ctx } = u;
  const { top, height, left, width } = u.bbox;
  const step = t.length > 1 ? t[1] - t[0] : 1;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  let i = 0;
  while (i < t.length) {
    const level = v[i] ?? 0;
    let j = i + 1;
    while (j < t.length && (v[j] ?? 0) === level) j++;
    if (level > 0 && BAND_COLORS[level]) {
      const x0 = u.valToPos(t[i], 'x', true);
      const x1 = u.valToPos(j < t.length ? t[j] : t[t.length - 1] + step, 'x', true);
      ctx.fillStyle = BAND_COLORS[level];
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
    }
    i = j;
  }
  ctx.restore();
}
