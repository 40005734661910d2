/**
 * Caps a TCP socket's kernel send buffer (SO_SNDBUF) with the `sockopt` package (Node exposes no
 * setsockopt for TCP). A stream listener's audio then sits mostly in user space where the edge can
 * see it: a listener that stops reading backs up into `writableLength` within a second or two, and
 * is cut, instead of hiding megabytes in the kernel (loopback and large-MSS links autotune the send
 * buffer up to tcp_wmem's max, 4 MiB by default). It also bounds the kernel memory each listener
 * costs. Where the native module cannot load, streams work as before (a warning once).
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

type SetSockOpt = (socket: unknown, level: number, name: number, value: number) => void;

const SOL_SOCKET = 1; // Linux
const SO_SNDBUF = 7; // Linux

let setsockopt: SetSockOpt | null | undefined;

function load(): SetSockOpt | null {
  if (setsockopt !== undefined) return setsockopt;
  if (process.platform !== 'linux') return (setsockopt = null);
  try {
    const mod = createRequire(import.meta.url)('sockopt') as { setsockopt: SetSockOpt };
    setsockopt = mod.setsockopt;
  } catch {
    setsockopt = null;
  }
  return setsockopt;
}

/** True when send buffers can be capped on this platform. */
export function canCapSendBuffer(): boolean {
  return load() !== null;
}

/** Asks the kernel for a `bytes` send buffer (Linux doubles it). False when not possible. */
export function capSendBuffer(socket: Socket, bytes: number): boolean {
  const fn = load();
  if (!fn) return false;
  try {
    fn(socket, SOL_SOCKET, SO_SNDBUF, bytes);
    return true;
  } catch {
    return false;
  }
}
