/**
 * The transparency report (`/moderation/report`, Art. 15 DSA; Implementing Regulation (EU)
 * 2024/2835 tables) for a period: notices by category, own-initiative restrictions, complaints,
 * suspensions and automation, with bar plots (the console's uPlot card) and the CSV download.
 */
import { useCallback, useMemo, useState } from 'react';
import uPlot from 'uplot';
import { ErrorBox, formatDate } from '../components.js';
import { AXIS, COUNT_AXIS, Plot, type PlotSpec } from '../ops/Plot.js';
import { usePolling } from '../poll.js';
import { modApi, reportCsvUrl, type Period, type TransparencyReport } from './api.js';
import { categoryWords, RESTRICTION_WORDS, Field } from './shared.js';

const DAY_MS = 86_400_000;
const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const dayMs = (d: string): number => Date.parse(`${d}T00:00:00Z`);

/** The form's dates (the "to" day included) as the server's `[from, to)`. */
export function periodOf(from: string, toInclusive: string): Period | null {
  const f = dayMs(from);
  const t = dayMs(toInclusive);
  if (!Number.isFinite(f) || !Number.isFinite(t) || f > t) return null;
  return { from: isoDay(f), to: isoDay(t + DAY_MS) };
}

const hours = (h: number | null): string => (h == null ? '—' : h < 10 ? h.toFixed(1) : h.toFixed(0));

const bars = uPlot.paths.bars;

/** A bar chart over categorical x (0..n-1, numbered 1..n on the axis, as in the table). */
function categoricalSpec(key: string, n: number, series: uPlot.Series[]): PlotSpec {
  const xs = Array.from({ length: n }, (_, i) => i);
  return {
    key: `${key}|${n}`,
    series,
    scales: {
      x: { time: false, range: [-0.6, Math.max(0, n - 1) + 0.6] },
      // Bars stand on zero.
      y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] },
    },
    axes: [
      { ...AXIS, space: 18, splits: () => xs, values: (_u, splits) => splits.map((v) => String(v + 1)) },
      COUNT_AXIS,
    ],
  };
}

export function Report() {
  const now = Date.now();
  const [from, setFrom] = useState(() => `${new Date(now).getUTCFullYear()}-01-01`);
  const [to, setTo] = useState(() => isoDay(now));
  const period = periodOf(from, to);
  const key = period ? `${period.from}|${period.to}` : 'invalid';

  return (
    <section className="mod-report" aria-labelledby="mod-report-title">
      <div className="ops-head">
        <h1 className="ops-title" id="mod-report-title">
          Transparency report
        </h1>
        {period && (
          <a
            className="btn btn-small btn-secondary"
            href={reportCsvUrl(period)}
            download
            data-testid="report-csv"
          >
            Download CSV
          </a>
        )}
      </div>
      <form className="inline-form card mod-period" onSubmit={(e) => e.preventDefault()} aria-label="Period">
        <Field label="From" className="field field-inline">
          {(p) => (
            <input
              {...p}
              className="input"
              type="date"
              value={from}
              max={to}
              onChange={(e) => setFrom(e.target.value)}
            />
          )}
        </Field>
        <Field label="To" className="field field-inline">
          {(p) => (
            <input
              {...p}
              className="input"
              type="date"
              value={to}
              min={from}
              onChange={(e) => setTo(e.target.value)}
            />
          )}
        </Field>
        <p className="muted small tight">Both days included (UTC). At most 400 days.</p>
      </form>
      {!period ? (
        <p className="mod-error" role="alert">
          Pick a start day on or before the end day.
        </p>
      ) : (
        <ReportBody key={key} period={period} />
      )}
    </section>
  );
}

