/** A uPlot chart in a card: made once per spec key, fed new data on each poll, sized to its box. */
import { useEffect, useId, useRef, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { clock, compact } from './format.js';

export const AXIS: uPlot.Axis = {
  stroke: '#8f98ab',
  grid: { stroke: 'rgba(255, 255, 255, 0.06)', width: 1 },
  ticks: { stroke: 'rgba(255, 255, 255, 0.08)', width: 1 },
  font: '12px system-ui, sans-serif',
};

/** Unix seconds as 24-hour `HH:MM:SS` (as the header's "Updated …"), or an en dash. */
const timeOf = (v: number | null | undefined): string => (v == null ? '–' : clock(v * 1000));

/** The time axis: 24-hour `HH:MM:SS` labels on one row (no date row), spaced to fit them. */
export const TIME_AXIS: uPlot.Axis = {
  ...AXIS,
  space: 80,
  size: 36,
  values: (_u, splits) => splits.map((v) => timeOf(v)),
};

/** A y axis of counts: 10K rather than 10,000 (fits the axis). */
export const COUNT_AXIS: uPlot.Axis = { ...AXIS, values: (_u, splits) => splits.map((v) => compact(v)) };

/** Draws a series as steps (for levels such as the tier and the verdict). */
export const stepped = uPlot.paths.stepped?.({ align: 1 });

export interface PlotSpec {
  /** Changes when the series change (new Space or edge): the plot is then made anew. */
  key: string;
  series: uPlot.Series[];
  scales?: uPlot.Scales;
  /** The axes, the time axis first ([TIME_AXIS, COUNT_AXIS] unless given). */
  axes?: uPlot.Axis[];
  hooks?: uPlot.Hooks.Arrays;
}

export function Plot({
  testId,
  title,
  description,
  spec,
  data,
  children,
}: {
  testId: string;
  title: string;
  description: string;
  spec: PlotSpec;
  data: uPlot.AlignedData;
  children?: ReactNode;
}) {
  const boxRef = useRef<HTMLDivElement | null>(null);
  const plotRef = useRef<uPlot | null>(null);
  const dataRef = useRef(data);
  dataRef.current = data;
  const specRef = useRef(spec);
  specRef.current = spec;
  const headingId = useId();

  useEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    const s = specRef.current;
    const height = (): number => (box.clientWidth < 480 ? 200 : 240);
    const u = new uPlot(
      {
        width: Math.max(200, box.clientWidth),
        height: height(),
        series: [{ label: 'Time', value: (_u, v) => timeOf(v) }, ...s.series],
        scales: { x: { time: true }, ...s.scales },
        axes: s.axes ?? [TIME_AXIS, COUNT_AXIS],
        hooks: s.hooks,
        cursor: { points: { size: 6 } },
        legend: { live: true },
      },
      dataRef.current,
      box,
    );
    plotRef.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, box.clientWidth);
      if (w !== u.width) u.setSize({ width: w, height: height() });
    });
    ro.observe(box);
    return () => {
      ro.disconnect();
      u.destroy();
      plotRef.current = null;
    };
  }, [spec.key]);

  useEffect(() => {
    plotRef.current?.setData(data);
  }, [data]);

  const t = data[0] as number[];
  return (
    <figure
      className="card ops-card ops-plot"
      data-testid={testId}
      data-last-t={t.length ? t[t.length - 1] : ''}
      data-points={t.length}
      aria-labelledby={headingId}
    >
      <h3 id={headingId} className="ops-plot-title">
        {title}
      </h3>
      <div ref={boxRef} className="ops-plot-box" aria-hidden="true" />
      <figcaption className="ops-plot-caption muted small" data-testid={`${testId}-text`}>
        {description}
      </figcaption>
      {children}
    </figure>
  );
}
