/**
 * SQLite side of SocialStorage (social-types.ts): follows with their counters, a host's Spaces,
 * the notification feed as a pull, and full-text search (FTS5, kept by triggers: migration 2).
 * SqliteStorage owns the connection and delegates here. Every list is a keyset page on an index.
 */
import type Database from 'better-sqlite3';
import type {
  FeedItemRecord,
  FeedKind,
  FollowCounts,
  FollowEntry,
  Keyset,
  RankedKeyset,
  SocialStorage,
  SpacePage,
} from './social-types.js';
import type { SpaceRecord, UserRecord } from './types.js';

/** Row mappers of SqliteStorage (rows as SQLite returns them). */
export interface RowMappers<SpaceRow, UserRow> {
  toSpace(r: SpaceRow): SpaceRecord;
  toUser(r: UserRow): UserRecord;
}

const SORT_AT = 'COALESCE(s.ended_at, s.started_at, s.scheduled_for, s.created_at)';
const RANK = `CASE s.state WHEN 'live' THEN 0 WHEN 'scheduled' THEN 1 ELSE 2 END`;
const lim = (n: number): number => (Number.isFinite(n) ? Math.max(0, Math.min(1000, Math.floor(n))) : 0);

interface PageParams {
  after_at: string | null;
  after_id: string | null;
  limit: number;
}
const pageParams = (after: Keyset | undefined, limit: number): PageParams => ({
  after_at: after?.at ?? null,
  after_id: after?.id ?? null,
  limit: lim(limit),
});

/** `(key, id)` after the keyset, in the list's direction (`<` newest first, `>` soonest first). */
const afterClause = (key: string, id: string, op: '<' | '>'): string =>
  `(@after_at IS NULL OR (${key}, ${id}) ${op} (@after_at, @after_id))`;

function prepare(db: Database.Database) {
  const spacesOf = (from: string, where: string, dir: 'ASC' | 'DESC') =>
    db.prepare(
      `SELECT s.* FROM ${from}
       WHERE ${where} AND s.state IN (SELECT value FROM json_each(@states))
         AND ${afterClause(SORT_AT, 's.id', dir === 'DESC' ? '<' : '>')}
       ORDER BY ${SORT_AT} ${dir}, s.id ${dir} LIMIT @limit`,
    );
  const followList = (self: string, other: string) =>
    db.prepare(
      `SELECT u.*, f.created_at AS follow_since FROM follows f JOIN users u ON u.id = f.${other}
       WHERE f.${self} = @user AND ${afterClause('f.created_at', `f.${other}`, '<')}
       ORDER BY f.created_at DESC, f.${other} DESC LIMIT @limit`,
    );
  return {
    follow: db.prepare<[string, string, string]>(
      `INSERT INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)
       ON CONFLICT (follower_id, followee_id) DO NOTHING`,
    ),
    unfollow: db.prepare<[string, string]>('DELETE FROM follows WHERE follower_id = ? AND followee_id = ?'),
    isFollowing: db
      .prepare<[string, string], number>('SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ?')
      .pluck(),
    bumpFollowers: db.prepare<[{ user: string; d: number }]>(
      `INSERT INTO follow_counts (user_id, followers, following) VALUES (@user, MAX(@d, 0), 0)
       ON CONFLICT (user_id) DO UPDATE SET followers = MAX(followers + @d, 0)`,
    ),
    bumpFollowing: db.prepare<[{ user: string; d: number }]>(
      `INSERT INTO follow_counts (user_id, followers, following) VALUES (@user, 0, MAX(@d, 0))
       ON CONFLICT (user_id) DO UPDATE SET following = MAX(following + @d, 0)`,
    ),
    counts: db.prepare<[string], FollowCounts>(
      'SELECT followers, following FROM follow_counts WHERE user_id = ?',
    ),
    followers: followList('followee_id', 'follower_id'),
    following: followList('follower_id', 'followee_id'),
    byHostDesc: spacesOf('spaces s', 's.host_id = @user', 'DESC'),
    byHostAsc: spacesOf('spaces s', 's.host_id = @user', 'ASC'),
    followedDesc: spacesOf(
      'follows f JOIN spaces s ON s.host_id = f.followee_id',
      'f.follower_id = @user',
      'DESC',
    ),
    followedAsc: spacesOf(
      'follows f JOIN spaces s ON s.host_id = f.followee_id',
      'f.follower_id = @user',
      'ASC',
    ),
    // The pull: the user's own rows, and the events of followed hosts' Spaces, joined at read time.
    feed: db.prepare(
      `WITH items (item_id, item_kind, item_space, item_at, item_read) AS (
         SELECT n.id, n.kind, n.space_id, n.created_at, n.read_at FROM notifications n WHERE n.user_id = @user
         UNION ALL
         SELECT 'follow.scheduled.' || s.id, 'host-scheduled', s.id, s.created_at, NULL
           FROM follows f JOIN spaces s ON s.host_id = f.followee_id
          WHERE f.follower_id = @user AND s.scheduled_for IS NOT NULL AND s.created_at >= @since
         UNION ALL
         SELECT 'follow.live.' || s.id, 'host-live', s.id, s.started_at, NULL
           FROM follows f JOIN spaces s ON s.host_id = f.followee_id
          WHERE f.follower_id = @user AND s.started_at IS NOT NULL AND s.started_at >= @since
            AND NOT EXISTS (SELECT 1 FROM notifications x
                            WHERE x.user_id = @user AND x.space_id = s.id AND x.kind = 'space-started')
       )
       SELECT i.item_id, i.item_kind, i.item_at,
              COALESCE(i.item_read, CASE WHEN i.item_at <= r.read_at THEN r.read_at END) AS item_read, s.*
         FROM items i JOIN spaces s ON s.id = i.item_space
         LEFT JOIN feed_reads r ON r.user_id = @user
        WHERE ${afterClause('i.item_at', 'i.item_id', '<')}
        ORDER BY i.item_at DESC, i.item_id DESC LIMIT @limit`,
    ),
    markRows: db.prepare<[string, string]>(
      'UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL',
    ),
    markWatermark: db.prepare<[string, string]>(
      `INSERT INTO feed_reads (user_id, read_at) VALUES (?, ?)
       ON CONFLICT (user_id) DO UPDATE SET read_at = MAX(read_at, excluded.read_at)`,
    ),
    search: db.prepare(
      `SELECT s.* FROM spaces_fts JOIN spaces s ON s.rowid = spaces_fts.rowid
       WHERE spaces_fts MATCH @match
         AND (@after_at IS NULL OR ${RANK} > @after_rank
              OR (${RANK} = @after_rank AND (${SORT_AT}, s.id) < (@after_at, @after_id)))
       ORDER BY ${RANK}, ${SORT_AT} DESC, s.id DESC LIMIT @limit`,
    ),
  };
}

