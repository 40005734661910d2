/**
 * The SpaceView for a visitor who is not signed in: the public view the edge serves at
 * `/hls/spaces/:id/view.json` (same host as the page: the edge serves the app, or the built-in edge
 * does in the one-process deployment), cached there and shared by every listener, so opening a
 * Space asks the origin nothing. Its edge URLs are relative to the page's host.
 * Falls back to `GET /api/spaces/:id` when this host has no such edge route (404 other than
 * SPACE_NOT_FOUND: an origin-only host, an older edge; remembered for the page's life) or when the
 * edge wants a listen token for it (a Space that requires sign-in, on an edge that guards its view).
 */
import { ApiError, client, type SpaceView } from '../api.js';

let edgeViewMissing = false;

export const publicViewUrl = (id: string): string => `/hls/spaces/${encodeURIComponent(id)}/view.json`;

function isSpaceView(v: unknown): v is SpaceView {
  const s = v as Partial<SpaceView> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.id === 'string' &&
    typeof s.state === 'string' &&
    typeof s.playbackUrl === 'string' &&
    typeof s.stateUrl === 'string'
  );
}

export async function publicSpaceView(id: string): Promise<SpaceView> {
  if (edgeViewMissing) return client.space(id);
  let res: Response;
  try {
    res = await fetch(publicViewUrl(id), { headers: { accept: 'application/json' }, credentials: 'omit' });
  } catch (err) {
    throw new ApiError('NETWORK', err instanceof Error ? err.message : String(err), 0);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (res.ok && isSpaceView(json)) return { ...json, me: null };
  const e = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof e?.code === 'string' ? e.code : `HTTP_${res.status}`;
  if ((res.status === 404 && code !== 'SPACE_NOT_FOUND') || res.ok) {
    edgeViewMissing = true;
    return client.space(id);
  }
  if (code === 'LISTEN_TOKEN_REQUIRED') return client.space(id);
  throw new ApiError(code, typeof e?.message === 'string' ? e.message : res.statusText, res.status);
}
