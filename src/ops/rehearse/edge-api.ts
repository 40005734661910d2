/**
 * What the rehearsal asks the deployment besides the listener protocol, all with the rehearsal
 * token: the token check (`GET /hls/rehearsal`), the edge's admission stats and limits
 * (`GET /hls/admission`, `POST /hls/admission/limits`), and its Prometheus metrics (`/metrics`:
 * process CPU and memory, admission gauges).
 */
import { REHEARSAL_HEADER } from '../../edge/admission/tokens.js';

export interface AdmissionLimits {
  maxListeners: number;
  joinsPerSec: number;
}

export interface AdmissionStats {
  active: number;
  reserved: number;
  issued: number;
  serving: number;
  waiting: number;
  admitted: number;
  abandoned: number;
  queueRatePerSec: number;
  limits: AdmissionLimits;
}

/** The deployment refused the rehearsal (or cannot be asked). `code` is Tribune's error code. */
export class RehearsalRefusedError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RehearsalRefusedError';
  }
}

const base = (target: string): string => target.replace(/\/+$/, '');

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  const text = await res.text().catch(() => '');
  try {
    const j = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (j.error?.code) return { code: j.error.code, message: j.error.message ?? '' };
  } catch {
    // not JSON
  }
  return { code: `HTTP_${res.status}`, message: text.slice(0, 200) };
}

/**
 * `GET /hls/rehearsal` with the token: resolves with the edge's answer, or throws
 * RehearsalRefusedError (REHEARSAL_TOKEN_REQUIRED / _INVALID / _EXPIRED, or why it could not ask).
 */
export async function checkRehearsal(
  target: string,
  token: string | undefined,
): Promise<{ ok: true; edge: string; expiresAtMs: number }> {
  let res: Response;
  try {
    res = await fetch(`${base(target)}/hls/rehearsal`, {
      headers: token ? { [REHEARSAL_HEADER]: token } : {},
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new RehearsalRefusedError(
      'UNREACHABLE',
      0,
      `cannot reach ${target}: ${(err as Error).cause ?? (err as Error).message}`,
    );
  }
  if (res.status === 200) {
    const j = (await res.json().catch(() => ({}))) as { ok?: boolean; edge?: string; expiresAtMs?: number };
    if (j.ok === true) return { ok: true, edge: String(j.edge ?? ''), expiresAtMs: Number(j.expiresAtMs) };
    throw new RehearsalRefusedError('BAD_ANSWER', 200, 'GET /hls/rehearsal answered 200 without {"ok":true}');
  }
  const e = await errorOf(res);
  const why =
    res.status === 404 && e.code !== 'REHEARSAL_TOKEN_REQUIRED'
      ? 'this deployment does not accept rehearsals (no /hls/rehearsal)'
      : e.message;
  throw new RehearsalRefusedError(
    e.code,
    res.status,
    `the deployment refused the rehearsal: ${e.code} (${res.status}) ${why}`,
  );
}

export async function getAdmission(target: string, token: string): Promise<AdmissionStats | null> {
  try {
    const res = await fetch(`${base(target)}/hls/admission`, {
      headers: { [REHEARSAL_HEADER]: token },
      signal: AbortSignal.timeout(5_000),
    });
    if (res.status !== 200) {
      await res.arrayBuffer();
      return null;
    }
    return (await res.json()) as AdmissionStats;
  } catch {
    return null;
  }
}

/** `POST /hls/admission/limits` (the operator raising the cap). Throws on refusal. */
export async function setAdmissionLimits(
  target: string,
  token: string,
  limits: Partial<AdmissionLimits>,
): Promise<AdmissionStats | null> {
  const res = await fetch(`${base(target)}/hls/admission/limits`, {
    method: 'POST',
    headers: { [REHEARSAL_HEADER]: token, 'content-type': 'application/json' },
    body: JSON.stringify(limits),
    signal: AbortSignal.timeout(5_000),
  });
  if (res.status >= 300) {
    const e = await errorOf(res);
    throw new RehearsalRefusedError(e.code, res.status, `POST /hls/admission/limits: ${e.code} ${e.message}`);
  }
  return (await res.json().catch(() => null)) as AdmissionStats | null;
}

/** Prometheus text -> name{labels} -> value. */
export function parsePrometheusText(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

export interface MetricsSample {
  at: number;
  cpuSeconds: number | null;
  rssBytes: number | null;
  /** tribune_edge_admission_* gauges */
  admission: Record<string, number>;
}

/** First metric present among `names`, else one whose name ends with `suffix`. */
function pick(m: Map<string, number>, names: string[], suffix: string): number | null {
  for (const n of names) if (m.has(n)) return m.get(n)!;
  for (const [k, v] of m) if (k.endsWith(suffix)) return v;
  return null;
}

export async function sampleMetrics(url: string): Promise<MetricsSample | null> {
  try {
    const res = await fetch(`${base(url)}/metrics`, { signal: AbortSignal.timeout(2_000) });
    const text = await res.text();
    if (res.status !== 200) return null;
    const m = parsePrometheusText(text);
    const admission: Record<string, number> = {};
    for (const [k, v] of m) if (k.startsWith('tribune_edge_admission_')) admission[k] = v;
    return {
      at: Date.now(),
      cpuSeconds: pick(
        m,
        ['tribune_edge_process_cpu_seconds_total', 'process_cpu_seconds_total'],
        'process_cpu_seconds_total',
      ),
      rssBytes: pick(
        m,
        ['tribune_edge_process_resident_memory_bytes', 'process_resident_memory_bytes'],
        'process_resident_memory_bytes',
      ),
      admission,
    };
  } catch {
    return null;
  }
}