/** An FTS5 query from plain terms: each a quoted word prefix ("term"*), all required. */
export function ftsQuery(terms: string[]): string {
  return terms.map((t) => `"${t.replace(/"/g, '""')}"*`).join(' ');
}

export class SqliteSocial<SpaceRow, UserRow> implements SocialStorage {
  private readonly q: ReturnType<typeof prepare>;
  private readonly followTx: (a: string, b: string, at: string) => boolean;
  private readonly unfollowTx: (a: string, b: string) => boolean;
  private readonly markTx: (userId: string, nowIso: string) => void;

  constructor(
    db: Database.Database,
    private readonly map: RowMappers<SpaceRow, UserRow>,
  ) {
    this.q = prepare(db);
    const bump = (follower: string, followee: string, d: number): void => {
      this.q.bumpFollowers.run({ user: followee, d });
      this.q.bumpFollowing.run({ user: follower, d });
    };
    this.followTx = db.transaction((a: string, b: string, at: string) => {
      const added = this.q.follow.run(a, b, at).changes > 0;
      if (added) bump(a, b, 1);
      return added;
    });
    this.unfollowTx = db.transaction((a: string, b: string) => {
      const removed = this.q.unfollow.run(a, b).changes > 0;
      if (removed) bump(a, b, -1);
      return removed;
    });
    this.markTx = db.transaction((userId: string, nowIso: string) => {
      this.q.markRows.run(nowIso, userId);
      this.q.markWatermark.run(userId, nowIso);
    });
  }

  async follow(followerId: string, followeeId: string, atIso: string): Promise<boolean> {
    return this.followTx(followerId, followeeId, atIso);
  }

  async unfollow(followerId: string, followeeId: string): Promise<boolean> {
    return this.unfollowTx(followerId, followeeId);
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    return this.q.isFollowing.get(followerId, followeeId) !== undefined;
  }

  async followCounts(userId: string): Promise<FollowCounts> {
    return this.q.counts.get(userId) ?? { followers: 0, following: 0 };
  }

  async followers(userId: string, page: { after?: Keyset; limit: number }): Promise<FollowEntry[]> {
    return this.entries(this.q.followers.all({ user: userId, ...pageParams(page.after, page.limit) }));
  }

  async following(userId: string, page: { after?: Keyset; limit: number }): Promise<FollowEntry[]> {
    return this.entries(this.q.following.all({ user: userId, ...pageParams(page.after, page.limit) }));
  }

  private entries(rows: unknown[]): FollowEntry[] {
    return rows.map((r) => ({
      user: this.map.toUser(r as UserRow),
      since: (r as { follow_since: string }).follow_since,
    }));
  }

  async spacesByHost(hostId: string, page: SpacePage): Promise<SpaceRecord[]> {
    return this.spaces(page.ascending ? this.q.byHostAsc : this.q.byHostDesc, hostId, page);
  }

  async followedSpaces(followerId: string, page: SpacePage): Promise<SpaceRecord[]> {
    return this.spaces(page.ascending ? this.q.followedAsc : this.q.followedDesc, followerId, page);
  }

  private spaces(stmt: Database.Statement, user: string, page: SpacePage): SpaceRecord[] {
    if (page.states.length === 0) return [];
    const rows = stmt.all({
      user,
      states: JSON.stringify(page.states),
      ...pageParams(page.after, page.limit),
    });
    return rows.map((r) => this.map.toSpace(r as SpaceRow));
  }

  async notificationFeed(
    userId: string,
    q: { sinceIso: string; after?: Keyset; limit: number },
  ): Promise<FeedItemRecord[]> {
    const rows = this.q.feed.all({ user: userId, since: q.sinceIso, ...pageParams(q.after, q.limit) });
    return rows.map((r) => {
      const row = r as { item_id: string; item_kind: FeedKind; item_at: string; item_read: string | null };
      return {
        id: row.item_id,
        kind: row.item_kind,
        at: row.item_at,
        readAt: row.item_read,
        space: this.map.toSpace(r as SpaceRow),
      };
    });
  }

  async markFeedRead(userId: string, nowIso: string): Promise<void> {
    this.markTx(userId, nowIso);
  }

  async searchSpaces(q: { terms: string[]; after?: RankedKeyset; limit: number }): Promise<SpaceRecord[]> {
    if (q.terms.length === 0) return [];
    const rows = this.q.search.all({
      match: ftsQuery(q.terms),
      after_rank: q.after?.rank ?? null,
      ...pageParams(q.after, q.limit),
    });
    return rows.map((r) => this.map.toSpace(r as SpaceRow));
  }
}
