/**
 * The rehearsal report as one self-contained HTML page: a summary table and inline SVG plots
 * (listeners admitted / queued / failed / playing over time, the edges' CPU and memory over time,
 * time to first audio and gap distributions). No scripts, styles or fonts from anywhere else.
 */
import type { Report } from './types.js';

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

const W = 760;
const H = 260;
const PAD = { l: 64, r: 16, t: 42, b: 40 };

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

const fmt = (v: number): string =>
  Math.abs(v) >= 1e6
    ? `${+(v / 1e6).toFixed(1)}M`
    : Math.abs(v) >= 1e4
      ? `${+(v / 1e3).toFixed(1)}k`
      : `${+v.toFixed(2)}`;

/** A line chart (x in seconds). `id` names the <svg> (tests look for it). */
export function lineChart(
  id: string,
  title: string,
  yLabel: string,
  series: Series[],
  marks: { t: number; label: string }[] = [],
): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = niceMax(Math.max(1, ...xs, ...marks.map((m) => m.t)));
  const yMax = niceMax(Math.max(0, ...ys));
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const X = (x: number): number => PAD.l + (x / xMax) * iw;
  const Y = (y: number): number => PAD.t + ih - (y / yMax) * ih;
  const out: string[] = [
    `<svg id="${esc(id)}" class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`,
    `<text x="${PAD.l}" y="18" class="title">${esc(title)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const y = (yMax * k) / 4;
    out.push(
      `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${Y(y)}" y2="${Y(y)}" class="grid"/>`,
      `<text x="${PAD.l - 6}" y="${Y(y) + 4}" text-anchor="end">${fmt(y)}</text>`,
    );
    const x = (xMax * k) / 4;
    out.push(`<text x="${X(x)}" y="${H - PAD.b + 16}" text-anchor="middle">${fmt(x)}</text>`);
  }
  out.push(
    `<text x="${PAD.l + iw / 2}" y="${H - 6}" text-anchor="middle">seconds</text>`,
    `<text x="14" y="${PAD.t + ih / 2}" text-anchor="middle" transform="rotate(-90 14 ${PAD.t + ih / 2})">${esc(yLabel)}</text>`,
  );
  for (const m of marks)
    out.push(
      `<line x1="${X(m.t)}" x2="${X(m.t)}" y1="${PAD.t}" y2="${PAD.t + ih}" class="mark"/>`,
      `<text x="${X(m.t) + 3}" y="${PAD.t + 10}" class="marklabel">${esc(m.label)}</text>`,
    );
  series.forEach((s, i) => {
    if (s.points.length) {
      const d = s.points.map(([x, y], k) => `${k ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join('');
      out.push(`<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="2"/>`);
    }
    const lx = PAD.l + 10 + i * 120;
    out.push(
      `<rect x="${lx}" y="${PAD.t - 14}" width="10" height="3" fill="${esc(s.color)}"/>`,
      `<text x="${lx + 14}" y="${PAD.t - 9}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('');
}

/** A bar chart of histogram buckets (`le_ms` null: above the last bound). */
export function barChart(
  id: string,
  title: string,
  buckets: { le_ms: number | null; count: number }[],
): string {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const yMax = niceMax(Math.max(1, ...buckets.map((b) => b.count)));
  const bw = iw / Math.max(1, buckets.length);
  const out: string[] = [
    `<svg id="${esc(id)}" class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`,
    `<text x="${PAD.l}" y="18" class="title">${esc(title)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const y = PAD.t + ih - (ih * k) / 4;
    out.push(
      `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y}" y2="${y}" class="grid"/>`,
      `<text x="${PAD.l - 6}" y="${y + 4}" text-anchor="end">${fmt((yMax * k) / 4)}</text>`,
    );
  }
  let prev = 0;
  buckets.forEach((b, i) => {
    const h = (b.count / yMax) * ih;
    const x = PAD.l + i * bw;
    const label = b.le_ms === null ? `>${fmt(prev)}` : `≤${fmt(b.le_ms)}`;
    if (b.le_ms !== null) prev = b.le_ms;
    out.push(
      `<rect x="${(x + 4).toFixed(1)}" y="${(PAD.t + ih - h).toFixed(1)}" width="${(bw - 8).toFixed(1)}" height="${h.toFixed(1)}" fill="#3b6fd8"/>`,
      `<text x="${(x + bw / 2).toFixed(1)}" y="${H - PAD.b + 16}" text-anchor="middle">${esc(label)}</text>`,
    );
    if (b.count)
      out.push(
        `<text x="${(x + bw / 2).toFixed(1)}" y="${(PAD.t + ih - h - 4).toFixed(1)}" text-anchor="middle">${b.count}</text>`,
      );
  });
  out.push(`<text x="${PAD.l + iw / 2}" y="${H - 6}" text-anchor="middle">ms</text>`, '</svg>');
  return out.join('');
}

export function reportHtml(r: Report): string {
  const sec = (t: number): number => t / 1000;
  const tl = r.timeline;
  const line = (k: keyof (typeof tl)[number]): [number, number][] =>
    tl.filter((p) => typeof p[k] === 'number').map((p) => [sec(p.t), p[k] as number]);
  const marks = r.marks.map((m) => ({ t: sec(m.t), label: m.label }));
  const rows: [string, unknown][] = [
    ['target', r.target],
    ['Space', r.space],
    ['profile', `${r.profile}: ${r.listeners} listeners over ${r.overSeconds} s, ${r.mode}`],
    ['started', r.startedAt],
    ['duration', `${r.durationS} s`],
    ['cap (edge maxListeners)', r.cap ?? 'unknown'],
    ['arrivals / admitted / failed', `${r.arrivals} / ${r.admitted} / ${r.failed}`],
    ['largest queue', r.queued_max],
    ['errors (5xx)', `${r.errors} (${r.http_5xx})`],
    [
      'time to first audio p50 / p99',
      `${r.first_audio_ms.p50 ?? '-'} / ${r.first_audio_ms.p99 ?? '-'} ms (n=${r.first_audio_ms.n})`,
    ],
    [
      'the same net of client stalls p50 / p99',
      `${r.first_audio_net_of_client_stalls_ms.p50 ?? '-'} / ${r.first_audio_net_of_client_stalls_ms.p99 ?? '-'} ms`,
    ],
    [
      'after the queue p50 / p99',
      `${r.first_audio_after_queue_ms.p50 ?? '-'} / ${r.first_audio_after_queue_ms.p99 ?? '-'} ms (n=${r.first_audio_after_queue_ms.n})`,
    ],
    [
      'listeners with a gap over 1 s (net of client stalls)',
      `${r.admitted_gaps_over_1s} (${r.gaps.listeners_over_net_of_client_stalls}) of ${r.played} playing`,
    ],
    ['positions only went down', r.positions_monotonic],
    ['admitted in ticket order', `${r.admitted_in_order} (${r.order_violations} violations)`],
    ['edge CPU max / mean', `${r.edges.cpu_cores_max ?? '-'} / ${r.edges.cpu_cores_mean ?? '-'} cores`],
    ['edge RSS max', `${r.edges.rss_mb_max ?? '-'} MB`],
    ['client loop delay max, stalls in all', `${r.client.loop_delay_max_ms} ms, ${r.client.stall_ms} ms`],
    ['client lag (scheduled arrival -> first request) p99', `${r.client_lag_ms.p99 ?? '-'} ms`],
    ['all arrivals sent within', `${r.arrivals_sent_within_s ?? '-'} s`],
  ];
  const errors = Object.entries(r.errors_by_code)
    .map(([k, v]) => `<li><code>${esc(k)}</code>: ${v}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tribune rehearsal ${esc(r.startedAt)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;max-width:800px}
table{border-collapse:collapse}td{padding:3px 12px 3px 0;border-bottom:1px solid #e4e7ee;vertical-align:top}
td:first-child{color:#5a6275}.plot{display:block;margin:18px 0;background:#fafbfd;border:1px solid #e4e7ee}
.plot text{font:11px system-ui,sans-serif;fill:#3a4152}.plot .title{font-weight:600;font-size:13px}
.grid{stroke:#e4e7ee}.mark{stroke:#999;stroke-dasharray:4 3}.marklabel{fill:#666}
</style></head><body>
<h1>Tribune rehearsal</h1>
<table>${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table>
${errors ? `<h2>Errors</h2><ul>${errors}</ul>` : ''}
${lineChart(
  'listeners',
  'Listeners over time',
  'listeners',
  [
    { name: 'admitted', color: '#2f9e44', points: line('admitted') },
    { name: 'queued', color: '#f08c00', points: line('queued') },
    { name: 'playing', color: '#3b6fd8', points: line('playing') },
    { name: 'failed', color: '#e03131', points: line('failed') },
  ],
  marks,
)}
${lineChart('edge-cpu', 'Edge CPU (from /metrics)', 'cores', [{ name: 'edge CPU', color: '#7048e8', points: line('edgeCpuCores') }], marks)}
${lineChart(
  'edge-memory',
  'Edge memory (resident, from /metrics)',
  'MB',
  [{ name: 'edge RSS', color: '#0c8599', points: line('edgeRssBytes').map(([x, y]) => [x, y / 2 ** 20]) }],
  marks,
)}
${barChart('first-audio', 'Time to first audio', r.first_audio_hist)}
${barChart('gaps', 'Largest gap between two parts, per playing listener', r.gap_hist)}
<details><summary>Report JSON</summary><pre>${esc(JSON.stringify({ ...r, timeline: `${tl.length} points` }, null, 2))}</pre></details>
</body></html>
`;
}
