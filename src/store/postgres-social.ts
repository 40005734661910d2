/**
 * PostgreSQL side of SocialStorage (social-types.ts), the same queries as sqlite-social.ts:
 * follows with their counters (one statement each: the follow and its counters commit together),
 * a host's Spaces, the notification feed as a pull, and full-text search (a tsvector per Space in
 * `spaces_fts`, GIN-indexed and kept by triggers; words split and folded as in SQLite: migration 2
 * of pg-migrations.ts). PostgresStorage extends this class.
 */
import { PgQueries } from './postgres-pool.js';
import { S_SPACE_COLS, toSpace, toUser, type SpaceRow, type UserRow } from './postgres-rows.js';
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
import type { SpaceRecord } from './types.js';

const SORT_AT = 'COALESCE(s.ended_at, s.started_at, s.scheduled_for, s.created_at)';
const RANK = `CASE s.state WHEN 'live' THEN 0 WHEN 'scheduled' THEN 1 ELSE 2 END`;
const lim = (n: number): number => (Number.isFinite(n) ? Math.max(0, Math.min(1000, Math.floor(n))) : 0);

/** `(key, id)` after the keyset ($a, $b), in the list's direction (`<` newest first, `>` soonest first). */
const afterClause = (key: string, id: string, op: '<' | '>', a: number): string =>
  `($${a}::text IS NULL OR (${key}, ${id}) ${op} ($${a}::text, $${a + 1}::text))`;

/** Each counter of the follower and the followee moves by `d` (a self-follow is one row, both moved). */
const bumpRows = (from: string, d: 1 | -1): string =>
  `SELECT x.user_id, sum(x.fr)::int AS fr, sum(x.fg)::int AS fg
     FROM ${from} CROSS JOIN LATERAL
          (VALUES (${from}.followee_id, ${d}, 0), (${from}.follower_id, 0, ${d})) AS x (user_id, fr, fg)
    GROUP BY x.user_id ORDER BY x.user_id`;

const FOLLOW = `
  WITH ins AS (
    INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, $3)
    ON CONFLICT (follower_id, followee_id) DO NOTHING RETURNING follower_id, followee_id
  ), bump AS (
    INSERT INTO follow_counts (user_id, followers, following) ${bumpRows('ins', 1)}
    ON CONFLICT (user_id) DO UPDATE SET followers = follow_counts.followers + excluded.followers,
                                        following = follow_counts.following + excluded.following
  )
  SELECT count(*)::int AS n FROM ins`;

const UNFOLLOW = `
  WITH del AS (
    DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2 RETURNING follower_id, followee_id
  ), bump AS (
    UPDATE follow_counts c SET followers = GREATEST(c.followers + d.fr, 0), following = GREATEST(c.following + d.fg, 0)
      FROM (${bumpRows('del', -1)}) d WHERE c.user_id = d.user_id
  )
  SELECT count(*)::int AS n FROM del`;

const followList = (self: string, other: string): string =>
  `SELECT u.id, u.handle, u.display_name, u.password_hash, u.created_at, f.created_at AS follow_since
     FROM follows f JOIN users u ON u.id = f.${other}
    WHERE f.${self} = $1 AND ${afterClause('f.created_at', `f.${other}`, '<', 2)}
    ORDER BY f.created_at DESC, f.${other} DESC LIMIT $4`;

const spacesOf = (from: string, where: string, dir: 'ASC' | 'DESC'): string =>
  `SELECT ${S_SPACE_COLS} FROM ${from}
    WHERE ${where} AND s.state = ANY ($2::text[]) AND ${afterClause(SORT_AT, 's.id', dir === 'DESC' ? '<' : '>', 3)}
    ORDER BY ${SORT_AT} ${dir}, s.id ${dir} LIMIT $5`;
const FOLLOWED = 'follows f JOIN spaces s ON s.host_id = f.followee_id';

// The pull: the user's own rows, and the events of followed hosts' Spaces, joined at read time.
const FEED = `
  WITH items (item_id, item_kind, item_space, item_at, item_read) AS (
    SELECT n.id, n.kind, n.space_id, n.created_at, n.read_at FROM notifications n WHERE n.user_id = $1
    UNION ALL
    SELECT 'follow.scheduled.' || s.id, 'host-scheduled', s.id, s.created_at, NULL::text
      FROM follows f JOIN spaces s ON s.host_id = f.followee_id
     WHERE f.follower_id = $1 AND s.scheduled_for IS NOT NULL AND s.created_at >= $2::text
    UNION ALL
    SELECT 'follow.live.' || s.id, 'host-live', s.id, s.started_at, NULL::text
      FROM follows f JOIN spaces s ON s.host_id = f.followee_id
     WHERE f.follower_id = $1 AND s.started_at IS NOT NULL AND s.started_at >= $2::text
       AND NOT EXISTS (SELECT 1 FROM notifications x
                        WHERE x.user_id = $1 AND x.space_id = s.id AND x.kind = 'space-started')
  )
  SELECT i.item_id, i.item_kind, i.item_at,
         COALESCE(i.item_read, CASE WHEN i.item_at <= r.read_at THEN r.read_at END) AS item_read, ${S_SPACE_COLS}
    FROM items i JOIN spaces s ON s.id = i.item_space
    LEFT JOIN feed_reads r ON r.user_id = $1
   WHERE ${afterClause('i.item_at', 'i.item_id', '<', 3)}
   ORDER BY i.item_at DESC, i.item_id DESC LIMIT $5`;

