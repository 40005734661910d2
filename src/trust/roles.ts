/**
 * Who operates trust and safety: admins (the config's `operators`, and accounts granted 'admin'),
 * moderators, and trusted flaggers (Art. 22 DSA: their notices go first). Grants live in the store;
 * this is the one place that answers "may this account do that".
 */
import { TribuneError } from '../errors.js';
import type { TrustStorage } from '../store/trust-types.js';
import type { UserRecord } from '../store/types.js';
import type { TrustRole } from './model.js';

export interface Standing {
  roles: TrustRole[];
  /** The trusted flagger's organisation. */
  organisation: string | null;
}

export class TrustRoles {
  private readonly operators: Set<string>;

  constructor(
    private readonly store: Pick<TrustStorage, 'rolesOf'>,
    operators: readonly string[],
  ) {
    this.operators = new Set(operators.map((h) => h.toLowerCase()));
  }

  async of(user: UserRecord | null): Promise<Standing> {
    if (!user) return { roles: [], organisation: null };
    const grants = await this.store.rolesOf(user.id);
    const roles = new Set<TrustRole>(grants.map((g) => g.role));
    if (this.operators.has(user.handle.toLowerCase())) roles.add('admin');
    const flagger = grants.find((g) => g.role === 'trusted-flagger');
    return { roles: [...roles].sort(), organisation: flagger?.organisation ?? null };
  }

  /** Moderators and admins; SIGN_IN_REQUIRED without an account. */
  async requireModerator(user: UserRecord | null): Promise<UserRecord> {
    if (!user) throw new TribuneError('SIGN_IN_REQUIRED');
    const { roles } = await this.of(user);
    if (!roles.includes('moderator') && !roles.includes('admin'))
      throw new TribuneError('MODERATOR_REQUIRED');
    return user;
  }

  async requireAdmin(user: UserRecord | null): Promise<UserRecord> {
    if (!user) throw new TribuneError('SIGN_IN_REQUIRED');
    if (!(await this.of(user)).roles.includes('admin')) throw new TribuneError('ADMIN_REQUIRED');
    return user;
  }
}

/**
 * Fixed one-hour windows per key (a client address, an account): `take` answers false once `max`
 * were taken in the current window. Bounded: past windows are dropped when the map grows.
 */
export class HourlyLimit {
  private readonly windows = new Map<string, { start: number; n: number }>();

  constructor(
    private readonly max: number,
    private readonly now: () => number,
    private readonly capacity = 100_000,
  ) {}

  take(key: string): boolean {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || t - w.start >= 3_600_000) {
      if (this.windows.size >= this.capacity) this.prune(t);
      w = { start: t, n: 0 };
      this.windows.set(key, w);
    }
    if (w.n >= this.max) return false;
    w.n++;
    return true;
  }

  private prune(t: number): void {
    for (const [k, w] of this.windows) if (t - w.start >= 3_600_000) this.windows.delete(k);
    // Still full of live windows: forget the oldest half rather than grow without bound.
    if (this.windows.size >= this.capacity) {
      let drop = this.windows.size >> 1;
      for (const k of this.windows.keys()) {
        if (drop-- <= 0) break;
        this.windows.delete(k);
      }
    }
  }
}
