/** Fixtures of the Storage suite (storage-suite.ts, storage-suite-social.ts). */
import { afterEach, beforeEach } from 'vitest';
import type { NewSpace, Storage, UserRecord } from '../../src/store/types.js';

export interface StorageBackend {
  /** A new, empty database; each open() is a new store (connection) on it, closed by the caller. */
  newDatabase(): Promise<{ open(): Promise<Storage> }>;
  /** The driver's codes for the constraint errors a store passes through unmapped. */
  codes: { primaryKey: string; foreignKey: string };
}

export const iso = (minute: number): string => new Date(Date.UTC(2030, 0, 1, 12, minute)).toISOString();

export const user = (id: string, handle = id, displayName = `User ${id}`): UserRecord => ({
  id,
  handle,
  displayName,
  passwordHash: `scrypt$16384$8$1$salt-${id}$hash-${id}`,
  createdAt: iso(0),
});

export const space = (id: string, over: Partial<NewSpace> = {}): NewSpace => ({
  id,
  hostId: 'u1',
  title: `Space ${id}`,
  description: '',
  state: 'live',
  requireSignIn: false,
  scheduledFor: null,
  createdAt: iso(0),
  startedAt: iso(1),
  endedAt: null,
  ...over,
});

/** `st` for each test of the enclosing describe: a fresh store, with users u1..u4 and Space s1 (host u1) if `seed`. */
export function freshStore(backend: StorageBackend, seed: boolean): () => Storage {
  let st: Storage | undefined;
  beforeEach(async () => {
    st = await (await backend.newDatabase()).open();
    if (!seed) return;
    for (const id of ['u1', 'u2', 'u3', 'u4']) await st.createUser(user(id));
    await st.createSpace(space('s1'));
  });
  afterEach(async () => {
    await st?.close();
    st = undefined;
  });
  return () => st!;
}
