/** Small HTTP helpers shared by the live routes of the origin and the edge. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isTribuneError, TribuneError } from '../errors.js';

/** Maps any error a route can meet (Tribune's, fastify's body/schema errors) to a TribuneError. */
export function toTribuneError(err: unknown): TribuneError {
  if (isTribuneError(err)) return err;
  const e = err as { code?: string; statusCode?: number; validation?: unknown; message?: string };
  if (e?.validation) return new TribuneError('BAD_REQUEST', e.message);
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new TribuneError('BODY_TOO_LARGE');
  if (e?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new TribuneError('UNSUPPORTED_MEDIA_TYPE');
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
    return new TribuneError('BAD_REQUEST', e.message);
  return new TribuneError('INTERNAL');
}

/**
 * An AbortSignal that fires when the client goes away before its response was written (the
 * response's 'close' before the end, or the socket's).
 */
export function clientGone(
  request: FastifyRequest,
  reply: FastifyReply,
): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onClose = (): void => {
    if (!reply.raw.writableEnded) ac.abort(new Error('client disconnected'));
  };
  reply.raw.on('close', onClose);
  request.raw.socket?.on('close', onClose);
  return {
    signal: ac.signal,
    dispose: () => {
      reply.raw.off('close', onClose);
      request.raw.socket?.off('close', onClose);
    },
  };
}
