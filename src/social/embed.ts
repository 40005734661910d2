/**
 * The embeddable player's rules and snippet, shared by the server (`GET /api/spaces/:id/embed`) and
 * the web app's `/embed/:id` page, so both refuse the same Spaces with the same codes:
 * - a Space whose listeners must sign in: 403 EMBED_NOT_AVAILABLE (a third-party page has no
 *   Tribune session, and its media needs a listen token);
 * - an ended Space without a replay (none, deleted, expired): 404 REPLAY_NOT_AVAILABLE.
 * Scheduled Spaces embed (the player waits for the start), live ones play, replays play.
 */

export interface EmbeddableSpace {
  id: string;
  title: string;
  state: 'scheduled' | 'live' | 'ended';
  requireSignIn: boolean;
  replay: { state: string };
}

export type EmbedRefusal = 'EMBED_NOT_AVAILABLE' | 'REPLAY_NOT_AVAILABLE';

export function embedRefusal(s: EmbeddableSpace): EmbedRefusal | null {
  if (s.requireSignIn) return 'EMBED_NOT_AVAILABLE';
  if (s.state === 'ended' && s.replay.state !== 'available') return 'REPLAY_NOT_AVAILABLE';
  return null;
}

export const embedPath = (id: string): string => `/embed/${encodeURIComponent(id)}`;

const attr = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The `<iframe>` a host pastes: 100% wide, 200 px high, autoplay allowed, lazy. */
export function embedSnippet(origin: string, s: Pick<EmbeddableSpace, 'id' | 'title'>): string {
  const src = `${origin.replace(/\/+$/, '')}${embedPath(s.id)}`;
  return (
    `<iframe src="${attr(src)}" title="${attr(`Tribune: ${s.title}`)}" width="100%" height="200" ` +
    `style="border:0;border-radius:12px;max-width:560px" allow="autoplay" loading="lazy"></iframe>`
  );
}

/**
 * The embed page's framing policy: any site may put it in an `<iframe>` (CSP frame-ancestors; no
 * X-Frame-Options). Other pages keep the server's defaults.
 */
export const EMBED_FRAME_POLICY = 'frame-ancestors *';

/** Whether a request URL is the embed page (`/embed/<id>`, with or without a query). */
export function isEmbedUrl(url: string | undefined): boolean {
  return !!url && /^\/embed\/[A-Za-z0-9_%-]+\/?(?:\?|#|$)/.test(url);
}
