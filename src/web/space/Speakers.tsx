import type { LiveSpeaker } from '../live.js';
import { Avatar, MicIcon } from '../components.js';
import { ReportSpeakerButton } from '../trust/report.js';

const ROLE_ORDER: Record<LiveSpeaker['role'], number> = { host: 0, cohost: 1, speaker: 2 };
const ROLE_LABEL: Record<LiveSpeaker['role'], string> = {
  host: 'Host',
  cohost: 'Co-host',
  speaker: 'Speaker',
};

/** The stage: a responsive grid of avatars (initials) with a ring while speaking and a muted badge. */
export function SpeakerGrid({
  speakers,
  selfId,
  emptyText = 'Nobody is on stage yet.',
}: {
  speakers: LiveSpeaker[];
  selfId?: string | null;
  emptyText?: string;
}) {
  if (speakers.length === 0) return <p className="muted empty">{emptyText}</p>;
  const sorted = [...speakers].sort(
    (a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.name.localeCompare(b.name),
  );
  return (
    <ul className="speaker-grid" aria-label="Speakers">
      {sorted.map((s) => {
        const self = !!selfId && s.userId === selfId;
        const speaking = s.speaking && !s.muted;
        return (
          <li
            key={s.userId}
            className={`speaker-tile${speaking ? ' is-speaking' : ''}${s.connected ? '' : ' is-away'}`}
            data-testid="speaker-tile"
            data-handle={s.handle}
            data-user-id={s.userId}
            data-role={s.role}
            data-speaking={speaking ? 'true' : 'false'}
            data-muted={s.muted ? 'true' : 'false'}
            data-connected={s.connected ? 'true' : 'false'}
          >
            <span className="speaker-avatar">
              <Avatar
                name={s.name || s.handle}
                seed={s.userId}
                level={s.muted ? 0 : s.level}
                speaking={speaking}
                size="lg"
              />
              {s.muted && (
                <span className="muted-badge" aria-hidden="true" title="Muted">
                  <MicIcon off />
                </span>
              )}
            </span>
            <span className="speaker-name" title={`${s.name} @${s.handle}`}>
              {s.name || s.handle}
              {self && <span className="you"> (you)</span>}
            </span>
            <span className={`speaker-role role-${s.role}`}>
              {s.connected ? ROLE_LABEL[s.role] : 'Connecting…'}
            </span>
            {/* What the picture shows, for screen readers: "Hannah, Host, speaking" / ", muted". */}
            <span className="sr-only" data-testid="speaker-state">
              , {speaking ? 'speaking' : 'not speaking'}
              {s.muted ? ', muted' : ''}
            </span>
            {!self && <ReportSpeakerButton id={s.userId} name={s.name || s.handle} handle={s.handle} />}
          </li>
        );
      })}
    </ul>
  );
}
