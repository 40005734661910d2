import type pg from 'pg';
import type { Migration } from './migrations.js';

/**
 * The PostgreSQL schema, as an ordered list of versioned migrations: the same tables, keys and
 * versions as the SQLite ones (migrations.ts; version N means the same schema on both), written for
 * PostgreSQL. The database records each version applied in `tribune_schema_migrations`; migratePg()
 * applies the newer ones, each in its own transaction under an advisory lock (several origins may
 * start at once).
 *
 * Rules: never edit or reorder a migration that has shipped — append a new one, here and in
 * migrations.ts. Timestamps and ids are `TEXT COLLATE "C"` (ISO 8601 as `toISOString()` writes
 * them), so that their order is byte order whatever the database's locale, as in SQLite. Tables
 * whose lists SQLite orders by rowid have a `seq` identity column instead.
 */
export const pgMigrations: readonly Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE users (
        id            TEXT COLLATE "C" PRIMARY KEY,
        handle        TEXT COLLATE "C" NOT NULL,
        display_name  TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    TEXT COLLATE "C" NOT NULL
      );
      CREATE UNIQUE INDEX users_handle ON users (handle);

      CREATE TABLE sessions (
        id_hash    TEXT COLLATE "C" PRIMARY KEY,
        user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TEXT COLLATE "C" NOT NULL,
        expires_at TEXT COLLATE "C" NOT NULL
      );
      CREATE INDEX sessions_user ON sessions (user_id);
      CREATE INDEX sessions_expires ON sessions (expires_at);

      CREATE TABLE spaces (
        id                    TEXT COLLATE "C" PRIMARY KEY,
        host_id               TEXT COLLATE "C" NOT NULL REFERENCES users (id),
        title                 TEXT NOT NULL,
        description           TEXT NOT NULL,
        state                 TEXT COLLATE "C" NOT NULL CHECK (state IN ('scheduled', 'live', 'ended')),
        require_sign_in       BOOLEAN NOT NULL,
        scheduled_for         TEXT COLLATE "C",
        created_at            TEXT COLLATE "C" NOT NULL,
        started_at            TEXT COLLATE "C",
        ended_at              TEXT COLLATE "C",
        replay_state          TEXT COLLATE "C" NOT NULL DEFAULT 'none'
                              CHECK (replay_state IN ('none', 'available', 'deleted', 'expired')),
        replay_trim_start_sec DOUBLE PRECISION NOT NULL DEFAULT 0,
        replay_expires_at     TEXT COLLATE "C"
      );
      CREATE INDEX spaces_state_recency
        ON spaces (state, COALESCE(ended_at, started_at, scheduled_for, created_at));
      CREATE INDEX spaces_state_scheduled ON spaces (state, scheduled_for);
      CREATE INDEX spaces_host ON spaces (host_id);
      CREATE INDEX spaces_replay_expiry ON spaces (replay_expires_at)
        WHERE state = 'ended' AND replay_state = 'available';

      CREATE TABLE members (
        space_id      TEXT COLLATE "C" NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
        user_id       TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role          TEXT COLLATE "C" NOT NULL CHECK (role IN ('host', 'cohost', 'speaker', 'listener')),
        host_muted    BOOLEAN NOT NULL,
        unmute_locked BOOLEAN NOT NULL,
        self_muted    BOOLEAN NOT NULL,
        blocked       BOOLEAN NOT NULL,
        updated_at    TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (space_id, user_id)
      );
      CREATE INDEX members_user ON members (user_id);

      CREATE TABLE speak_requests (
        space_id   TEXT COLLATE "C" NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
        user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TEXT COLLATE "C" NOT NULL,
        seq        BIGINT GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (space_id, user_id)
      );
      CREATE INDEX speak_requests_fifo ON speak_requests (space_id, created_at, seq);

      CREATE TABLE subscriptions (
        space_id   TEXT COLLATE "C" NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
        user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TEXT COLLATE "C" NOT NULL
                   DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        seq        BIGINT GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (space_id, user_id)
      );
      CREATE INDEX subscriptions_user ON subscriptions (user_id);

      CREATE TABLE notifications (
        id         TEXT COLLATE "C" PRIMARY KEY,
        user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        space_id   TEXT COLLATE "C" NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
        kind       TEXT COLLATE "C" NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL,
        read_at    TEXT COLLATE "C",
        seq        BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX notifications_user ON notifications (user_id, created_at, seq);
      CREATE INDEX notifications_space ON notifications (space_id);

      CREATE TABLE clips (
        id           TEXT COLLATE "C" PRIMARY KEY,
        space_id     TEXT COLLATE "C" NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
        creator_id   TEXT COLLATE "C" REFERENCES users (id) ON DELETE SET NULL,
        start_sec    DOUBLE PRECISION NOT NULL,
        duration_sec DOUBLE PRECISION NOT NULL,
        created_at   TEXT COLLATE "C" NOT NULL,
        seq          BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX clips_space ON clips (space_id, created_at, seq);
      CREATE INDEX clips_creator ON clips (creator_id);

      CREATE TABLE outbox (
        id              TEXT COLLATE "C" PRIMARY KEY,
        payload         TEXT NOT NULL,
        attempts        INTEGER NOT NULL,
        next_attempt_at TEXT COLLATE "C" NOT NULL,
        created_at      TEXT COLLATE "C" NOT NULL
      );
      CREATE INDEX outbox_due ON outbox (next_attempt_at);
    `,
  },
  {
    // Profiles, follows, the notification feed (a pull: see PgSocial.notificationFeed) and search.
    version: 2,
    up: `
      CREATE TABLE follows (
        follower_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        followee_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at  TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (follower_id, followee_id)
      );
      CREATE INDEX follows_followee ON follows (followee_id, created_at, follower_id);
      CREATE INDEX follows_follower ON follows (follower_id, created_at, followee_id);

      -- Counters kept with each follow and unfollow (a profile never counts a million rows).
      CREATE TABLE follow_counts (
        user_id   TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        followers INTEGER NOT NULL DEFAULT 0,
        following INTEGER NOT NULL DEFAULT 0
      );

      -- Where a user last read their notification feed: pulled items up to then count as read.
      CREATE TABLE feed_reads (
        user_id TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        read_at TEXT COLLATE "C" NOT NULL
      );

      CREATE INDEX notifications_user_space ON notifications (user_id, space_id);
      CREATE INDEX spaces_host_recency
        ON spaces (host_id, state, COALESCE(ended_at, started_at, scheduled_for, created_at), id);
      CREATE INDEX spaces_host_created ON spaces (host_id, created_at);
      CREATE INDEX spaces_host_started ON spaces (host_id, started_at);

      -- Full-text search over titles and hosts (handle and display name), kept by triggers. Words
      -- are split as SQLite's unicode61 does (on anything but letters and digits), lowercased and,
      -- with the unaccent extension (trusted: the database owner may create it), without accents.
      -- A term is a phrase of its words, the last one a prefix: tribune_search_query().
      DO $do$
      DECLARE
        nsp  text;
        coll text := 'default';
        fold text;
      BEGIN
        BEGIN
          CREATE EXTENSION IF NOT EXISTS unaccent;
        EXCEPTION WHEN OTHERS THEN
          RAISE NOTICE 'tribune: no unaccent extension (%): search folds case only', SQLERRM;
        END;
        SELECT n.nspname INTO nsp
          FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent';
        -- ICU knows every script's letters and cases whatever the database's locale.
        IF EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN coll := 'und-x-icu'; END IF;
        fold := format('lower(t COLLATE %I)', coll);
        IF nsp IS NOT NULL THEN
          fold := format('%I.unaccent(%L::regdictionary, %s)', nsp, nsp || '.unaccent', fold);
        END IF;
        EXECUTE format($f$
          CREATE FUNCTION tribune_search_tokens(t text) RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE
          AS $body$ SELECT array_remove(regexp_split_to_array(%s COLLATE %I, '[^[:alnum:]]+'), '') $body$
        $f$, fold, coll);
      END
      $do$;

      -- Title words at 1..n, host words from n + 2: no phrase spans the two (FTS5 columns).
      CREATE FUNCTION tribune_search_doc(title text, host text) RETURNS tsvector
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT COALESCE(string_agg(quote_literal(tok) || ':' || pos, ' '), '')::tsvector
          FROM (SELECT tribune_search_tokens(title) AS a, tribune_search_tokens(host) AS b) t,
          LATERAL (
            SELECT tok, pos FROM unnest(t.a) WITH ORDINALITY AS x (tok, pos)
            UNION ALL
            SELECT tok, pos + cardinality(t.a) + 1 FROM unnest(t.b) WITH ORDINALITY AS y (tok, pos)
          ) z
         WHERE octet_length(tok) <= 2000
      $$;

      -- Every term required. As in FTS5, a term without any word is left out, and a query of only
      -- such terms matches nothing (NULL).
      CREATE FUNCTION tribune_search_query(terms text[]) RETURNS tsquery
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT string_agg('(' || phrase || ')', ' & ')::tsquery
          FROM (
            SELECT (SELECT string_agg(quote_literal(tok) || CASE WHEN i = cardinality(toks) THEN ':*' ELSE '' END,
                                      ' <-> ' ORDER BY i)
                      FROM unnest(toks) WITH ORDINALITY AS u (tok, i)) AS phrase
              FROM (SELECT tribune_search_tokens(term) AS toks FROM unnest(terms) AS term) x
          ) p
      $$;

      CREATE TABLE spaces_fts (
        space_id TEXT COLLATE "C" PRIMARY KEY REFERENCES spaces (id) ON DELETE CASCADE,
        doc      TSVECTOR NOT NULL
      );
      CREATE INDEX spaces_fts_doc ON spaces_fts USING gin (doc);
      CREATE FUNCTION tribune_spaces_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO spaces_fts (space_id, doc)
          SELECT NEW.id, tribune_search_doc(NEW.title, u.handle || ' ' || u.display_name)
            FROM users u WHERE u.id = NEW.host_id
        ON CONFLICT (space_id) DO UPDATE SET doc = excluded.doc;
        RETURN NULL;
      END
      $$;
      CREATE TRIGGER spaces_fts_insert AFTER INSERT ON spaces
        FOR EACH ROW EXECUTE FUNCTION tribune_spaces_fts_sync();
      CREATE TRIGGER spaces_fts_update AFTER UPDATE OF title, host_id ON spaces
        FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.host_id IS DISTINCT FROM NEW.host_id)
        EXECUTE FUNCTION tribune_spaces_fts_sync();
      INSERT INTO spaces_fts (space_id, doc)
        SELECT s.id, tribune_search_doc(s.title, u.handle || ' ' || u.display_name)
          FROM spaces s JOIN users u ON u.id = s.host_id;
    `,
  },
  {
    // Several origins (src/cluster): the fencing token of the lease under which an origin last took a
    // Space's media. An origin's writes about that media carry its token; an older one is refused.
    version: 3,
    up: `
      CREATE TABLE space_media_fences (
        space_id TEXT COLLATE "C" PRIMARY KEY REFERENCES spaces (id) ON DELETE CASCADE,
        fence    BIGINT NOT NULL
      );
    `,
  },
  {
    // Trust and safety (EU DSA: src/trust, postgres-trust.ts). Each record is kept whole in `doc`
    // (JSON text) beside the columns its queries use. No foreign keys: these records outlive the
    // accounts and Spaces they are about. The event log and the statements are append-only (a
    // trigger refuses UPDATE, DELETE and TRUNCATE).
    version: 4,
    up: `
      CREATE TABLE trust_cases (
        id               TEXT COLLATE "C" PRIMARY KEY,
        status           TEXT COLLATE "C" NOT NULL CHECK (status IN ('open', 'escalated', 'closed')),
        priority         INTEGER NOT NULL,
        created_at       TEXT COLLATE "C" NOT NULL,
        updated_at       TEXT COLLATE "C" NOT NULL,
        space_id         TEXT COLLATE "C",
        affected_user_id TEXT COLLATE "C",
        notifier_user_id TEXT COLLATE "C",
        notifier_email   TEXT COLLATE "C",
        doc              TEXT NOT NULL
      );
      CREATE INDEX trust_cases_queue ON trust_cases (status, priority DESC, created_at, id);
      CREATE INDEX trust_cases_recent ON trust_cases (created_at, id);
      CREATE INDEX trust_cases_space ON trust_cases (space_id, created_at);
      CREATE INDEX trust_cases_affected ON trust_cases (affected_user_id, created_at);
      CREATE INDEX trust_cases_notifier ON trust_cases (notifier_user_id, created_at);
      CREATE INDEX trust_cases_email ON trust_cases (notifier_email, created_at);

      CREATE FUNCTION tribune_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
      END
      $$;

      CREATE TABLE trust_events (
        seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        case_id  TEXT COLLATE "C" NOT NULL,
        kind     TEXT COLLATE "C" NOT NULL,
        at       TEXT COLLATE "C" NOT NULL,
        actor_id TEXT COLLATE "C",
        data     TEXT NOT NULL
      );
      CREATE INDEX trust_events_case ON trust_events (case_id, seq);
      CREATE INDEX trust_events_at ON trust_events (at, seq);
      CREATE TRIGGER trust_events_append_only BEFORE UPDATE OR DELETE ON trust_events
        FOR EACH ROW EXECUTE FUNCTION tribune_append_only();
      CREATE TRIGGER trust_events_no_truncate BEFORE TRUNCATE ON trust_events
        FOR EACH STATEMENT EXECUTE FUNCTION tribune_append_only();

      CREATE TABLE trust_statements (
        seq       BIGINT PRIMARY KEY,
        id        TEXT COLLATE "C" NOT NULL UNIQUE,
        case_id   TEXT COLLATE "C" NOT NULL,
        user_id   TEXT COLLATE "C",
        at        TEXT COLLATE "C" NOT NULL,
        prev_hash TEXT COLLATE "C" NOT NULL,
        hash      TEXT COLLATE "C" NOT NULL,
        doc       TEXT NOT NULL
      );
      CREATE INDEX trust_statements_case ON trust_statements (case_id, seq);
      CREATE INDEX trust_statements_user ON trust_statements (user_id, seq);
      CREATE TRIGGER trust_statements_append_only BEFORE UPDATE OR DELETE ON trust_statements
        FOR EACH ROW EXECUTE FUNCTION tribune_append_only();
      CREATE TRIGGER trust_statements_no_truncate BEFORE TRUNCATE ON trust_statements
        FOR EACH STATEMENT EXECUTE FUNCTION tribune_append_only();

      CREATE TABLE trust_complaints (
        id         TEXT COLLATE "C" PRIMARY KEY,
        case_id    TEXT COLLATE "C" NOT NULL,
        state      TEXT COLLATE "C" NOT NULL CHECK (state IN ('open', 'upheld', 'rejected')),
        created_at TEXT COLLATE "C" NOT NULL,
        doc        TEXT NOT NULL
      );
      CREATE INDEX trust_complaints_case ON trust_complaints (case_id, created_at, id);
      CREATE INDEX trust_complaints_state ON trust_complaints (state, created_at, id);

      CREATE TABLE trust_roles (
        user_id      TEXT COLLATE "C" NOT NULL,
        role         TEXT COLLATE "C" NOT NULL CHECK (role IN ('admin', 'moderator', 'trusted-flagger')),
        organisation TEXT,
        created_at   TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (user_id, role)
      );

      CREATE TABLE account_standing (
        user_id    TEXT COLLATE "C" PRIMARY KEY,
        updated_at TEXT COLLATE "C" NOT NULL,
        doc        TEXT NOT NULL
      );

      CREATE TABLE notifier_standing (
        key        TEXT COLLATE "C" PRIMARY KEY,
        updated_at TEXT COLLATE "C" NOT NULL,
        doc        TEXT NOT NULL
      );

      -- restricted: hidden, labelled or geo-restricted (what moderatedSpaces() lists).
      CREATE TABLE space_moderation (
        space_id   TEXT COLLATE "C" PRIMARY KEY,
        restricted INTEGER NOT NULL CHECK (restricted IN (0, 1)),
        updated_at TEXT COLLATE "C" NOT NULL,
        doc        TEXT NOT NULL
      );
      CREATE INDEX space_moderation_restricted ON space_moderation (space_id) WHERE restricted = 1;

      CREATE TABLE trust_evidence (
        id         TEXT COLLATE "C" PRIMARY KEY,
        case_id    TEXT COLLATE "C" NOT NULL,
        space_id   TEXT COLLATE "C" NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL,
        keep_until TEXT COLLATE "C" NOT NULL,
        deleted_at TEXT COLLATE "C",
        doc        TEXT NOT NULL
      );
      CREATE INDEX trust_evidence_case ON trust_evidence (case_id, created_at, id);
      CREATE INDEX trust_evidence_expiry ON trust_evidence (keep_until, id) WHERE deleted_at IS NULL;

      CREATE TABLE tdb_outbox (
        puid            TEXT COLLATE "C" PRIMARY KEY,
        state           TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
        next_attempt_at TEXT COLLATE "C" NOT NULL,
        created_at      TEXT COLLATE "C" NOT NULL,
        doc             TEXT NOT NULL
      );
      CREATE INDEX tdb_outbox_due ON tdb_outbox (created_at, puid) WHERE state = 'pending';
    `,
  },
];

/** The schema version this code writes (the last migration's). */
export const PG_SCHEMA_VERSION: number = pgMigrations[pgMigrations.length - 1].version;

/** Serializes migrations across every process migrating the same database. */
const LOCK = `SELECT pg_advisory_xact_lock(hashtext('tribune:migrate'))`;

/**
 * Brings the database up to the last version in `list`: each pending migration runs in its own
 * transaction, with no statement timeout, together with its row in `tribune_schema_migrations`,
 * so a failed migration leaves the database at the previous version. Idempotent, and safe when
 * several processes start at once. Throws, touching nothing, when the database was written by a
 * newer Tribune. `where` names the database in that message (a URL without its password).
 */
export async function migratePg(
  pool: pg.Pool,
  list: readonly Migration[] = pgMigrations,
  where = 'database',
): Promise<number> {
  list.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`migration #${i} has version ${m.version}; versions must be 1, 2, 3... in order`);
  });
  const latest = list.length ? list[list.length - 1].version : 0;
  const client = await pool.connect();
  const inTx = async <T>(fn: () => Promise<T>): Promise<T> => {
    await client.query('BEGIN');
    try {
      await client.query('SET LOCAL statement_timeout = 0');
      await client.query(LOCK);
      const out = await fn();
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  };
  const current = async (): Promise<number> => {
    const r = await client.query<{ v: number }>(
      'SELECT COALESCE(max(version), 0) AS v FROM tribune_schema_migrations',
    );
    const v = r.rows[0].v;
    if (v > latest)
      throw new Error(
        `${where} has schema version ${v}, newer than this Tribune knows (${latest}); ` +
          'upgrade Tribune or use another database',
      );
    return v;
  };
  try {
    let version = await inTx(async () => {
      await client.query(
        `CREATE TABLE IF NOT EXISTS tribune_schema_migrations (
           version    INTEGER PRIMARY KEY,
           applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )`,
      );
      return current();
    });
    for (const m of list) {
      if (version >= m.version) continue;
      // Re-read under the lock: another process may have migrated in the meantime.
      version = await inTx(async () => {
        const v = await current();
        if (v >= m.version) return v;
        await client.query(m.up).catch((err: unknown) => {
          const why = err instanceof Error ? err.message : String(err);
          throw new Error(`migrating ${where} to schema version ${m.version} failed: ${why}`, { cause: err });
        });
        await client.query('INSERT INTO tribune_schema_migrations (version) VALUES ($1)', [m.version]);
        return m.version;
      });
    }
    return version;
  } finally {
    client.release();
  }
}
