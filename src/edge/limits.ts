import { readFileSync } from 'node:fs';

/**
 * Listen backlog for the HTTP servers listeners reach. When a Space starts, a crowd connects
 * within seconds; Node's default (511) drops SYNs past it, and clients retry only after 1 s, 3 s...
 * The kernel caps this at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;

/** Below this many open files a process serving listeners refuses connections early. */
export const RECOMMENDED_OPEN_FILES = 65_536;

/** The soft RLIMIT_NOFILE of this process (Linux), or undefined where it cannot be read. */
export function openFilesLimit(procLimits = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = readFileSync(procLimits, 'utf8');
  } catch {
    return undefined;
  }
  return parseOpenFilesLimit(text);
}

/** Parses the "Max open files" soft limit out of /proc/<pid>/limits text. */
export function parseOpenFilesLimit(text: string): number | undefined {
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** A warning to log at start when each listener connection's descriptor would run out early. */
export function openFilesWarning(limit = openFilesLimit()): string | undefined {
  if (limit === undefined || limit >= RECOMMENDED_OPEN_FILES) return undefined;
  return (
    `open-files limit is ${limit}: this process can hold fewer than ${limit} listener connections. ` +
    `Raise it (ulimit -n ${RECOMMENDED_OPEN_FILES}, or LimitNOFILE= in a systemd unit).`
  );
}
