/**
 * What an edge answers before its HLS routes, so that it can be the one public host of a
 * deployment: the web app's shell from memory (app-shell.ts) and a streaming pass-through of
 * `/api/*` and `/whip/*` to the origin, or to one of several (api-proxy.ts). Call
 * `handle(req, res)` first in the edge's node:http request handler; when it returns false, hand
 * the request to the edge's own routes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import { createApiProxy, type ApiProxy } from './api-proxy.js';
import { createAppShell, type AppShell } from './app-shell.js';

/** dist/web, from src/edge (tsx) and from dist/edge (the build) alike. */
export const DEFAULT_WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/web');

export interface EdgeFrontOptions {
  /** The origin the API and WHIP go to (a list: several origins, see api-proxy.ts). */
  originUrl: string | readonly string[];
  /** Vite's output; default dist/web. `false`: serve no web app. */
  webRoot?: string | false;
  /** Proxy /api and /whip to the origin. Default true. */
  proxyApi?: boolean;
  /** Same meaning as the edge's: keep the client's X-Forwarded-* (behind a proxy you run). */
  trustProxy?: boolean;
  /** Origin response-header timeout for proxied requests. Default 10 s. */
  timeoutMs?: number;
  /** Proxied body limit. Default 64 KiB. */
  bodyLimit?: number;
  registry?: Registry;
}

export interface EdgeFront {
  /** True when the request was answered (or is being streamed) here. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  shell: AppShell | undefined;
  proxy: ApiProxy | undefined;
  close(): void;
}

export function createEdgeFront(opts: EdgeFrontOptions): EdgeFront {
  const shell = opts.webRoot === false ? undefined : createAppShell(opts.webRoot ?? DEFAULT_WEB_ROOT);
  const proxy =
    opts.proxyApi === false
      ? undefined
      : createApiProxy({
          originUrl: opts.originUrl,
          trustProxy: opts.trustProxy,
          timeoutMs: opts.timeoutMs,
          bodyLimit: opts.bodyLimit,
          registry: opts.registry,
        });
  return {
    shell,
    proxy,
    handle: (req, res) => (shell?.(req, res) ?? false) || (proxy?.(req, res) ?? false),
    close: () => proxy?.close(),
  };
}
