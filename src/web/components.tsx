import { useState, type CSSProperties, type ReactNode } from 'react';
import type { ApiError, SpeakerView } from './api.js';
import type { PublisherPhase } from './hooks.js';

export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '?';
  const first = Array.from(words[0])[0] ?? '';
  const last = words.length > 1 ? (Array.from(words[words.length - 1])[0] ?? '') : '';
  return (first + last).toUpperCase();
}

function hue(seed: string): number {
  let h = 0;
  for (let i = 0; i < seed.length; i++) h = (h * 31 + seed.charCodeAt(i)) >>> 0;
  return h % 360;
}

export function Avatar({ name, seed, level = 0, speaking = false, size = 'md' }: AvatarProps) {
  const style = {
    '--hue': hue(seed ?? name),
    '--level': Math.max(0, Math.min(1, Number.isFinite(level) ? level : 0)).toFixed(3),
  } as CSSProperties;
  return (
    <span
      className={`avatar avatar-${size}${speaking ? ' is-speaking' : ''}`}
      style={style}
      aria-hidden="true"
    >
      <span className="avatar-ring" />
      <span className="avatar-face">{initials(name)}</span>
    </span>
  );
}

interface AvatarProps {
  name: string;
  seed?: string;
  level?: number;
  speaking?: boolean;
  size?: 'md' | 'lg';
}

export function SpeakerList({
  speakers,
  selfId,
  emptyText = 'No one is on stage yet.',
}: {
  speakers: SpeakerView[];
  selfId?: string | null;
  emptyText?: string;
}) {
  if (speakers.length === 0) {
    return <p className="muted empty">{emptyText}</p>;
  }
  const sorted = [...speakers].sort((a, b) => (a.role === b.role ? 0 : a.role === 'host' ? -1 : 1));
  return (
    <ul className="speakers" aria-label="Speakers">
      {sorted.map((s) => {
        const isSelf = !!selfId && s.id === selfId;
        return (
          <li
            key={s.id}
            className={`speaker${s.speaking ? ' is-speaking' : ''}`}
            data-testid="speaker-row"
            data-speaking={s.speaking ? 'true' : 'false'}
            data-speaker-name={s.name}
            data-speaker-id={s.id}
            data-speaker-role={s.role}
          >
            <Avatar name={s.name} seed={s.id} level={s.level} speaking={s.speaking} />
            <span className="speaker-name" title={s.name}>
              {s.name || 'Anonymous'}
              {isSelf && <span className="you"> (you)</span>}
            </span>
            <span className="speaker-meta">
              {s.role === 'host' ? (
                <span className="tag tag-host">Host</span>
              ) : (
                <span className="tag">Speaker</span>
              )}
              {s.speaking && (
                <span className="eq" aria-label="speaking">
                  <i />
                  <i />
                  <i />
                </span>
              )}
            </span>
          </li>
        );
      })}
    </ul>
  );
}

const PHASE_TEXT: Record<PublisherPhase, string> = {
  idle: 'Not connected',
  mic: 'Waiting for microphone…',
  connecting: 'Connecting…',
  connected: 'Connected',
  disconnected: 'Connection lost, retrying…',
  failed: 'Connection failed',
  error: 'Not connected',
  closed: 'Disconnected',
};

export function StatusPill({ state, text }: { state: string; text?: string }) {
  const label = text ?? PHASE_TEXT[state as PublisherPhase] ?? state;
  return (
    <span className={`status status-${state}`} data-testid="status" data-state={state} role="status">
      <span className="dot" />
      {label}
    </span>
  );
}

export function ErrorBox({
  error,
  title,
  children,
}: {
  error: ApiError | { code: string; message: string };
  title?: string;
  children?: ReactNode;
}) {
  return (
    <div className="error-box" data-testid="error" data-code={error.code} role="alert">
      {title && <strong className="error-title">{title}</strong>}
      <p className="error-message">{error.message}</p>
      {children && <div className="error-actions">{children}</div>}
    </div>
  );
}

