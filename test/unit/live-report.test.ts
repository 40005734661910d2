import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveHub } from '../../src/live/hub.js';
import { liveOriginRoutes } from '../../src/live/origin-routes.js';
import { deriveEdgeSecret, signReport, verifyReportSignature } from '../../src/live/signature.js';
import { EDGE_SIGNATURE_HEADER, type EdgeReport } from '../../src/live/types.js';
import { DefenceTelemetry } from '../../src/edge/defence/telemetry.js';

const tokenSecret = Buffer.from('report-unit-secret');
const edgeSecret = deriveEdgeSecret(tokenSecret);

describe('report signatures', () => {
  const body = Buffer.from('{"edgeId":"e","atMs":1,"spaces":{}}');

  it('verifies the hex HMAC of the exact body, and nothing else', () => {
    const sig = signReport(edgeSecret, body);
    expect(sig).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyReportSignature(edgeSecret, body, sig)).toBe(true);
    expect(verifyReportSignature(edgeSecret, body, sig.toUpperCase())).toBe(true);
    expect(verifyReportSignature(edgeSecret, Buffer.from(body.toString().replace('1', '2')), sig)).toBe(
      false,
    );
    expect(verifyReportSignature(deriveEdgeSecret(Buffer.from('other')), body, sig)).toBe(false);
    expect(verifyReportSignature(edgeSecret, body, undefined)).toBe(false);
    expect(verifyReportSignature(edgeSecret, body, [sig])).toBe(false);
    expect(verifyReportSignature(edgeSecret, body, sig.slice(0, 62))).toBe(false);
    expect(verifyReportSignature(edgeSecret, body, 'zz' + sig.slice(2))).toBe(false);
  });

  it('derives the report key from the token secret (deterministic, never the secret itself)', () => {
    expect(deriveEdgeSecret(tokenSecret).equals(edgeSecret)).toBe(true);
    expect(edgeSecret.equals(tokenSecret)).toBe(false);
    expect(() => deriveEdgeSecret(Buffer.alloc(0))).toThrow();
  });
});

