import { useEffect, useState, type CSSProperties, type ReactNode } from 'react';
import { friendlyMessage } from './api.js';

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
  size?: 'xs' | 'sm' | 'md' | 'lg';
}

export function StatusPill({ state, text }: { state: string; text?: string }) {
  const label = text ?? state;
  return (
    <span className={`status status-${state}`} data-testid="status" data-state={state} role="status">
      <span className="dot" />
      {label}
    </span>
  );
}

/** An error (ApiError or any thrown value) in words, with its code for tests. */
export function ErrorBox({
  error,
  message,
  title,
  children,
  testId = 'error',
}: {
  error?: unknown;
  /** Overrides the friendly wording of `error`. */
  message?: string;
  title?: string;
  children?: ReactNode;
  testId?: string;
}) {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'ERROR';
  return (
    <div className="error-box" data-testid={testId} data-code={code} role="alert">
      {title && <strong className="error-title">{title}</strong>}
      <p className="error-message">{message ?? friendlyMessage(error)}</p>
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

/** A yellow inline message with optional actions. */
export function Notice({
  children,
  actions,
  testId,
  tone = 'warn',
}: {
  children: ReactNode;
  actions?: ReactNode;
  testId?: string;
  tone?: 'warn' | 'info';
}) {
  return (
    <div className={`notice notice-${tone}`} data-testid={testId} role="status">
      <span>{children}</span>
      {actions && <span className="notice-actions">{actions}</span>}
    </div>
  );
}

/**
 * A read-only value (a URL, or a key with `asLink={false}`) with a Copy button; "copied" is
 * announced politely. `copyLabel`: what the button copies, for its accessible name ("Copy
 * <copyLabel>"; the visible "Copy" stays part of it). `className`: extra classes of the value.
 */
export function CopyField({
  url,
  testId,
  label,
  asLink = true,
  className,
  copyLabel,
}: {
  url: string;
  testId: string;
  label?: string;
  asLink?: boolean;
  className?: string;
  copyLabel?: string;
}) {
  const [copied, setCopied] = useState<'idle' | 'ok' | 'fail'>('idle');
  useEffect(() => {
    if (copied === 'idle') return;
    const t = setTimeout(() => setCopied('idle'), 1800);
    return () => clearTimeout(t);
  }, [copied]);
  const onCopy = async (): Promise<void> => setCopied((await copyText(url)) ? 'ok' : 'fail');
  const valueClass = className ? `share-url ${className}` : 'share-url';
  return (
    <div className="share">
      {label && <span className="share-label">{label}</span>}
      <div className="share-row">
        {asLink ? (
          <a className={valueClass} href={url} data-testid={testId} target="_blank" rel="noreferrer">
            {url}
          </a>
        ) : (
          <span className={valueClass} data-testid={testId}>
            {url}
          </span>
        )}
        <button
          type="button"
          className="btn btn-small"
          onClick={onCopy}
          aria-label={copied === 'idle' && copyLabel ? `Copy ${copyLabel}` : undefined}
          data-testid={`${testId}-copy`}
        >
          {copied === 'ok' ? 'Copied!' : copied === 'fail' ? 'Copy failed' : 'Copy'}
        </button>
      </div>
      <span className="sr-only" aria-live="polite">
        {copied === 'ok'
          ? copyLabel
            ? `Copied the ${copyLabel}`
            : 'Copied'
          : copied === 'fail'
            ? 'Copy failed'
            : ''}
      </span>
    </div>
  );
}

/** Re-renders every `ms` and returns Date.now(). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** "in 2 h 5 min", "in 42 s", "starting any moment". */
export function formatCountdown(ms: number): string {
  if (ms <= 0) return 'Starting any moment';
  const s = Math.ceil(ms / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `in ${d} d ${h} h`;
  if (h > 0) return `in ${h} h ${m} min`;
  if (m > 0) return `in ${m} min ${String(sec).padStart(2, '0')} s`;
  return `in ${sec} s`;
}

const dateFmt = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  month: 'short',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
});

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isFinite(d.getTime()) ? dateFmt.format(d) : '';
}

const dayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });

/** A day with its year ("29 May 2027"): deadlines months away. */
export function formatDay(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isFinite(d.getTime()) ? dayFmt.format(d) : '';
}

/** "3 min ago", "yesterday"-ish relative times for lists. */
export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const t = new Date(iso).getTime();
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return formatDate(iso);
}

export function BellIcon() {
  return (
    <StrokeIcon size={22} strokeWidth={2} roundJoins>
      <path d="M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
      <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
    </StrokeIcon>
  );
}

export function LogoIcon() {
  return (
    <StrokeIcon size={18} strokeWidth={2.2}>
      <rect x="9" y="3" width="6" height="11" rx="3" />
      <path d="M5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21" />
    </StrokeIcon>
  );
}

export function HeadphonesIcon() {
  return (
    <StrokeIcon size={16} strokeWidth={2} roundJoins>
      <path d="M3 18v-6a9 9 0 0 1 18 0v6" />
      <path d="M21 19a2 2 0 0 1-2 2h-1v-6h3zM3 19a2 2 0 0 0 2 2h1v-6H3z" />
    </StrokeIcon>
  );
}

export function HandIcon() {
  return (
    <StrokeIcon size={20} strokeWidth={2} roundJoins>
      <path d="M18 11V6a2 2 0 0 0-4 0M14 10V4a2 2 0 0 0-4 0v2M10 10.5V6a2 2 0 0 0-4 0v8" />
      <path d="M18 8a2 2 0 1 1 4 0v6a8 8 0 0 1-8 8h-2c-2.8 0-4.5-.86-5.99-2.34l-3.6-3.6a2 2 0 0 1 2.83-2.82L7 15" />
    </StrokeIcon>
  );
}

export function ScissorsIcon() {
  return (
    <StrokeIcon size={18} strokeWidth={2} roundJoins>
      <circle cx="6" cy="6" r="3" />
      <circle cx="6" cy="18" r="3" />
      <path d="M20 4 8.12 15.88M14.47 14.48 20 20M8.12 8.12 12 12" />
    </StrokeIcon>
  );
}

/** A button that asks "Sure?" inline before acting (no window.confirm: it blocks and tests dismiss it). */
export function ConfirmButton({
  label,
  confirmLabel,
  question,
  onConfirm,
  testId,
  className = 'btn btn-danger',
  disabled,
  handle,
}: {
  label: ReactNode;
  confirmLabel: string;
  question: string;
  onConfirm: () => void;
  testId: string;
  className?: string;
  disabled?: boolean;
  /** Rendered as data-handle on the buttons (member rows). */
  handle?: string;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button
        type="button"
        className={className}
        onClick={() => setAsking(true)}
        data-testid={testId}
        data-handle={handle}
        disabled={disabled}
      >
        {label}
      </button>
    );
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span className="confirm-q">{question}</span>
      <button
        type="button"
        className="btn btn-small btn-danger-solid"
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
        data-testid={`${testId}-confirm`}
        data-handle={handle}
      >
        {confirmLabel}
      </button>
      <button
        type="button"
        className="btn btn-small btn-ghost"
        onClick={() => setAsking(false)}
        data-testid={`${testId}-cancel`}
        data-handle={handle}
      >
        Cancel
      </button>
    </span>
  );
}

export async function copyText(text: string): Promise<boolean> {
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
