import type Database from 'better-sqlite3';

/**
 * The SQLite schema, as an ordered list of versioned migrations. The database records the last one
 * applied in `PRAGMA user_version`; migrate() applies the newer ones, each in its own transaction.
 *
 * Rules: never edit or reorder a migration that has shipped — append a new one. Versions start at 1
 * and increase by one. Timestamps are ISO 8601 strings as `Date.prototype.toISOString()` writes them
 * (UTC, milliseconds), so that text order is time order; booleans are 0/1.
 */
export interface Migration {
  version: number;
  up: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        handle        TEXT NOT NULL,
        display_name  TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    TEXT NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX users_handle ON users (handle);

      CREATE TABLE sessions (
        id_hash    TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX sessions_user ON sessions (user_id);
      CREATE INDEX sessions_expires ON sessions (expires_at);

      CREATE TABLE spaces (
        id                    TEXT PRIMARY KEY,
        host_id               TEXT NOT NULL REFERENCES users (id),
        title                 TEXT NOT NULL,
        description           TEXT NOT NULL,
        state                 TEXT NOT NULL CHECK (state IN ('scheduled', 'live', 'ended')),
        require_sign_in       INTEGER NOT NULL CHECK (require_sign_in IN (0, 1)),
        scheduled_for         TEXT,
        created_at            TEXT NOT NULL,
        started_at            TEXT,
        ended_at              TEXT,
        replay_state          TEXT NOT NULL DEFAULT 'none'
                              CHECK (replay_state IN ('none', 'available', 'deleted', 'expired')),
        replay_trim_start_sec REAL NOT NULL DEFAULT 0,
        replay_expires_at     TEXT
      ) STRICT;
      CREATE INDEX spaces_state_recency
        ON spaces (state, COALESCE(ended_at, started_at, scheduled_for, created_at));
      CREATE INDEX spaces_state_scheduled ON spaces (state, scheduled_for);
      CREATE INDEX spaces_host ON spaces (host_id);
      CREATE INDEX spaces_replay_expiry ON spaces (replay_expires_at)
        WHERE state = 'ended' AND replay_state = 'available';

      CREATE TABLE members (
        space_id      TEXT NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
        user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role          TEXT NOT NULL CHECK (role IN ('host', 'cohost', 'speaker', 'listener')),
        host_muted    INTEGER NOT NULL CHECK (host_muted IN (0, 1)),
        unmute_locked INTEGER NOT NULL CHECK (unmute_locked IN (0, 1)),
        self_muted    INTEGER NOT NULL CHECK (self_muted IN (0, 1)),
        blocked       INTEGER NOT NULL CHECK (blocked IN (0, 1)),
        updated_at    TEXT NOT NULL,
        PRIMARY KEY (space_id, user_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX members_user ON members (user_id);

      CREATE TABLE speak_requests (
        space_id   TEXT NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        PRIMARY KEY (space_id, user_id)
      ) STRICT;
      CREATE INDEX speak_requests_fifo ON speak_requests (space_id, created_at);

      CREATE TABLE subscriptions (
        space_id   TEXT NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
        user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (space_id, user_id)
      ) STRICT;
      CREATE INDEX subscriptions_user ON subscriptions (user_id);

      CREATE TABLE notifications (
        id         TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        space_id   TEXT NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
        kind       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        read_at    TEXT
      ) STRICT;
      CREATE INDEX notifications_user ON notifications (user_id, created_at);
      CREATE INDEX notifications_space ON notifications (space_id);

      CREATE TABLE clips (
        id           TEXT PRIMARY KEY,
        space_id     TEXT NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
        creator_id   TEXT REFERENCES users (id) ON DELETE SET NULL,
        start_sec    REAL NOT NULL,
        duration_sec REAL NOT NULL,
        created_at   TEXT NOT NULL
      ) STRICT;
      CREATE INDEX clips_space ON clips (space_id, created_at);
      CREATE INDEX clips_creator ON clips (creator_id);

      CREATE TABLE outbox (
        id              TEXT PRIMARY KEY,
        payload         TEXT NOT NULL,
        attempts        INTEGER NOT NULL,
        next_attempt_at TEXT NOT NULL,
        created_at      TEXT NOT NULL
      ) STRICT;
      CREATE INDEX outbox_due ON outbox (next_attempt_at);
    `,
  },
  {
    // Profiles, follows, the notification feed (a pull: see SqliteSocial.notificationFeed) and search.
    version: 2,
    up: `
      CREATE TABLE follows (
        follower_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        followee_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (follower_id, followee_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX follows_followee ON follows (followee_id, created_at, follower_id);
      CREATE INDEX follows_follower ON follows (follower_id, created_at, followee_id);

      -- Counters kept with each follow and unfollow (a profile never counts a million rows).
      CREATE TABLE follow_counts (
        user_id   TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        followers INTEGER NOT NULL DEFAULT 0,
        following INTEGER NOT NULL DEFAULT 0
      ) STRICT, WITHOUT ROWID;

      -- Where a user last read their notification feed: pulled items up to then count as read.
      CREATE TABLE feed_reads (
        user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        read_at TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;

      CREATE INDEX notifications_user_space ON notifications (user_id, space_id);
      CREATE INDEX spaces_host_recency
        ON spaces (host_id, state, COALESCE(ended_at, started_at, scheduled_for, created_at), id);
      CREATE INDEX spaces_host_created ON spaces (host_id, created_at);
      CREATE INDEX spaces_host_started ON spaces (host_id, started_at);

      -- Full-text search over titles and hosts (handle and display name), kept by triggers.
      CREATE VIRTUAL TABLE spaces_fts USING fts5 (title, host, tokenize = 'unicode61 remove_diacritics 2');
      CREATE TRIGGER spaces_fts_insert AFTER INSERT ON spaces BEGIN
        INSERT INTO spaces_fts (rowid, title, host)
          SELECT new.rowid, new.title, u.handle || ' ' || u.display_name FROM users u WHERE u.id = new.host_id;
      END;
      CREATE TRIGGER spaces_fts_update AFTER UPDATE OF title, host_id ON spaces
        WHEN old.title IS NOT new.title OR old.host_id IS NOT new.host_id BEGIN
        DELETE FROM spaces_fts WHERE rowid = old.rowid;
        INSERT INTO spaces_fts (rowid, title, host)
          SELECT new.rowid, new.title, u.handle || ' ' || u.display_name FROM users u WHERE u.id = new.host_id;
      END;
      CREATE TRIGGER spaces_fts_delete AFTER DELETE ON spaces BEGIN
        DELETE FROM spaces_fts WHERE rowid = old.rowid;
      END;
      INSERT INTO spaces_fts (rowid, title, host)
        SELECT s.rowid, s.title, u.handle || ' ' || u.display_name FROM spaces s JOIN users u ON u.id = s.host_id;
    `,
  },
  {
    // Several origins (src/cluster): the fencing token of the lease under which an origin last took a
    // Space's media. An origin's writes about that media carry its token; an older one is refused.
    version: 3,
    up: `
      CREATE TABLE space_media_fences (
        space_id TEXT PRIMARY KEY REFERENCES spaces (id) ON DELETE CASCADE,
        fence    INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    // Trust and safety (EU DSA: src/trust, sqlite-trust.ts). Each record is kept whole in `doc`
    // (JSON) beside the columns its queries use. No foreign keys: these records outlive the
    // accounts and Spaces they are about. The event log and the statements are append-only
    // (triggers refuse UPDATE and DELETE).
    version: 4,
    up: `
      CREATE TABLE trust_cases (
        id               TEXT PRIMARY KEY,
        status           TEXT NOT NULL CHECK (status IN ('open', 'escalated', 'closed')),
        priority         INTEGER NOT NULL,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        space_id         TEXT,
        affected_user_id TEXT,
        notifier_user_id TEXT,
        notifier_email   TEXT,
        doc              TEXT NOT NULL
      ) STRICT;
      CREATE INDEX trust_cases_queue ON trust_cases (status, priority DESC, created_at, id);
      CREATE INDEX trust_cases_recent ON trust_cases (created_at, id);
      CREATE INDEX trust_cases_space ON trust_cases (space_id, created_at);
      CREATE INDEX trust_cases_affected ON trust_cases (affected_user_id, created_at);
      CREATE INDEX trust_cases_notifier ON trust_cases (notifier_user_id, created_at);
      CREATE INDEX trust_cases_email ON trust_cases (notifier_email, created_at);

      CREATE TABLE trust_events (
        seq      INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id  TEXT NOT NULL,
        kind     TEXT NOT NULL,
        at       TEXT NOT NULL,
        actor_id TEXT,
        data     TEXT NOT NULL
      ) STRICT;
      CREATE INDEX trust_events_case ON trust_events (case_id, seq);
      CREATE INDEX trust_events_at ON trust_events (at, seq);
      CREATE TRIGGER trust_events_no_update BEFORE UPDATE ON trust_events BEGIN
        SELECT RAISE(ABORT, 'trust_events is append-only');
      END;
      CREATE TRIGGER trust_events_no_delete BEFORE DELETE ON trust_events BEGIN
        SELECT RAISE(ABORT, 'trust_events is append-only');
      END;

      CREATE TABLE trust_statements (
        seq       INTEGER PRIMARY KEY,
        id        TEXT NOT NULL UNIQUE,
        case_id   TEXT NOT NULL,
        user_id   TEXT,
        at        TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL,
        doc       TEXT NOT NULL
      ) STRICT;
      CREATE INDEX trust_statements_case ON trust_statements (case_id, seq);
      CREATE INDEX trust_statements_user ON trust_statements (user_id, seq);
      CREATE TRIGGER trust_statements_no_update BEFORE UPDATE ON trust_statements BEGIN
        SELECT RAISE(ABORT, 'trust_statements is append-only');
      END;
      CREATE TRIGGER trust_statements_no_delete BEFORE DELETE ON trust_statements BEGIN
        SELECT RAISE(ABORT, 'trust_statements is append-only');
      END;

      CREATE TABLE trust_complaints (
        id         TEXT PRIMARY KEY,
        case_id    TEXT NOT NULL,
        state      TEXT NOT NULL CHECK (state IN ('open', 'upheld', 'rejected')),
        created_at TEXT NOT NULL,
        doc        TEXT NOT NULL
      ) STRICT;
      CREATE INDEX trust_complaints_case ON trust_complaints (case_id, created_at, id);
      CREATE INDEX trust_complaints_state ON trust_complaints (state, created_at, id);

      CREATE TABLE trust_roles (
        user_id      TEXT NOT NULL,
        role         TEXT NOT NULL CHECK (role IN ('admin', 'moderator', 'trusted-flagger')),
        organisation TEXT,
        created_at   TEXT NOT NULL,
        PRIMARY KEY (user_id, role)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE account_standing (
        user_id    TEXT PRIMARY KEY,
        updated_at TEXT NOT NULL,
        doc        TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE notifier_standing (
        key        TEXT PRIMARY KEY,
        updated_at TEXT NOT NULL,
        doc        TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;

      -- restricted: hidden, labelled or geo-restricted (what moderatedSpaces() lists).
      CREATE TABLE space_moderation (
        space_id   TEXT PRIMARY KEY,
        restricted INTEGER NOT NULL CHECK (restricted IN (0, 1)),
        updated_at TEXT NOT NULL,
        doc        TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX space_moderation_restricted ON space_moderation (space_id) WHERE restricted = 1;

      CREATE TABLE trust_evidence (
        id         TEXT PRIMARY KEY,
        case_id    TEXT NOT NULL,
        space_id   TEXT NOT NULL,
        created_at TEXT NOT NULL,
        keep_until TEXT NOT NULL,
        deleted_at TEXT,
        doc        TEXT NOT NULL
      ) STRICT;
      CREATE INDEX trust_evidence_case ON trust_evidence (case_id, created_at, id);
      CREATE INDEX trust_evidence_expiry ON trust_evidence (keep_until, id) WHERE deleted_at IS NULL;

      CREATE TABLE tdb_outbox (
        puid            TEXT PRIMARY KEY,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
        next_attempt_at TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        doc             TEXT NOT NULL
      ) STRICT;
      CREATE INDEX tdb_outbox_due ON tdb_outbox (created_at, puid) WHERE state = 'pending';
    `,
  },
];

/** The schema version this code writes (the last migration's). */
export const SCHEMA_VERSION: number = migrations[migrations.length - 1].version;

function checkOrder(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`migration #${i} has version ${m.version}; versions must be 1, 2, 3... in order`);
  });
}

function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` up to the last version in `list`: each pending migration runs in its own (immediate)
 * transaction together with the `user_version` bump, so a failed migration leaves the database at
 * the previous version. Idempotent. Throws, touching nothing, when the database was written by a
 * newer Tribune (its user_version is beyond `list`). Returns the resulting version.
 */
export function migrate(db: Database.Database, list: readonly Migration[] = migrations): number {
  checkOrder(list);
  const latest = list.length ? list[list.length - 1].version : 0;
  const tooNew = (v: number): Error =>
    new Error(
      `database ${db.name} has schema version ${v}, newer than this Tribune knows (${latest}); ` +
        'upgrade Tribune or use another data directory',
    );
  if (userVersion(db) > latest) throw tooNew(userVersion(db));
  for (const m of list) {
    // Re-read inside the transaction: another process may have migrated in the meantime.
    db.transaction((): void => {
      const current = userVersion(db);
      if (current > latest) throw tooNew(current);
      if (current >= m.version) return;
      db.exec(m.up);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
  return userVersion(db);
}
