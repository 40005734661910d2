/**
 * Report actions on the Space and clip pages: a provider that knows the Space and where the
 * listener is (live, replay position), the buttons ("Report", "Report <name>", "Report clip"),
 * and the one ReportDialog they open.
 */
import {
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type MutableRefObject,
} from 'react';
import { ReportDialog, type ReportTarget } from './ReportDialog.js';

export type ReportMode = 'live' | 'replay' | 'none';

interface ReportApi {
  /** Opens the dialog about the Space, or one of its speakers. */
  open: (speaker?: ReportTarget['speaker']) => void;
  /** The replay player's position (seconds) and the recording's length, for the default range. */
  setReplayPosition: (ref: MutableRefObject<number> | null, durationSec: number | null) => void;
}

// The page's one ReportHost, shared with the buttons anywhere on it (no provider to wrap the page in).
let current: ReportApi | null = null;
const listeners = new Set<() => void>();
function setCurrent(api: ReportApi | null): void {
  current = api;
  for (const l of listeners) l();
}
function subscribe(onChange: () => void): () => void {
  listeners.add(onChange);
  return () => listeners.delete(onChange);
}
const getCurrent = (): ReportApi | null => current;

/**
 * The Space page's report actions and dialog (render it once on the page). `mode`: live (the last
 * N seconds), replay (a range around the player's position) or none (the Space as a whole).
 */
export function ReportHost({
  spaceId,
  spaceTitle,
  mode,
}: {
  spaceId: string;
  spaceTitle: string;
  mode: ReportMode;
}) {
  const [target, setTarget] = useState<ReportTarget | null>(null);
  const position = useRef<{ ref: MutableRefObject<number> | null; durationSec: number | null }>({
    ref: null,
    durationSec: null,
  });
  const setReplayPosition = useCallback(
    (ref: MutableRefObject<number> | null, durationSec: number | null) => {
      position.current = { ref, durationSec };
    },
    [],
  );
  const open = useCallback(
    (speaker?: ReportTarget['speaker']) => {
      const { ref, durationSec } = position.current;
      const range: ReportTarget['range'] =
        mode === 'live'
          ? { kind: 'live' }
          : mode === 'replay' && ref
            ? { kind: 'replay', positionSec: ref.current, durationSec }
            : { kind: 'none' };
      setTarget({ spaceId, spaceTitle, speaker: speaker ?? null, range });
    },
    [mode, spaceId, spaceTitle],
  );
  const api = useMemo(() => ({ open, setReplayPosition }), [open, setReplayPosition]);
  useEffect(() => {
    setCurrent(api);
    return () => {
      if (current === api) setCurrent(null);
    };
  }, [api]);
  return target ? <ReportDialog target={target} onClose={() => setTarget(null)} /> : null;
}

/** The report actions, when the page offers them (null elsewhere). */
export function useReport(): ReportApi | null {
  return useSyncExternalStore(subscribe, getCurrent);
}

/** The replay tells the page's ReportHost where the listener is (read when the dialog opens). */
export function useReportPosition(ref: MutableRefObject<number>, durationSec: number | null): void {
  const report = useReport();
  useEffect(() => {
    report?.setReplayPosition(ref, durationSec);
    return () => report?.setReplayPosition(null, null);
  }, [report, ref, durationSec]);
}

export function FlagIcon() {
  return (
    <svg
      viewBox="0 0 24 24"
      width="16"
      height="16"
      aria-hidden="true"
      fill="none"
      stroke="currentColor"
      strokeWidth={2}
      strokeLinecap="round"
      strokeLinejoin="round"
    >
      <path d="M5 21V4M5 4h11l-2 4 2 4H5" />
    </svg>
  );
}

/** "Report" in the Space header. */
export function ReportSpaceButton() {
  const report = useReport();
  if (!report) return null;
  return (
    <button
      type="button"
      className="btn btn-small btn-ghost trust-report-btn"
      onClick={() => report.open()}
      aria-haspopup="dialog"
      data-testid="report-space"
    >
      <FlagIcon />
      Report
    </button>
  );
}

/** "Report <name>" on a speaker's tile (the visible word is "Report"). */
export function ReportSpeakerButton({ id, name, handle }: { id: string; name: string; handle?: string }) {
  const report = useReport();
  if (!report) return null;
  return (
    <button
      type="button"
      className="link-btn trust-speaker-report"
      onClick={() => report.open({ id, name, handle })}
      aria-label={`Report ${name}`}
      aria-haspopup="dialog"
      data-testid="report-speaker"
      data-handle={handle}
    >
      Report
    </button>
  );
}

/** "Report clip" on the clip page. */
export function ReportClipButton({
  clipId,
  spaceId,
  spaceTitle,
  durationSec,
}: {
  clipId: string;
  spaceId: string;
  spaceTitle: string;
  durationSec: number;
}) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button
        type="button"
        className="btn btn-small btn-ghost trust-report-btn"
        onClick={() => setOpen(true)}
        aria-haspopup="dialog"
        data-testid="report-clip"
      >
        <FlagIcon />
        Report clip
      </button>
      {open && (
        <ReportDialog
          target={{ spaceId, spaceTitle, clip: { id: clipId, durationSec }, range: { kind: 'clip' } }}
          onClose={() => setOpen(false)}
        />
      )}
    </>
  );
}