function ReportBody({ period }: { period: Period }) {
  const load = useCallback(() => modApi.report(period), [period]);
  // Asked once (a report does not change by the second): refreshed each minute.
  const { data: r, error } = usePolling(load, {
    intervalMs: 60_000,
    stopOn: (e) => e.status === 400 || e.status === 401 || e.status === 403,
  });
  return (
    <div className="mod-report-body" data-testid="report" data-from={period.from} data-to={period.to}>
      {error && <ErrorBox error={error} title={r ? 'Not updating' : "Can't load the report"} />}
      {!r && !error && <div className="skeleton" aria-label="Loading" />}
      {r && <ReportTables r={r} />}
    </div>
  );
}

function ReportTables({ r }: { r: TransparencyReport }) {
  const cats = r.notices.byCategory;
  const restr = r.ownInitiative.byRestriction;

  const noticeSpec = useMemo(
    () =>
      categoricalSpec('notices', cats.length, [
        {
          label: 'Notices',
          stroke: '#a48bff',
          fill: 'rgba(164, 139, 255, 0.55)',
          paths: bars?.({ size: [0.7, 48] }),
        },
        {
          label: 'Trusted flagger',
          stroke: '#ffb547',
          fill: 'rgba(255, 181, 71, 0.75)',
          paths: bars?.({ size: [0.35, 24] }),
        },
        { label: 'Acted on', stroke: '#2fd28a', width: 2, points: { show: true, size: 6 } },
      ]),
    [cats.length],
  );
  const noticeData = useMemo<uPlot.AlignedData>(
    () => [
      cats.map((_, i) => i),
      cats.map((c) => c.total),
      cats.map((c) => c.trustedFlagger),
      cats.map((c) => c.actedOn),
    ],
    [cats],
  );
  const restrSpec = useMemo(
    () =>
      categoricalSpec('restrictions', restr.length, [
        {
          label: 'Restrictions',
          stroke: '#5cc8ff',
          fill: 'rgba(92, 200, 255, 0.55)',
          paths: bars?.({ size: [0.7, 48] }),
        },
        {
          label: 'Automated',
          stroke: '#ff7ab6',
          fill: 'rgba(255, 122, 182, 0.75)',
          paths: bars?.({ size: [0.35, 24] }),
        },
      ]),
    [restr.length],
  );
  const restrData = useMemo<uPlot.AlignedData>(
    () => [restr.map((_, i) => i), restr.map((x) => x.total), restr.map((x) => x.automated)],
    [restr],
  );

  return (
    <>
      <p className="muted small tight" data-testid="report-period">
        {formatDate(r.from)} to {formatDate(r.to)} (end excluded) · generated {formatDate(r.generatedAt)}
      </p>

      <div className="mod-report-grid">
        <section className="card ops-card" aria-labelledby="rep-notices">
          <h2 className="ops-card-title" id="rep-notices">
            Notices by category
          </h2>
          <div className="ops-table-wrap">
            <table className="ops-table mod-report-table" data-testid="report-notices">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Category</th>
                  <th scope="col">Notices</th>
                  <th scope="col">Trusted flagger</th>
                  <th scope="col">Acted on</th>
                  <th scope="col">Median hours to action</th>
                </tr>
              </thead>
              <tbody>
                {cats.map((c, i) => (
                  <tr key={c.category}>
                    <td data-label="#">{i + 1}</td>
                    <th scope="row">{categoryWords(c.category)}</th>
                    <td data-label="Notices">{c.total}</td>
                    <td data-label="Trusted flagger">{c.trustedFlagger}</td>
                    <td data-label="Acted on">{c.actedOn}</td>
                    <td data-label="Median hours">{hours(c.medianHoursToAction)}</td>
                  </tr>
                ))}
                <tr className="mod-total">
                  <td data-label="#" />
                  <th scope="row">All notices</th>
                  <td data-label="Notices">{r.notices.total}</td>
                  <td data-label="Trusted flagger">{r.notices.trustedFlagger}</td>
                  <td data-label="Acted on">{cats.reduce((n, c) => n + c.actedOn, 0)}</td>
                  <td data-label="Median hours">{hours(r.notices.medianHoursToAction)}</td>
                </tr>
              </tbody>
            </table>
          </div>
        </section>

        <section className="card ops-card" aria-labelledby="rep-own">
          <h2 className="ops-card-title" id="rep-own">
            Own-initiative restrictions
          </h2>
          <div className="ops-table-wrap">
            <table className="ops-table mod-report-table" data-testid="report-restrictions">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Restriction</th>
                  <th scope="col">Total</th>
                  <th scope="col">Automated</th>
                </tr>
              </thead>
              <tbody>
                {restr.map((x, i) => (
                  <tr key={x.restriction}>
                    <td data-label="#">{i + 1}</td>
                    <th scope="row">{RESTRICTION_WORDS[x.restriction] ?? x.restriction}</th>
                    <td data-label="Total">{x.total}</td>
                    <td data-label="Automated">{x.automated}</td>
                  </tr>
                ))}
                <tr className="mod-total">
                  <td data-label="#" />
                  <th scope="row">All</th>
                  <td data-label="Total">{r.ownInitiative.total}</td>
                  <td data-label="Automated">{restr.reduce((n, x) => n + x.automated, 0)}</td>
                </tr>
              </tbody>
            </table>
          </div>
        </section>
      </div>

      <div className="ops-plots mod-plots">
        <Plot
          testId="plot-notices"
          title="Notices by category"
          description={`${r.notices.total} notices (${r.notices.trustedFlagger} from trusted flaggers); bars numbered as in the table.`}
          spec={noticeSpec}
          data={noticeData}
        />
        <Plot
          testId="plot-restrictions"
          title="Own-initiative restrictions"
          description={`${r.ownInitiative.total} restrictions on the platform's own initiative; bars numbered as in the table.`}
          spec={restrSpec}
          data={restrData}
        />
      </div>

      <div className="mod-report-grid mod-report-small">
        <section className="card ops-card" aria-labelledby="rep-complaints" data-testid="report-complaints">
          <h2 className="ops-card-title" id="rep-complaints">
            Complaints (Art. 20)
          </h2>
          <dl className="mod-dl">
            <dt>Received</dt>
            <dd>{r.complaints.total}</dd>
            <dt>Upheld</dt>
            <dd>{r.complaints.upheld}</dd>
            <dt>Rejected</dt>
            <dd>{r.complaints.rejected}</dd>
            <dt>Open</dt>
            <dd>{r.complaints.open}</dd>
            <dt>Decisions reversed</dt>
            <dd>{r.complaints.reversals}</dd>
            <dt>Median hours to decide</dt>
            <dd>{hours(r.complaints.medianHoursToDecision)}</dd>
          </dl>
        </section>
        <section className="card ops-card" aria-labelledby="rep-susp" data-testid="report-suspensions">
          <h2 className="ops-card-title" id="rep-susp">
            Suspensions (Art. 23)
          </h2>
          <dl className="mod-dl">
            <dt>Accounts suspended</dt>
            <dd>{r.suspensions.accountsSuspended}</dd>
            <dt>Accounts terminated</dt>
            <dd>{r.suspensions.accountsTerminated}</dd>
            <dt>Warnings</dt>
            <dd>{r.suspensions.warnings}</dd>
            <dt>Notifiers paused</dt>
            <dd>{r.suspensions.notifiersPaused}</dd>
          </dl>
        </section>
        <section className="card ops-card" aria-labelledby="rep-auto" data-testid="report-automation">
          <h2 className="ops-card-title" id="rep-auto">
            Automated means
          </h2>
          <dl className="mod-dl">
            <dt>Statements of reasons</dt>
            <dd>{r.automation.statements}</dd>
            <dt>Automated detection</dt>
            <dd>{r.automation.automatedDetection}</dd>
            <dt>Automated decision</dt>
            <dd>{r.automation.automatedDecision}</dd>
          </dl>
        </section>
      </div>
    </>
  );
}