describe('POST /origin/live/report', () => {
  let app: FastifyInstance | undefined;
  let hub: LiveHub | undefined;
  afterEach(async () => {
    hub?.dispose();
    await app?.close();
  });

  async function setup(accessFor?: (id: string) => 'public' | 'signed-in') {
    hub = new LiveHub();
    hub.open('s1', { state: 'live', title: 't', speakers: [] });
    app = Fastify({ ajv: { customOptions: { removeAdditional: false } } });
    await app.register(liveOriginRoutes({ hub, edgeSecret, accessFor }), { prefix: '/origin' });
    return { hub, app };
  }

  const post = (a: FastifyInstance, payload: string, signature?: string) =>
    a.inject({
      method: 'POST',
      url: '/origin/live/report',
      headers: {
        'content-type': 'application/json',
        ...(signature === undefined ? {} : { [EDGE_SIGNATURE_HEADER]: signature }),
      },
      payload,
    });

  const report = (listeners: number, atMs = 1): EdgeReport => ({
    edgeId: 'edge-1',
    atMs,
    spaces: {
      s1: { listeners, reactions: {}, sample: [] },
      unknown: { listeners: 9, reactions: {}, sample: [] },
    },
  });

  it('takes a signed report (unknown Spaces ignored) with 204', async () => {
    const { hub, app } = await setup();
    const body = JSON.stringify(report(12));
    const res = await post(app, body, signReport(edgeSecret, body));
    expect(res.statusCode).toBe(204);
    expect(hub.listeners('s1')).toBe(12);
    expect(hub.has('unknown')).toBe(false);
  });

  it('refuses missing or forged signatures with 401 UNAUTHORIZED and changes nothing', async () => {
    const { hub, app } = await setup();
    const body = JSON.stringify(report(12));
    const forged = signReport(deriveEdgeSecret(Buffer.from('attacker')), body);
    for (const sig of [undefined, forged, 'nothex', signReport(edgeSecret, body + ' ')]) {
      const res = await post(app, body, sig);
      expect(res.statusCode, String(sig)).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    }
    expect(hub.listeners('s1')).toBe(0);
  });

  it('validates signed reports against the schema (400) and the body limit (413)', async () => {
    const { app } = await setup();
    const bad = JSON.stringify({
      edgeId: 'e',
      atMs: 1,
      spaces: { s1: { listeners: -1, reactions: {}, sample: [] } },
    });
    const r1 = await post(app, bad, signReport(edgeSecret, bad));
    expect(r1.statusCode).toBe(400);
    expect(r1.json()).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    const notJson = '{"edgeId":';
    const r2 = await post(app, notJson, signReport(edgeSecret, notJson));
    expect(r2.json()).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    const huge = JSON.stringify({ ...report(1), pad: 'x'.repeat(300 * 1024) });
    const r3 = await post(app, huge, signReport(edgeSecret, huge));
    expect(r3.statusCode).toBe(413);
    expect(r3.json()).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });
  });

  it("checks a report's defence window field by field (400), and answers with the edge's orders", async () => {
    hub = new LiveHub();
    hub.open('s1', { state: 'live', title: 't', speakers: [] });
    app = Fastify({ ajv: { customOptions: { removeAdditional: false } } });
    const seen: EdgeReport[] = [];
    await app.register(
      liveOriginRoutes({
        hub,
        edgeSecret,
        answer: (r) => {
          seen.push(r);
          return { defence: { underAttack: true, tierFloor: 0 } };
        },
      }),
      { prefix: '/origin' },
    );
    const tel = new DefenceTelemetry();
    tel.record('10.0.0.1', 'control', 'state', false, 1000);
    const extra = {
      cpu: 0.1,
      tier: 0 as const,
      underAttack: false,
      admission: { maxListeners: 1, joinsPerSec: 1, admitted: 0, queue: 0, joins: 0, admittedInWindow: 0 },
      joinsBySpace: {},
      pow: { issued: 0, solved: 0, failed: 0 },
    };
    const good = tel.drain(2000, extra);
    const send = (defence: unknown, atMs: number) => {
      const body = JSON.stringify({ ...report(1, atMs), defence });
      return post(app!, body, signReport(edgeSecret, body));
    };
    const ok = await send(good, 10);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ defence: { underAttack: true, tierFloor: 0 } });
    const bads: [string, unknown][] = [
      ['short histogram', { ...good, rateHistogram: [1, 2] }],
      ['sketch of the wrong size', { ...good, clientsHll: 'AAAA' }],
      ['sketch not base64', { ...good, clientsHll: '*'.repeat(good.clientsHll.length) }],
      ['fractional time', { ...good, fromMs: 1.5 }],
      ['tier 9', { ...good, tier: 9 }],
      ['cpu 2', { ...good, cpu: 2 }],
      ['unknown class', { ...good, classes: { ...good.classes, evil: 1 } }],
      ['negative count', { ...good, networks: -1 }],
      ['extra field', { ...good, note: 'x' }],
    ];
    for (const [what, defence] of bads) {
      const res = await send(defence, 20);
      expect(res.statusCode, what).toBe(400);
      expect(res.json(), what).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    }
    expect(seen.length).toBe(1);
  });

  it('serves state.json with the access header and Cache-Control by state and version', async () => {
    const { hub, app } = await setup((id) => (id === 's1' ? 'signed-in' : 'public'));
    const now = await app.inject({ url: '/origin/spaces/s1/state.json' });
    expect(now.statusCode).toBe(200);
    expect(now.headers['cache-control']).toBe('public, max-age=1');
    expect(now.headers['x-tribune-access']).toBe('signed-in');
    expect(now.json()).toMatchObject({ v: 1, spaceId: 's1', state: 'live' });
    const bad = await app.inject({ url: '/origin/spaces/s1/state.json?v=5' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'STATE_BAD_VERSION' } });
    const junk = await app.inject({ url: '/origin/spaces/s1/state.json?v=abc' });
    expect(junk.json()).toMatchObject({ error: { code: 'STATE_BAD_VERSION' } });
    const missing = await app.inject({ url: '/origin/spaces/zz/state.json' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'SPACE_NOT_FOUND' } });
    hub.close('s1');
    const ended = await app.inject({ url: '/origin/spaces/s1/state.json?v=1' });
    expect(ended.json()).toMatchObject({ v: 2, state: 'ended' });
    expect(ended.headers['cache-control']).toBe('public, max-age=60');
  });
});
