/**
 * Finding and sharing Spaces against a real server: search by title and host (paged, bad input),
 * the calendar file of a scheduled Space (RFC 5545: fields, escaping, CRLF, 75-octet folding),
 * the embeddable player (its API, the refusals for private Spaces and ended ones without a replay,
 * and the frame policy of its page), and live cards' listener count and stage on the home list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, TribuneClient } from '../../src/client/index.js';
import { signedInClient, startTribune, type TribuneHandle } from '../support/server.js';

const inHours = (h: number): string => new Date(Date.now() + h * 3600_000).toISOString();

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof ApiError) return `${err.status} ${err.code}`;
    throw err;
  }
}

/** An iCalendar body unfolded (RFC 5545 §3.1) into its content lines. */
const unfold = (ics: string): string[] => ics.replace(/\r\n[ \t]/g, '').split('\r\n');

describe('search, calendar files and the embeddable player', () => {
  let server: TribuneHandle;
  let anon: TribuneClient;

  beforeAll(async () => {
    server = await startTribune({ env: { TRIBUNE_CREATE_SPACE_PER_MINUTE: '100000' } });
    anon = new TribuneClient({ baseUrl: server.url });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('finds Spaces by title words and by host handle or name, live first, paged', async () => {
    const zoe = await signedInClient(server.url, 'Zoë Quasar');
    const handle = (await zoe.me()).user!.handle;
    const a = await zoe.createSpace({ title: 'Gardening with xylophones', scheduledFor: inHours(2) });
    const b = await zoe.createSpace({ title: 'Xylophone tuning', scheduledFor: inHours(1) });
    const other = await signedInClient(server.url, 'someone');
    const c = await other.createSpace({ title: 'Live xylophones now' });

    const ids = async (q: string, limit?: number): Promise<string[]> =>
      (await anon.search(q, { limit })).spaces.map((s) => s.id);
    expect(await ids('xylophone')).toEqual([c.id, a.id, b.id]); // prefix match; live first, then newest
    expect(await ids('XYLO tun')).toEqual([b.id]); // every word must match
    expect(await ids('quasar')).toEqual([a.id, b.id]); // the host's name
    expect(await ids('zoe')).toEqual([a.id, b.id]); // diacritics folded
    expect(await ids(`@${handle}`)).toEqual([a.id, b.id]); // the host's handle
    expect(await ids('"garden*')).toEqual([a.id]); // query syntax is plain text
    expect(await ids('!!!')).toEqual([]);
    expect(await ids('nothingmatchesthis')).toEqual([]);
    const live = (await anon.search('xylophones')).spaces.find((s) => s.id === c.id)!;
    expect(live.live).toMatchObject({ listeners: 0 });

    // Paging with the cursor: the same order, each once.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const p = await anon.search('xylophone', { limit: 1, cursor });
      seen.push(...p.spaces.map((s) => s.id));
      cursor = p.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([c.id, a.id, b.id]);
  });

  it('refuses empty and oversized queries with stable codes', async () => {
    expect(await code(anon.search('x'.repeat(200)))).toBe('ok');
    expect(await code(anon.search('x'.repeat(201)))).toBe('400 QUERY_TOO_LONG');
    expect(await code(anon.search(''))).toBe('400 BAD_REQUEST');
    expect(await code(anon.search('   '))).toBe('400 BAD_REQUEST');
    const res = await fetch(`${server.url}/api/search`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    expect(await code(anon.search('x', { cursor: 'garbage' }))).toBe('400 BAD_REQUEST');
  });

  it('serves a scheduled Space as an RFC 5545 event, escaped, CRLF, folded at 75 octets', async () => {
    const host = await signedInClient(server.url, 'Cal Host');
    const title = 'Q&A: rust, go; and C\\C++ — ünïcödé ✓';
    const description = 'Line one\nLine two, with; punctuation\\' + ' and a long tail'.repeat(8);
    const at = inHours(3);
    const s = await host.createSpace({ title, description, scheduledFor: at });
    const res = await fetch(`${server.url}/api/spaces/${s.id}/calendar.ics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="tribune-.+\.ics"/);
    const body = await res.text();
    expect(body.endsWith('\r\n')).toBe(true);
    expect(body.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/); // every line ends in CRLF
    for (const line of body.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
    expect(body).toMatch(/\r\n /); // the long lines were folded
    const lines = unfold(body);
    const field = (name: string): string | undefined =>
      lines.find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1);
    expect(lines.slice(0, 2)).toEqual(['BEGIN:VCALENDAR', 'VERSION:2.0']);
    expect(lines).toContain('BEGIN:VEVENT');
    expect(lines).toContain('END:VEVENT');
    expect(field('UID')).toBe(`space-${s.id}@127.0.0.1`);
    expect(field('DTSTAMP')).toMatch(/^\d{8}T\d{6}Z$/);
    const t = new Date(at);
    const ics = (d: Date): string =>
      d
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d{3}/, '');
    expect(field('DTSTART')).toBe(ics(t));
    expect(field('DTEND')).toBe(ics(new Date(t.getTime() + 3600_000)));
    expect(field('SUMMARY')).toBe('Q&A: rust\\, go\\; and C\\\\C++ — ünïcödé ✓');
    expect(field('DESCRIPTION')).toMatch(/^Line one\\nLine two\\, with\\; punctuation\\\\ and a long tail/);
    expect(field('DESCRIPTION')).toContain(`Listen: ${server.url}/s/${s.id}`);
    expect(field('URL')).toBe(`${server.url}/s/${s.id}`);

    expect(await code(fetch(`${server.url}/api/spaces/nosuchspace/calendar.ics`).then(asError))).toBe(
      '404 SPACE_NOT_FOUND',
    );
    const live = await host.createSpace({ title: 'Already on' });
    expect(await code(fetch(`${server.url}/api/spaces/${live.id}/calendar.ics`).then(asError))).toBe(
      '409 SPACE_NOT_SCHEDULED',
    );
  });

  it('embeds public Spaces; refuses private ones and ended ones without a replay', async () => {
    const host = await signedInClient(server.url, 'Embedder');
    const open = await host.createSpace({ title: 'Open "quoted" <b>' });
    const info = await anon.embedInfo(open.id);
    expect(info.embedUrl).toBe(`${server.url}/embed/${open.id}`);
    expect(info.snippet).toBe(
      `<iframe src="${server.url}/embed/${open.id}" title="Tribune: Open &quot;quoted&quot; &lt;b&gt;" ` +
        'width="100%" height="200" style="border:0;border-radius:12px;max-width:560px" allow="autoplay" ' +
        'loading="lazy"></iframe>',
    );
    expect(info.space).toMatchObject({ id: open.id, state: 'live', me: null });

    const members = await host.createSpace({ title: 'Members', requireSignIn: true });
    expect(await code(anon.embedInfo(members.id))).toBe('403 EMBED_NOT_AVAILABLE');
    expect(await code(host.embedInfo(members.id))).toBe('403 EMBED_NOT_AVAILABLE'); // a frame has no session
    // Its media and live state at the edge need a listen token an embed cannot have.
    for (const f of ['master.m3u8', 'state.json']) {
      const r = await fetch(`${server.url}/hls/spaces/${members.id}/${f}`);
      expect([r.status, ((await r.json()) as { error: { code: string } }).error.code]).toEqual([
        401,
        'LISTEN_TOKEN_REQUIRED',
      ]);
    }

    const silent = await host.createSpace({ title: 'Nothing said' });
    await host.end(silent.id);
    // A live Space records (silence) from its start: on a busy machine a few parts may exist by the
    // end, and then there is a replay. Delete it, so the Space is "ended without a replay" for sure.
    await host.deleteReplay(silent.id).catch(() => undefined);
    expect(await code(anon.embedInfo(silent.id))).toBe('404 REPLAY_NOT_AVAILABLE');
    // The edge has nothing to play either: no live stream, and a playlist without a segment.
    const stream = await fetch(`${server.url}/hls/spaces/${silent.id}/stream.mp4`);
    expect([
      stream.status,
      stream.headers.get('x-tribune-state'),
      (await stream.arrayBuffer()).byteLength,
    ]).toEqual([204, 'ended', 0]);
    const playlist = await (await fetch(`${server.url}/hls/spaces/${silent.id}/audio.m3u8`)).text();
    expect(playlist).not.toContain('#EXTINF');
    expect(await code(anon.embedInfo('nosuchspace'))).toBe('404 SPACE_NOT_FOUND');
  });

  it('lets any site frame the embed page, and only that page (the others: only Tribune itself)', async () => {
    const host = await signedInClient(server.url, 'framer');
    const s = await host.createSpace({ title: 'Framed' });
    const embed = await fetch(`${server.url}/embed/${s.id}`);
    expect(embed.status).toBe(200);
    expect(embed.headers.get('content-type')).toMatch(/text\/html/);
    expect(embed.headers.get('content-security-policy')).toBe('frame-ancestors *');
    expect(embed.headers.get('x-frame-options')).toBeNull();
    await embed.arrayBuffer();
    for (const p of ['/', `/s/${s.id}`, '/u/framer']) {
      const r = await fetch(`${server.url}${p}`);
      expect(r.headers.get('content-security-policy'), p).toBe("frame-ancestors 'self'");
      await r.arrayBuffer();
    }
  });

  it('gives live cards their listener count and the stage', async () => {
    const host = await signedInClient(server.url, 'Card Host');
    const s = await host.createSpace({ title: 'Card' });
    const card = (await anon.listSpaces('live')).spaces.find((x) => x.id === s.id)!;
    expect(card.live).toEqual({
      listeners: 0,
      speakers: [
        {
          userId: s.host.id,
          handle: s.host.handle,
          name: 'Card Host',
          role: 'host',
          speaking: false,
          muted: false,
        },
      ],
    });
    // A listener polling the state document is counted on the card within a few seconds.
    const ac = new AbortController();
    const poll = (async () => {
      let v = '';
      while (!ac.signal.aborted) {
        const r = await fetch(`${server.url}/hls/spaces/${s.id}/state.json?lid=card-listener-1${v}`, {
          signal: ac.signal,
        }).catch(() => null);
        const d = r ? ((await r.json().catch(() => null)) as { v?: number } | null) : null;
        v = d?.v !== undefined ? `&v=${d.v}` : '';
      }
    })();
    try {
      const deadline = Date.now() + 10_000;
      let listeners = 0;
      while (Date.now() < deadline && listeners < 1) {
        listeners = (await anon.listSpaces('live')).spaces.find((x) => x.id === s.id)?.live?.listeners ?? 0;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(listeners).toBe(1);
    } finally {
      ac.abort();
      await poll;
    }
    // Scheduled and ended Spaces carry no live summary.
    const later = await host.createSpace({ title: 'Later', scheduledFor: inHours(1) });
    expect((await anon.space(later.id)).live).toBeUndefined();
  });
});

/** A fetch Response as an ApiError when it failed (for `code`). */
async function asError(res: Response): Promise<void> {
  if (res.ok) return;
  const body = (await res.json()) as { error: { code: string; message: string } };
  throw new ApiError(body.error.code, body.error.message, res.status);
}
