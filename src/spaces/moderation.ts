/**
 * What platform moderators (src/trust) did to Spaces, as the Space side needs it on every view:
 * hidden from listings, a warning label, and each user's latest restriction in a Space (shown to
 * them at once through the `me` event). The trust service keeps it; the store is the truth
 * (space_moderation, statements) and it is loaded again at start-up.
 */
export interface RestrictionNote {
  statementId: string;
  caseId: string;
  restriction: string;
  summary: string;
  at: string;
}

export class SpaceModerationState {
  private readonly hidden = new Set<string>();
  private readonly labels = new Map<string, string>();
  private readonly restrictions = new Map<string, RestrictionNote>();
  /** Speakers the platform muted: only a reversal lifts it (not the host, not leaving the stage). */
  private readonly platformMuted = new Set<string>();

  set(spaceId: string, m: { hidden: boolean; label: string | null }): void {
    if (m.hidden) this.hidden.add(spaceId);
    else this.hidden.delete(spaceId);
    if (m.label) this.labels.set(spaceId, m.label);
    else this.labels.delete(spaceId);
  }

  isHidden(spaceId: string): boolean {
    return this.hidden.has(spaceId);
  }

  label(spaceId: string): string | null {
    return this.labels.get(spaceId) ?? null;
  }

  /** The user's latest restriction in the Space (null: lifted). */
  setRestriction(spaceId: string, userId: string, note: RestrictionNote | null): void {
    const key = `${spaceId}\u0000${userId}`;
    if (note) this.restrictions.set(key, note);
    else this.restrictions.delete(key);
  }

  setPlatformMuted(spaceId: string, userId: string, muted: boolean): void {
    const key = `${spaceId}\u0000${userId}`;
    if (muted) this.platformMuted.add(key);
    else this.platformMuted.delete(key);
  }

  isPlatformMuted(spaceId: string, userId: string): boolean {
    return this.platformMuted.has(`${spaceId}\u0000${userId}`);
  }

  restrictionOf(spaceId: string, userId: string): RestrictionNote | null {
    return this.restrictions.get(`${spaceId}\u0000${userId}`) ?? null;
  }
}
