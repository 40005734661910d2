/** A minimal browser for HTTP tests: a cookie jar, its own client address (X-Forwarded-For), the CSRF header. */
export class JarClient {
  readonly jar = new Map<string, string>();

  constructor(readonly address: string) {}

  /** `base` per call: the same browser (cookies) can talk to several origins. */
  async request(
    base: string,
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = 10_000,
  ): Promise<{ status: number; code?: string; ms: number }> {
    const headers: Record<string, string> = { 'x-forwarded-for': this.address };
    if (this.jar.size > 0) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (this.jar.has('tribune_csrf')) headers['x-csrf-token'] = this.jar.get('tribune_csrf')!;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const started = Date.now();
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    for (const h of res.headers.getSetCookie()) {
      const pair = h.split(';')[0]!;
      const eq = pair.indexOf('=');
      const [name, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
      if (value === '' || /max-age=0\b/i.test(h)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      // not JSON
    }
    return { status: res.status, code, ms: Date.now() - started };
  }
}
