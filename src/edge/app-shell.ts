/**
 * The web app's shell, served by an edge (or the one-process app) from memory, so that a listener's
 * page loads without the origin:
 * - `/assets/*` (Vite's content-hashed files): `public, max-age=31536000, immutable`;
 * - other files at the web root (e.g. `/favicon.ico`, `/index.html`): `public, max-age=3600`;
 * - SPA routes (`/`, `/s/:id`, `/clip/:id`, ...: any GET/HEAD path without a file extension outside
 *   `/api`, `/whip`, `/hls`, `/origin`, `/metrics`, `/healthz`): `index.html`, `no-cache` with an
 *   ETag, so browsers and CDNs revalidate it (a 304 from memory) and a deploy shows at once.
 * Every file is read once at start, with its headers prebuilt, an ETag (content hash) and, for
 * text types, gzip and brotli variants when they are smaller. HEAD and If-None-Match (304) work.
 * index.html is held twice: as built (with its `<noscript>` link to `?nojs=1`, the edge's plain
 * player) for Space pages (`/s/<id>`), and without that block for every other route.
 *
 * createAppShell(webRoot) returns `(req, res) => boolean` for a bare node:http handler: true when
 * it answered, false when the request is not for the shell (the caller's routes take it).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface AppShellOptions {
  /** Cache-Control of index.html on SPA routes. Default `no-cache` (revalidated with its ETag). */
  indexCacheControl?: string;
  /** Cache-Control of files at the root other than assets. Default `public, max-age=3600`. */
  rootFileCacheControl?: string;
  /** Make gzip/brotli variants at start. Default true. */
  compress?: boolean;
  /** Path prefixes that are never SPA routes. Default: api, whip, hls, origin, metrics, healthz. */
  reservedPrefixes?: readonly string[];
}

export interface AppShell extends NodeHandler {
  /** Files held, and their total size (identity encoding). */
  readonly files: number;
  readonly bytes: number;
}

export const CACHE_ASSET = 'public, max-age=31536000, immutable';
export const CACHE_ROOT_FILE = 'public, max-age=3600';
export const CACHE_INDEX = 'no-cache';
export const DEFAULT_RESERVED = ['api', 'whip', 'hls', 'origin', 'metrics', 'healthz'] as const;

const MAX_FILE_BYTES = 16 * 1024 * 1024;
const COMPRESS_MIN_BYTES = 512;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.mp3': 'audio/mpeg',
  '.m4a': 'audio/mp4',
  '.ogg': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.wav': 'audio/wav',
};
const COMPRESSIBLE = new Set([
  '.html',
  '.js',
  '.mjs',
  '.css',
  '.json',
  '.map',
  '.webmanifest',
  '.txt',
  '.svg',
]);

export function contentTypeOf(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

type Encoding = 'br' | 'gzip' | 'identity';

interface Variant {
  body: Buffer;
  etag: string;
  headers: Record<string, string>;
}

interface ShellFile {
  /** identity first, then compressed variants that are smaller */
  variants: Partial<Record<Encoding, Variant>>;
  etags: Set<string>;
}

function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const r = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...walk(dir, r));
    else if (entry.isFile()) out.push(r);
  }
  return out;
}

function buildFile(rel: string, body: Buffer, cacheControl: string, compress: boolean): ShellFile {
  const ext = path.extname(rel).toLowerCase();
  const hash = createHash('sha256').update(body).digest('base64url').slice(0, 22);
  const base = {
    'content-type': contentTypeOf(rel),
    'cache-control': cacheControl,
    'x-content-type-options': 'nosniff',
  };
  const compressible = compress && COMPRESSIBLE.has(ext) && body.length >= COMPRESS_MIN_BYTES;
  const variant = (enc: Encoding, bytes: Buffer): Variant => {
    const etag = enc === 'identity' ? `"${hash}"` : `"${hash}-${enc}"`;
    const headers: Record<string, string> = { ...base, etag, 'content-length': String(bytes.length) };
    if (compressible) headers.vary = 'Accept-Encoding';
    if (enc !== 'identity') headers['content-encoding'] = enc;
    return { body: bytes, etag, headers };
  };
  const variants: ShellFile['variants'] = { identity: variant('identity', body) };
  if (compressible) {
    const br = brotliCompressSync(body, {
      params: {
        [zlibConstants.BROTLI_PARAM_QUALITY]: 9,
        [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    });
    if (br.length < body.length) variants.br = variant('br', br);
    const gz = gzipSync(body, { level: 9 });
    if (gz.length < body.length) variants.gzip = variant('gzip', gz);
  }
  return { variants, etags: new Set(Object.values(variants).map((v) => v.etag)) };
}

/** The encodings a request accepts (`q=0` excludes), by our preference: br, gzip. */
function pickEncoding(acceptEncoding: string | undefined, file: ShellFile): Variant {
  const identity = file.variants.identity!;
  if (!acceptEncoding || (!file.variants.br && !file.variants.gzip)) return identity;
  const accepted = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) q = Number(m[1]);
    }
    accepted.set(name, q);
  }
  const ok = (enc: string): boolean => {
    const q = accepted.get(enc) ?? accepted.get('*');
    return q !== undefined && q > 0;
  };
  if (file.variants.br && ok('br')) return file.variants.br;
  if (file.variants.gzip && ok('gzip')) return file.variants.gzip;
  return identity;
}

