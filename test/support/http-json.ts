/** A small JSON GET/POST over node:http with a chosen source address (per-address limits) and headers. */
import http from 'node:http';

export interface JsonAnswer<T = unknown> {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: T;
}

const agents = new Map<string, http.Agent>();
function agentFor(localAddress: string | undefined): http.Agent {
  const key = localAddress ?? '';
  let a = agents.get(key);
  if (!a) {
    a = new http.Agent({ keepAlive: true, maxSockets: 32, ...(localAddress ? { localAddress } : {}) });
    agents.set(key, a);
  }
  return a;
}

export function requestJson<T = unknown>(
  url: string,
  opts: { method?: string; localAddress?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<JsonAnswer<T>> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const req = http.request(
      url,
      {
        method: opts.method ?? 'GET',
        agent: agentFor(opts.localAddress),
        headers: {
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': String(payload.length) }
            : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body as T });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export function closeJsonAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}