/** A small secondary button (error-box and notice actions). */
export function SmallButton({
  onClick,
  testId,
  children,
}: {
  onClick: () => void;
  testId?: string;
  children: ReactNode;
}) {
  return (
    <button type="button" className="btn btn-small" onClick={onClick} data-testid={testId}>
      {children}
    </button>
  );
}

/** A labelled single-line text input. */
export function TextField({
  label,
  testId,
  placeholder,
  maxLength,
  value,
  onChange,
  autoComplete,
  required,
}: {
  label: string;
  testId: string;
  placeholder: string;
  maxLength: number;
  value: string;
  onChange: (value: string) => void;
  autoComplete: string;
  required?: boolean;
}) {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      <input
        data-testid={testId}
        className="input"
        type="text"
        placeholder={placeholder}
        maxLength={maxLength}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        autoComplete={autoComplete}
        required={required}
      />
    </label>
  );
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok: boolean;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

export function ShareLink({
  label,
  url,
  testId,
  hint,
}: {
  label: string;
  url: string;
  testId: string;
  hint?: string;
}) {
  const [copied, setCopied] = useState<'idle' | 'ok' | 'fail'>('idle');
  const onCopy = async (): Promise<void> => {
    const ok = await copyText(url);
    setCopied(ok ? 'ok' : 'fail');
    setTimeout(() => setCopied('idle'), 1800);
  };
  return (
    <div className="share">
      <div className="share-head">
        <span className="share-label">{label}</span>
        {hint && <span className="share-hint">{hint}</span>}
      </div>
      <div className="share-row">
        <a className="share-url" href={url} data-testid={testId} target="_blank" rel="noreferrer">
          {url}
        </a>
        <button type="button" className="btn btn-small" onClick={onCopy} data-testid={`${testId}-copy`}>
          {copied === 'ok' ? 'Copied!' : copied === 'fail' ? 'Copy failed' : 'Copy'}
        </button>
      </div>
    </div>
  );
}

/** A 24×24 outline icon drawn in the current text colour. */
export function StrokeIcon({
  size,
  strokeWidth,
  roundJoins = false,
  children,
}: {
  size: number;
  strokeWidth: number;
  roundJoins?: boolean;
  children: ReactNode;
}) {
  return (
    <svg
      viewBox="0 0 24 24"
      width={size}
      height={size}
      aria-hidden="true"
      fill="none"
      stroke="currentColor"
      strokeWidth={strokeWidth}
      strokeLinecap="round"
      strokeLinejoin={roundJoins ? 'round' : undefined}
    >
      {children}
    </svg>
  );
}

export function MicIcon({ off = false }: { off?: boolean }) {
  return (
    <StrokeIcon size={22} strokeWidth={2} roundJoins>
      <rect x="9" y="2" width="6" height="12" rx="3" />
      <path d="M5 10a7 7 0 0 0 14 0M12 17v4M8 21h8" />
      {off && <path d="M3 3l18 18" />}
    </StrokeIcon>
  );
}

export function PlayIcon({ playing }: { playing: boolean }) {
  return playing ? (
    <svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" fill="currentColor">
      <rect x="6" y="4" width="4" height="16" rx="1" />
      <rect x="14" y="4" width="4" height="16" rx="1" />
    </svg>
  ) : (
    <svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" fill="currentColor">
      <path d="M7 4.5v15a1 1 0 0 0 1.5.86l12-7.5a1 1 0 0 0 0-1.72l-12-7.5A1 1 0 0 0 7 4.5z" />
    </svg>
  );
}

/** Absolute URL for a same-origin path (links people will share). */
export function absoluteUrl(pathOrUrl: string): string {
  try {
    return new URL(pathOrUrl, window.location.origin).href;
  } catch {
    return pathOrUrl;
  }
}
