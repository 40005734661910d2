import { describe, expect, it } from 'vitest';
import { can, type Action } from '../../src/spaces/policy.js';
import type { Role } from '../../src/store/types.js';

const ROLES: (Role | null)[] = [null, 'listener', 'speaker', 'cohost', 'host'];

describe('role policy', () => {
  it('only the host starts, ends, transfers and edits the replay', () => {
    for (const a of ['start', 'end', 'edit-replay'] as Action[])
      for (const r of ROLES) expect(can(r, a), `${r} ${a}`).toBe(r === 'host');
    expect(can('host', 'transfer', { role: 'speaker' })).toBe(true);
    expect(can('host', 'transfer', { role: 'host', self: true })).toBe(false);
    expect(can('cohost', 'transfer', { role: 'speaker' })).toBe(false);
  });

  it('host and co-hosts invite, review requests and see participants; nobody else', () => {
    for (const a of ['invite', 'review-requests', 'see-participants'] as Action[])
      for (const r of ROLES) expect(can(r, a)).toBe(r === 'host' || r === 'cohost');
  });

  it('mutes: moderators mute speakers and co-hosts, never the host, never themselves', () => {
    expect(can('host', 'mute', { role: 'speaker' })).toBe(true);
    expect(can('host', 'mute', { role: 'cohost' })).toBe(true);
    expect(can('cohost', 'mute', { role: 'speaker' })).toBe(true);
    expect(can('cohost', 'mute', { role: 'host' })).toBe(false);
    expect(can('cohost', 'mute', { role: 'cohost', self: true })).toBe(false);
    expect(can('host', 'mute', { role: 'listener' })).toBe(false);
    expect(can('speaker', 'mute', { role: 'speaker' })).toBe(false);
    expect(can('listener', 'mute', { role: 'speaker' })).toBe(false);
  });

  it('removes strictly downwards', () => {
    expect(can('host', 'remove', { role: 'cohost' })).toBe(true);
    expect(can('cohost', 'remove', { role: 'speaker' })).toBe(true);
    expect(can('cohost', 'remove', { role: 'listener' })).toBe(true);
    expect(can('cohost', 'remove', { role: 'cohost' })).toBe(false);
    expect(can('cohost', 'remove', { role: 'host' })).toBe(false);
    expect(can('speaker', 'remove', { role: 'listener' })).toBe(false);
    expect(can('host', 'remove', { role: 'host', self: true })).toBe(false);
  });

  it('role changes: a listener can never promote anyone, themselves included', () => {
    expect(can('listener', 'set-role', { role: 'listener', self: true, to: 'speaker' })).toBe(false);
    expect(can('speaker', 'set-role', { role: 'listener', to: 'speaker' })).toBe(false);
    expect(can('cohost', 'set-role', { role: 'listener', to: 'speaker' })).toBe(true);
    expect(can('cohost', 'set-role', { role: 'speaker', to: 'listener' })).toBe(true);
    expect(can('cohost', 'set-role', { role: 'speaker', to: 'cohost' })).toBe(false);
    expect(can('cohost', 'set-role', { role: 'cohost', to: 'speaker' })).toBe(false);
    expect(can('host', 'set-role', { role: 'speaker', to: 'cohost' })).toBe(true);
    expect(can('host', 'set-role', { role: 'cohost', to: 'listener' })).toBe(true);
    expect(can('host', 'set-role', { role: 'speaker', to: 'host' })).toBe(false);
    expect(can(null, 'set-role', { role: 'listener', to: 'speaker' })).toBe(false);
  });
});
