/**
 * A MediaSource with one `audio/mp4; codecs="opus"` SourceBuffer on a media element, fed with
 * complete CMAF boxes (see mp4Boxes.ts) and kept near the live edge:
 * - appends are queued while the SourceBuffer is `updating` (and merged into one append);
 * - after the first media, the element is put about 0.3 s behind the buffered end, and kept there
 *   (see the cushion below): more than JUMP_S beyond the cushion behind (or stuck before a gap, e.g.
 *   after a reconnect) jumps back; a little behind plays slightly faster (pitch preserved) until
 *   back near it;
 * - the back buffer is trimmed to BACK_BUFFER_S so memory stays flat over hours.
 * Fragment timestamps continue the Space's timeline (they do not start at 0); the SourceBuffer is
 * in `segments` mode, so a reconnect's data lands at its own time, after a gap.
 */

export const STREAM_MIME = 'audio/mp4; codecs="opus"';

/** Where "Go live" puts the playback position: this far behind the buffered end (seconds). */
export const TARGET_S = 0.25;
/** Further behind than this (beyond the cushion): seek back to the live edge. */
export const JUMP_S = 1.0;
/**
 * Parts arrive every 200 ms (or several at once when the edge batches), so the lag (buffered end -
 * position) is a sawtooth. Its minimum over LAG_WINDOW_MS, the audio left when the next part lands,
 * is what the rate control steers to the cushion: above cushion + CATCH_UP_S it plays at
 * CATCH_UP_RATE (FAST_CATCH_UP_RATE above cushion + FAST_CATCH_UP_S, e.g. after a burst of late
 * parts) until below the cushion. The cushion starts at MIN_CUSHION_S (mean lag ~0.2 s), grows
 * by STALL_STEP_S at each stall (the buffer ran dry: jitter) up to MAX_CUSHION_S, and shrinks back by
 * STALL_STEP_S every CUSHION_DECAY_MS without one. (Late parts of ~0.7 s, seen on a loaded machine,
 * are beyond any cushion that keeps latency low: the player stalls through those and catches up.)
 */
const LAG_WINDOW_MS = 1200;
const PART_S = 0.2;
const MIN_CUSHION_S = 0.1;
const MAX_CUSHION_S = 0.3;
const STALL_STEP_S = 0.05;
const CUSHION_DECAY_MS = 10_000;
const CATCH_UP_S = 0.06;
/** Running dry while playback starts (one part buffered at first) is not jitter. */
const STARTUP_GRACE_MS = 1000;
const CATCH_UP_RATE = 1.08;
const FAST_CATCH_UP_S = 0.4;
const FAST_CATCH_UP_RATE = 1.15;
const BACK_BUFFER_S = 30;
/** Trim only when at least this much can go (a remove() costs an `updating` cycle). */
const TRIM_STEP_S = 5;

export interface MseSinkEvents {
  /** The first media was appended and the element put at the live edge: time to play(). */
  onFirstMedia(): void;
  /** A jump to the live edge (not the first seek). */
  onJump(): void;
  /** Playback ran out of audio; `cushion` is the new amount kept in hand (seconds). */
  onStall(cushion: number): void;
  onTrim(): void;
  /** The SourceBuffer or the element failed (parse or decode error); the caller recreates the sink. */
  onError(message: string): void;
}

export class MseSink {
  private readonly ms = new MediaSource();
  private readonly objectUrl: string;
  private sb: SourceBuffer | null = null;
  private queue: Uint8Array<ArrayBuffer>[] = [];
  private started = false;
  private lags: { t: number; lag: number }[] = [];
  private cushion = MIN_CUSHION_S;
  private lastStallOrDecay = 0;
  /** performance.now() of the first `playing` (0 before): stalls count from STARTUP_GRACE_MS after. */
  private playingSince = 0;
  private ending = false;
  private destroyed = false;
  /** Set while the connection is being re-established: running dry then is not jitter. */
  reconnecting = false;

  constructor(
    private readonly media: HTMLMediaElement,
    private readonly events: MseSinkEvents,
  ) {
    this.objectUrl = URL.createObjectURL(this.ms);
    this.ms.addEventListener('sourceopen', this.onOpen, { once: true });
    media.addEventListener('waiting', this.onWaiting);
    media.addEventListener('playing', this.onPlaying);
    media.addEventListener('error', this.onMediaError);
    media.src = this.objectUrl;
  }

  private readonly onPlaying = (): void => {
    if (!this.playingSince) this.playingSince = performance.now();
  };

  private readonly onWaiting = (): void => {
    const media = this.media;
    if (this.destroyed || media.paused || media.seeking || this.ending || this.reconnecting) return;
    if (!this.playingSince || performance.now() - this.playingSince < STARTUP_GRACE_MS) return;
    this.cushion = Math.min(MAX_CUSHION_S, this.cushion + STALL_STEP_S);
    this.lastStallOrDecay = performance.now();
    this.events.onStall(this.cushion);
  };

  private readonly onOpen = (): void => {
    if (this.destroyed) return;
    try {
      // Live: no duration. seekable is then [0, buffered end], which timing.ts reads as the live edge.
      this.ms.duration = Infinity;
      const sb = this.ms.addSourceBuffer(STREAM_MIME);
      sb.mode = 'segments';
      sb.addEventListener('updateend', this.onUpdateEnd);
      sb.addEventListener('error', this.onSbError);
      this.sb = sb;
    } catch (err) {
      this.events.onError(`MediaSource: ${String(err)}`);
      return;
    }
    this.pump();
  };

