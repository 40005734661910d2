/**
 * Trust and safety with several origins (real PostgreSQL + Redis, two `tribune origin` processes
 * on one data dir): a moderator working through origin B acts on a live Space that origin A runs.
 * The action runs where the media does (the speaker's WebRTC session on A is closed, which B could
 * not do), a complaint decided through B reverses it on A, and what moderators do to a Space's
 * distribution (hidden) shows on both origins' lists within a few seconds.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpaceView } from '../../src/api/schemas.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { freePort, startTribune, type TribuneHandle } from '../support/server.js';
import { ToneGenerator } from '../support/tone.js';
import type { Receipt } from '../../src/trust/api-types.js';
import { act, anon, grant, notice, noticeBody, operatorHandle, person, raw } from '../support/trust.js';
import { waitFor } from '../support/wait.js';
import { NodeWhipClient } from '../support/whip-client.js';

describe('trust and safety across several origins', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tribune-trust-cluster-'));
  const secret = randomBytes(32).toString('hex');
  const admin = operatorHandle('cluster');
  let db: PostgresServer;
  let redis: RedisServer;
  const origins: TribuneHandle[] = [];
  const speakers: NodeWhipClient[] = [];

  beforeAll(async () => {
    [db, redis] = await Promise.all([startPostgres(), startRedis()]);
    const databaseUrl = await db.createDatabase('tribune');
    const [pa, pb] = await Promise.all([freePort(), freePort()]);
    const env = (port: number, id: string): Record<string, string> => ({
      PORT: String(port),
      TRIBUNE_DATABASE_URL: databaseUrl,
      TRIBUNE_REDIS_URL: redis.url,
      TRIBUNE_SELF_URL: `http://127.0.0.1:${port}`,
      TRIBUNE_ORIGIN_ID: id,
      TRIBUNE_TOKEN_SECRET: secret,
      TRIBUNE_MEDIA_ENGINES: '1',
      TRIBUNE_OPERATORS: admin,
    });
    origins.push(await startTribune({ args: ['origin'], dataDir, env: env(pa, 'origin-a') }));
    origins.push(await startTribune({ args: ['origin'], dataDir, env: env(pb, 'origin-b') }));
  }, 90_000);

  afterAll(async () => {
    for (const s of speakers) s.abruptClose();
    await Promise.all(origins.map((o) => o.stop()));
    await Promise.all([redis?.stop(), db?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs a moderator’s action where the Space runs, reverses it there, and syncs listings', async () => {
    const [A, B] = origins.map((o) => o.url) as [string, string];
    // Accounts and roles (one database): the admin through A, the moderators work through B.
    const adminA = await person(A, 'Admin', admin);
    const modB = await person(B, 'Mod one');
    const mod2B = await person(B, 'Mod two');
    await grant(adminA.c, modB, 'moderator');
    await grant(adminA.c, mod2B, 'moderator');
    const mod = modB.c;
    const mod2 = mod2B.c;

    // A live Space created on A (A runs its media) with a speaker publishing over WHIP to A.
    const hostA = await person(A, 'Host');
    const space = await hostA.c.createSpace({ title: 'Cluster moderation' });
    const speakerA = await person(A, 'Speaker');
    const { token: invite } = await hostA.c.inviteLink(space.id);
    await speakerA.c.acceptInvite(space.id, invite);
    const whip = new NodeWhipClient({ record: false });
    speakers.push(whip);
    const { token } = await speakerA.c.publishToken(space.id);
    await whip.publish({
      whipUrl: `${A}/whip/${space.id}`,
      token,
      source: new ToneGenerator({ freqHz: 660, amplitude: 0.3 }),
      waitConnected: true,
    });
    const connected = async (): Promise<boolean | undefined> =>
      (await hostA.c.participants(space.id)).members.find((m) => m.user.id === speakerA.id)?.connected;
    await waitFor('the speaker connected on A', async () => (await connected()) === true, {
      timeoutMs: 10_000,
    });
    expect(await fetch(`${B}/metrics`).then((r) => r.text())).toMatch(/^tribune_live_spaces 0$/m);

    // A listener reports the last seconds through B: the notice names its Space (?spaceId=, as the
    // web app sends it) and runs on A, where the recording is, so the range is kept as evidence.
    await waitFor(
      'a few seconds recorded',
      async () => {
        const r = await fetch(`${A}/origin/spaces/${space.id}/audio.m3u8`);
        return ((await r.text()).match(/#EXTINF/g) ?? []).length >= 3;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const ranged = await anon(B).request<Receipt>('POST', `/api/trust/notices?spaceId=${space.id}`, {
      ...noticeBody({ kind: 'speaker', spaceId: space.id, userId: speakerA.id, lastSec: 10 }),
    });
    expect(ranged.evidence).not.toBeNull();
    expect(ranged.evidence!.endSec).toBeGreaterThan(ranged.evidence!.startSec);
    const full = await mod.request<{ evidence: { url: string }[] }>(
      'GET',
      `/api/trust/cases/${ranged.caseId}/full`,
    );
    expect(full.evidence).toHaveLength(1);
    const playlist = await raw(B, full.evidence[0]!.url, { as: mod });
    expect(playlist.status).toBe(200);
    expect(await playlist.text()).toContain('#EXTINF');

    // A notice through B; the moderator removes the speaker through B: it runs on A, which closes
    // the speaker's WebRTC session (B runs no media for this Space: it could not).
    const r = await notice(anon(B), { kind: 'speaker', spaceId: space.id, userId: speakerA.id });
    const t0 = performance.now();
    await act(mod, r.caseId, 'remove-speaker');
    const ms = performance.now() - t0;
    console.log(`several origins: remove-speaker through B, run on A, answered in ${ms.toFixed(0)} ms`);
    expect(await connected()).toBe(false);
    const me = (await speakerA.c.request<SpaceView>('GET', `/api/spaces/${space.id}`)).me;
    expect(me?.blocked).toBe(true);
    expect(me?.restriction?.restriction).toBe('remove-speaker');

    // The speaker complains; the second moderator upholds it through B: unblocked on A.
    const [statement] = (await speakerA.c.request<{ decisions: { id: string }[] }>('GET', '/api/trust/me'))
      .decisions;
    const k = await speakerA.c.request<{ id: string }>('POST', `/api/trust/cases/${r.caseId}/complaints`, {
      text: 'I was quoting the speech to condemn it.',
      statementId: statement!.id,
    });
    await mod2.request('POST', `/api/trust/complaints/${k.id}/decide`, {
      uphold: true,
      text: 'The quote was condemned in context, not endorsed.',
    });
    const after = (await speakerA.c.request<SpaceView>('GET', `/api/spaces/${space.id}`)).me;
    expect(after?.blocked).toBe(false);
    expect(after?.restriction ?? null).toBeNull();

    // Hidden through B (the action runs on A): both origins' lists drop it within a few seconds.
    const r2 = await notice(anon(B), { kind: 'space', spaceId: space.id });
    await act(mod, r2.caseId, 'hide-space');
    const listed = async (url: string): Promise<boolean> =>
      (await anon(url).listSpaces('live')).spaces.some((s) => s.id === space.id);
    await waitFor('hidden on A', async () => !(await listed(A)), { timeoutMs: 6000 });
    await waitFor('hidden on B', async () => !(await listed(B)), { timeoutMs: 6000 });
  }, 120_000);
});
