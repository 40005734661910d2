/**
 * Serialised asynchronous disk writes under one directory (a Space's recording): writes run one after the other in
 * the order they were queued, and a failure is logged, never thrown, so it cannot reach the media path.
 */
import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HlsLogger } from './store-types.js';

/** `overwrite`: plain write; `atomic`: write `<file>.tmp` then rename it over the file; `append`: append. */
export type WriteMode = 'overwrite' | 'atomic' | 'append';

export class WriteQueue {
  private readonly dir: string;
  private readonly log: HlsLogger;
  private tail: Promise<void> = Promise.resolve();
  private readonly madeDirs = new Set<string>();

  constructor(dir: string, log: HlsLogger) {
    this.dir = dir;
    this.log = log;
  }

  /** Queues a write of `data` to `rel` (relative to the directory), creating its parent directory first. */
  write(rel: string, data: Uint8Array | string, mode: WriteMode = 'overwrite'): void {
    const file = path.join(this.dir, rel);
    this.tail = this.tail
      .then(async () => {
        const dir = path.dirname(file);
        if (!this.madeDirs.has(dir)) {
          await mkdir(dir, { recursive: true });
          this.madeDirs.add(dir);
        }
        if (mode === 'append') {
          await appendFile(file, data);
        } else if (mode === 'atomic') {
          await writeFile(`${file}.tmp`, data);
          await rename(`${file}.tmp`, file);
        } else {
          await writeFile(file, data);
        }
      })
      .catch((err: unknown) => this.log.error({ err, file }, 'HLS store disk write failed'));
  }

  /** Resolves when every write queued so far has finished (never rejects). */
  flushed(): Promise<void> {
    return this.tail;
  }
}
