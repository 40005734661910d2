/** A live Space at a glance for lists (home cards): its listener count and stage, from the live state. */
import type { LiveSummary } from '../api/schemas.js';
import type { LiveHub } from '../live/hub.js';

/** Speakers a card shows at most (host, co-hosts, speakers: the stage holds 13). */
const MAX_SPEAKERS = 13;

export function liveSummary(hub: LiveHub, spaceId: string): LiveSummary | undefined {
  if (!hub.has(spaceId)) return undefined;
  const doc = hub.doc(spaceId);
  if (doc.state !== 'live') return undefined;
  return {
    listeners: doc.listeners,
    speakers: doc.speakers.slice(0, MAX_SPEAKERS).map((s) => ({
      userId: s.userId,
      handle: s.handle,
      name: s.name,
      role: s.role,
      speaking: s.speaking && !s.muted,
      muted: s.muted,
    })),
  };
}
