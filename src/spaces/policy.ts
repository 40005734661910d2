/**
 * Who may do what in a Space, as X Spaces does it: 1 host, up to 2 co-hosts, up to 10 speakers,
 * any number of listeners. Pure functions: the service asks, the tests tabulate.
 */
import type { Role } from '../store/types.js';

export type Action =
  | 'start'
  | 'end'
  | 'invite'
  | 'review-requests'
  | 'see-participants'
  | 'mute'
  | 'set-role'
  | 'remove'
  | 'transfer'
  | 'edit-replay';

const RANK: Record<Role, number> = { host: 3, cohost: 2, speaker: 1, listener: 0 };

export const ON_STAGE: readonly Role[] = ['host', 'cohost', 'speaker'];
export const isOnStage = (role: Role | null | undefined): boolean => !!role && ON_STAGE.includes(role);
export const isModerator = (role: Role | null | undefined): boolean => role === 'host' || role === 'cohost';

/**
 * May `actor` do `action`, optionally to a member whose role is `target` (and, for set-role, giving
 * them `to`)? `self` is true when the target is the actor.
 */
export function can(
  actor: Role | null | undefined,
  action: Action,
  target?: { role: Role; self?: boolean; to?: Role },
): boolean {
  if (!actor) return false;
  switch (action) {
    case 'start':
    case 'end':
    case 'transfer':
    case 'edit-replay':
      return actor === 'host' && !(action === 'transfer' && (!target || target.self));
    case 'invite':
    case 'review-requests':
    case 'see-participants':
      return isModerator(actor);
    case 'mute':
      // Moderators mute anyone on stage below the host; the host is muted by nobody but themselves.
      return (
        !!target && isModerator(actor) && isOnStage(target.role) && target.role !== 'host' && !target.self
      );
    case 'remove':
      // Strictly below the actor: co-hosts remove speakers and listeners; the host removes anyone else.
      return !!target && isModerator(actor) && !target.self && RANK[target.role] < RANK[actor];
    case 'set-role': {
      if (!target || !target.to || target.self || target.to === 'host') return false;
      if (actor === 'host') return target.role !== 'host';
      // Co-hosts move people between listener and speaker only.
      return (
        actor === 'cohost' &&
        (target.role === 'speaker' || target.role === 'listener') &&
        (target.to === 'speaker' || target.to === 'listener')
      );
    }
  }
}