/** Whether an If-None-Match header matches one of the file's ETags (weak comparison, `*`). */
function notModified(ifNoneMatch: string | undefined, etags: Set<string>): boolean {
  if (!ifNoneMatch) return false;
  for (const raw of ifNoneMatch.split(',')) {
    const tag = raw.trim().replace(/^W\//, '');
    if (tag === '*' || etags.has(tag)) return true;
  }
  return false;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Framing policies of the app's pages (CSP frame-ancestors). */
const FRAME_SELF = "frame-ancestors 'self'";
const FRAME_ANY = 'frame-ancestors *';
const EMBED_PATH_RE = /^\/embed\/[^/]+\/?$/;

/** A Space's page: `/s/<id>` (the id as the edge accepts it). */
const NOJS_SPACE_RE = /^\/s\/([A-Za-z0-9_-]{1,64})\/?$/;
/** A `<noscript>` block that links to `?nojs=1` (with the whitespace before it). */
const NOJS_BLOCK_RE =
  /[ \t]*<noscript>(?:(?!<\/noscript>)[\s\S])*?nojs(?:(?!<\/noscript>)[\s\S])*<\/noscript>[ \t]*\r?\n?/g;

/** index.html without its `?nojs=1` link, for the routes where that link leads nowhere. */
export function stripNojsBlock(html: string): string {
  return html.replace(NOJS_BLOCK_RE, '');
}

/**
 * Loads `webRoot` (Vite's dist/web) into memory and returns the shell's handler. An absent or
 * empty web root gives a handler that answers nothing (always false).
 */
export function createAppShell(webRoot: string, opts: AppShellOptions = {}): AppShell {
  const compress = opts.compress ?? true;
  const reserved = new RegExp(
    `^/(?:${(opts.reservedPrefixes ?? DEFAULT_RESERVED).map((p) => p.replace(/[^A-Za-z0-9_-]/g, '')).join('|')})(?:/|$)`,
  );
  const files = new Map<string, ShellFile>();
  /** index.html for every SPA route but Space pages: without the `?nojs=1` block. */
  let index: ShellFile | undefined;
  /** index.html as built, for Space pages (`/s/<id>`), where `?nojs=1` leads to the plain player. */
  let spaceIndex: ShellFile | undefined;
  let bytes = 0;
  if (isDirectory(webRoot)) {
    for (const rel of walk(webRoot)) {
      const full = path.join(webRoot, rel);
      if (statSync(full).size > MAX_FILE_BYTES) continue;
      const body = readFileSync(full);
      bytes += body.length;
      const cc = rel.startsWith('assets/') ? CACHE_ASSET : CACHE_ROOT_FILE;
      files.set(`/${rel}`, buildFile(rel, body, cc, compress));
      if (rel === 'index.html') {
        const cc = opts.indexCacheControl ?? CACHE_INDEX;
        const html = body.toString('utf8');
        const plain = stripNojsBlock(html);
        spaceIndex = buildFile(rel, body, cc, compress);
        index = plain === html ? spaceIndex : buildFile(rel, Buffer.from(plain, 'utf8'), cc, compress);
      }
    }
  }

  const send = (req: IncomingMessage, res: ServerResponse, file: ShellFile): true => {
    const v = pickEncoding(req.headers['accept-encoding'], file);
    if (notModified(req.headers['if-none-match'], file.etags)) {
      const h: Record<string, string> = {
        etag: v.etag,
        'cache-control': v.headers['cache-control']!,
      };
      if (v.headers.vary) h.vary = v.headers.vary;
      res.writeHead(304, h);
      res.end();
      return true;
    }
    res.writeHead(200, v.headers);
    if (req.method === 'HEAD') res.end();
    else res.end(v.body);
    return true;
  };

  const handler = ((req: IncomingMessage, res: ServerResponse): boolean => {
    if (files.size === 0) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    let pathname = q === -1 ? raw : raw.slice(0, q);
    if (!pathname.startsWith('/')) return false;
    if (reserved.test(pathname)) return false;
    try {
      pathname = decodeURIComponent(pathname);
    } catch {
      return false;
    }
    const file = files.get(pathname);
    if (file) return send(req, res, pathname === '/index.html' && index ? index : file);
    // A missing hashed asset (an old build's name) is a 404 from the caller, never index.html.
    if (pathname.startsWith('/assets/') || path.posix.extname(pathname) !== '') return false;
    if (!index) return false;
    // Without JavaScript a Space's page (`/s/<id>`) offers `?nojs=1` (a <noscript> link): the edge's plain player.
    const space = NOJS_SPACE_RE.exec(pathname);
    if (space && q !== -1 && new URLSearchParams(raw.slice(q + 1)).has('nojs')) {
      res.writeHead(303, { location: `/hls/spaces/${space[1]}/nojs`, 'cache-control': 'no-store' });
      res.end();
      return true;
    }
    // The app's pages may not be framed by other sites (clickjacking), except the embeddable
    // player, which exists to be (`/embed/<id>`).
    res.setHeader('content-security-policy', EMBED_PATH_RE.test(pathname) ? FRAME_ANY : FRAME_SELF);
    return send(req, res, space && spaceIndex ? spaceIndex : index);
  }) as AppShell;
  Object.defineProperties(handler, {
    files: { value: files.size, enumerable: true },
    bytes: { value: bytes, enumerable: true },
  });
  return handler;
}