  private readonly onMediaError = (): void => {
    if (!this.destroyed) this.events.onError(`media error ${this.media.error?.code ?? ''}`);
  };

  private readonly onSbError = (): void => {
    if (!this.destroyed) this.events.onError('SourceBuffer append failed');
  };

  private readonly onUpdateEnd = (): void => {
    if (this.destroyed) return;
    this.keepLive();
    this.pump();
  };

  /** Queues complete boxes for the SourceBuffer. */
  append(bytes: Uint8Array<ArrayBuffer>): void {
    if (this.destroyed || this.ending) return;
    // Just before a part lands is the sawtooth's low point: the sample the rate control needs most.
    const b = this.media.buffered;
    if (this.started && !this.media.paused && b.length)
      this.lags.push({ t: performance.now(), lag: b.end(b.length - 1) - this.media.currentTime });
    this.queue.push(bytes);
    this.pump();
  }

  /** The stream is over (the Space ended): play what is buffered, then `ended`. */
  end(): void {
    this.ending = true;
    this.pump();
  }

  /** Seconds of audio the rate control keeps in hand. */
  get cushionSeconds(): number {
    return this.cushion;
  }

  private pump(): void {
    const sb = this.sb;
    if (!sb || sb.updating || this.ms.readyState !== 'open') return;
    if (this.queue.length === 0) {
      if (this.ending) this.ms.endOfStream();
      else this.trim(sb);
      return;
    }
    const parts = this.queue;
    this.queue = [];
    let data = parts[0]!;
    if (parts.length > 1) {
      data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let off = 0;
      for (const p of parts) {
        data.set(p, off);
        off += p.length;
      }
    }
    try {
      sb.appendBuffer(data);
    } catch (err) {
      if (err instanceof DOMException && err.name === 'QuotaExceededError') {
        // Full (should not happen at 4 kB/s with trimming): drop everything behind the playhead.
        this.queue.unshift(data);
        const cut = this.media.currentTime - 1;
        if (cut > 0) sb.remove(0, cut);
        else this.queue = [];
      } else {
        this.events.onError(`appendBuffer: ${String(err)}`);
      }
    }
  }

  private trim(sb: SourceBuffer): void {
    const b = sb.buffered;
    if (!b.length) return;
    const end = b.end(b.length - 1);
    const ref = this.media.paused ? end : Math.min(this.media.currentTime, end);
    const cut = ref - BACK_BUFFER_S;
    if (cut - b.start(0) < TRIM_STEP_S) return;
    sb.remove(0, cut);
    this.events.onTrim();
  }

  /** Keeps the playback position near the live edge; called after every append and by a timer. */
  keepLive(): void {
    const media = this.media;
    const b = media.buffered;
    if (this.destroyed || !b.length) return;
    const last = b.length - 1;
    const start = b.start(last);
    const end = b.end(last);
    if (end <= start) return;
    // Right after a part lands the lag is at its peak: the cushion plus one part.
    const live = Math.max(start, end - this.cushion - PART_S);
    if (!this.started) {
      this.started = true;
      media.currentTime = live;
      this.events.onFirstMedia();
      return;
    }
    if (media.paused || this.ending || media.seeking) {
      this.lags = [];
      return;
    }
    const ct = media.currentTime;
    const lag = end - ct;
    // Before the newest range (a reconnect's gap) or too far behind: jump.
    if (ct < start - 0.01 || lag > this.cushion + JUMP_S) {
      this.lags = [];
      media.playbackRate = 1;
      media.currentTime = live;
      this.events.onJump();
      return;
    }
    const now = performance.now();
    if (now - this.lastStallOrDecay > CUSHION_DECAY_MS) {
      this.lastStallOrDecay = now;
      this.cushion = Math.max(MIN_CUSHION_S, this.cushion - STALL_STEP_S);
    }
    this.lags.push({ t: now, lag });
    while (this.lags[0]!.t < now - LAG_WINDOW_MS) this.lags.shift();
    const full = now - this.lags[0]!.t > LAG_WINDOW_MS - 300;
    const minLag = Math.min(...this.lags.map((l) => l.lag));
    if (full && minLag > this.cushion + CATCH_UP_S) {
      const rate = minLag > this.cushion + FAST_CATCH_UP_S ? FAST_CATCH_UP_RATE : CATCH_UP_RATE;
      if (media.playbackRate !== rate) media.playbackRate = rate;
    } else if (minLag < this.cushion && media.playbackRate !== 1) {
      media.playbackRate = 1;
    }
  }

  destroy(): void {
    this.destroyed = true;
    this.queue = [];
    this.ms.removeEventListener('sourceopen', this.onOpen);
    this.media.removeEventListener('waiting', this.onWaiting);
    this.media.removeEventListener('playing', this.onPlaying);
    this.media.removeEventListener('error', this.onMediaError);
    if (this.sb) {
      this.sb.removeEventListener('updateend', this.onUpdateEnd);
      this.sb.removeEventListener('error', this.onSbError);
    }
    this.media.playbackRate = 1;
    URL.revokeObjectURL(this.objectUrl);
  }
}
