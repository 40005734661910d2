/** What every part of the trust service shares: the store, the Space side, the clock, the log. */
import type { TribuneConfig } from '../config.js';
import type { HlsStore } from '../hls/store.js';
import { newId } from '../origin/spaces.js';
import type { SpaceService } from '../spaces/service.js';
import type { StageService } from '../spaces/stage.js';
import type { Storage } from '../store/types.js';
import { TribuneError } from '../errors.js';
import type { EvidenceKeeper } from './evidence.js';
import type { CaseRecord, EventKind, TrustEvent } from './model.js';
import { HourlyLimit, type TrustRoles } from './roles.js';
import type { TdbSubmitter } from './submitter.js';

const EMAIL_TRIES_PER_CASE_PER_HOUR = 20;

export interface TrustContextDeps {
  storage: Storage;
  svc: SpaceService;
  stage: StageService;
  config: TribuneConfig['trust'];
  /** The operator webhook is configured: notifications go to the outbox for the operator's mailer. */
  webhook: boolean;
  roles: TrustRoles;
  evidence: EvidenceKeeper;
  submitter: TdbSubmitter;
}

export class TrustContext {
  readonly storage: Storage;
  readonly svc: SpaceService;
  readonly stage: StageService;
  readonly config: TribuneConfig['trust'];
  readonly roles: TrustRoles;
  readonly evidence: EvidenceKeeper;
  readonly submitter: TdbSubmitter;
  private readonly webhook: boolean;
  /** Tries of an email address per case (follow, complain): nobody learns a notifier by guessing. */
  private readonly emailTries: HourlyLimit;

  constructor(d: TrustContextDeps) {
    this.storage = d.storage;
    this.svc = d.svc;
    this.stage = d.stage;
    this.config = d.config;
    this.roles = d.roles;
    this.evidence = d.evidence;
    this.submitter = d.submitter;
    this.webhook = d.webhook;
    this.emailTries = new HourlyLimit(EMAIL_TRIES_PER_CASE_PER_HOUR, this.now);
  }

  /**
   * Whether `email` is the address the case's notice gave (a logged-out notifier's credential, with
   * the case number). At most EMAIL_TRIES_PER_CASE_PER_HOUR tries per case: RATE_LIMITED beyond.
   */
  emailMatches(c: CaseRecord, email: string): boolean {
    if (!this.emailTries.take(c.id)) throw new TribuneError('RATE_LIMITED', 'too many tries for this case');
    return !!c.notice?.email && c.notice.email.toLowerCase() === email.trim().toLowerCase();
  }

  readonly now = (): number => this.svc.now();
  nowIso(): string {
    return new Date(this.now()).toISOString();
  }

  /** The Space's recording here: live (completed segments) or its replay; undefined when gone. */
  async hlsOf(spaceId: string): Promise<HlsStore | undefined> {
    const store = this.svc.registry.store(spaceId);
    if (store) return store;
    // Several origins: a replay is opened here on first use.
    const s = await this.storage.spaceById(spaceId);
    if (s?.state !== 'ended' || s.replayState !== 'available') return undefined;
    await this.svc.registry.openReplay(spaceId, s.replayTrimStartSec);
    return this.svc.registry.store(spaceId);
  }

  log(
    caseId: string,
    kind: EventKind,
    actorId: string | null,
    data: Record<string, unknown> = {},
  ): Promise<TrustEvent> {
    return this.storage.appendEvent({ caseId, kind, at: this.nowIso(), actorId, data });
  }

  /**
   * Tells a person about their case: in the app (the follow page, /decisions) always; by the
   * operator's webhook too when one is configured (it carries the address a logged-out notifier
   * gave, for the operator's mailer), signed and retried by the outbox.
   */
  notify(n: {
    type: string;
    caseId: string;
    to: { userId: string | null; email: string | null };
    text?: string;
  }): void {
    if (!this.webhook) return;
    void this.storage
      .enqueueOutbox({
        id: newId(12),
        payload: JSON.stringify({ ...n, at: this.nowIso(), caseUrl: `/cases/${n.caseId}` }),
        attempts: 0,
        nextAttemptAt: this.nowIso(),
        createdAt: this.nowIso(),
      })
      .catch(() => undefined);
  }
}