const MARK_READ = `
  WITH marked AS (UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL)
  INSERT INTO feed_reads (user_id, read_at) VALUES ($1, $2)
  ON CONFLICT (user_id) DO UPDATE SET read_at = GREATEST(feed_reads.read_at, excluded.read_at)`;

const SEARCH = `
  SELECT ${S_SPACE_COLS} FROM spaces_fts f JOIN spaces s ON s.id = f.space_id
   WHERE f.doc @@ tribune_search_query($1::text[])
     AND ($3::text IS NULL OR ${RANK} > $2::int
          OR (${RANK} = $2::int AND (${SORT_AT}, s.id) < ($3::text, $4::text)))
   ORDER BY ${RANK}, ${SORT_AT} DESC, s.id DESC LIMIT $5`;

const keyset = (after: Keyset | undefined): [string | null, string | null] => [
  after?.at ?? null,
  after?.id ?? null,
];

/** The social methods of PostgresStorage (its base class). */
export class PgSocial extends PgQueries implements SocialStorage {
  async follow(followerId: string, followeeId: string, atIso: string): Promise<boolean> {
    return (await this.rows<{ n: number }>(FOLLOW, [followerId, followeeId, atIso]))[0].n > 0;
  }

  async unfollow(followerId: string, followeeId: string): Promise<boolean> {
    return (await this.rows<{ n: number }>(UNFOLLOW, [followerId, followeeId]))[0].n > 0;
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    const r = await this.rows('SELECT 1 FROM follows WHERE follower_id = $1 AND followee_id = $2', [
      followerId,
      followeeId,
    ]);
    return r.length > 0;
  }

  async followCounts(userId: string): Promise<FollowCounts> {
    const r = await this.rows<FollowCounts>(
      'SELECT followers, following FROM follow_counts WHERE user_id = $1',
      [userId],
    );
    return r[0] ?? { followers: 0, following: 0 };
  }

  async followers(userId: string, page: { after?: Keyset; limit: number }): Promise<FollowEntry[]> {
    return this.entries(followList('followee_id', 'follower_id'), userId, page);
  }

  async following(userId: string, page: { after?: Keyset; limit: number }): Promise<FollowEntry[]> {
    return this.entries(followList('follower_id', 'followee_id'), userId, page);
  }

  private async entries(
    sql: string,
    userId: string,
    page: { after?: Keyset; limit: number },
  ): Promise<FollowEntry[]> {
    const rows = await this.rows<UserRow & { follow_since: string }>(sql, [
      userId,
      ...keyset(page.after),
      lim(page.limit),
    ]);
    return rows.map((r) => ({ user: toUser(r), since: r.follow_since }));
  }

  async spacesByHost(hostId: string, page: SpacePage): Promise<SpaceRecord[]> {
    const dir = page.ascending ? 'ASC' : 'DESC';
    return this.spaces(spacesOf('spaces s', 's.host_id = $1', dir), hostId, page);
  }

  async followedSpaces(followerId: string, page: SpacePage): Promise<SpaceRecord[]> {
    const dir = page.ascending ? 'ASC' : 'DESC';
    return this.spaces(spacesOf(FOLLOWED, 'f.follower_id = $1', dir), followerId, page);
  }

  private async spaces(sql: string, user: string, page: SpacePage): Promise<SpaceRecord[]> {
    if (page.states.length === 0) return [];
    const rows = await this.rows<SpaceRow>(sql, [user, page.states, ...keyset(page.after), lim(page.limit)]);
    return rows.map(toSpace);
  }

  async notificationFeed(
    userId: string,
    q: { sinceIso: string; after?: Keyset; limit: number },
  ): Promise<FeedItemRecord[]> {
    const rows = await this.rows<
      SpaceRow & { item_id: string; item_kind: FeedKind; item_at: string; item_read: string | null }
    >(FEED, [userId, q.sinceIso, ...keyset(q.after), lim(q.limit)]);
    return rows.map((r) => ({
      id: r.item_id,
      kind: r.item_kind,
      at: r.item_at,
      readAt: r.item_read,
      space: toSpace(r),
    }));
  }

  async markFeedRead(userId: string, nowIso: string): Promise<void> {
    await this.run(MARK_READ, [userId, nowIso]);
  }

  async searchSpaces(q: { terms: string[]; after?: RankedKeyset; limit: number }): Promise<SpaceRecord[]> {
    if (q.terms.length === 0) return [];
    const rows = await this.rows<SpaceRow>(SEARCH, [
      q.terms,
      q.after?.rank ?? null,
      ...keyset(q.after),
      lim(q.limit),
    ]);
    return rows.map(toSpace);
  }
}
