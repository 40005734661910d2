/** Recordings on disk: one directory per Space under a root (init.mp4, seg/, segments.jsonl, audio.m3u8). */
import { randomUUID } from 'node:crypto';
import { lstat, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { TribuneError } from '../errors.js';
import { INIT_URI } from './playlist.js';
import { SEGMENT_INDEX } from './store.js';

/** Ids of recordings (Space ids): what may name a directory directly under the root. */
export const RECORDING_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The directory of recording `id` under `root`; BAD_REQUEST for an id that could name anything else. */
export function recordingDir(root: string, id: string): string {
  if (typeof id !== 'string' || !RECORDING_ID.test(id))
    throw new TribuneError('BAD_REQUEST', 'invalid recording id');
  const base = path.resolve(root);
  const dir = path.join(base, id);
  if (path.dirname(dir) !== base) throw new TribuneError('BAD_REQUEST', 'invalid recording id');
  return dir;
}

/**
 * Deletes the recording of `id` under `root` with everything in it. Refuses (BAD_REQUEST) an invalid id, a symbolic
 * link, a file, and a directory that does not look like a recording (one with neither init.mp4 nor segments.jsonl
 * that is not empty). The directory is first renamed out of the way, so readers never see half a recording.
 * Resolves to false when there is nothing to delete.
 */
export async function deleteRecording(root: string, id: string): Promise<boolean> {
  const dir = recordingDir(root, id);
  let st;
  try {
    st = await lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (!st.isDirectory() || st.isSymbolicLink())
    throw new TribuneError('BAD_REQUEST', `recording ${id} is not a directory`);
  const entries = await readdir(dir);
  if (entries.length > 0 && !entries.includes(INIT_URI) && !entries.includes(SEGMENT_INDEX))
    throw new TribuneError('BAD_REQUEST', `${id} does not look like a recording`);
  const doomed = path.join(path.dirname(dir), `.deleting-${id}-${randomUUID()}`);
  try {
    await rename(dir, doomed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // deleted meanwhile
    throw err;
  }
  // rm does not follow symbolic links inside the tree: it unlinks them.
  await rm(doomed, { recursive: true, force: true });
  return true;
}
