import { TribuneError } from '../errors.js';

/**
 * Checks an SDP offer before it reaches libwebrtc. Pure: no I/O.
 * libwebrtc parses SDP too, but hostile input should be refused here, cheaply,
 * with a stable error code, and never reach native code.
 */
export interface SdpLimits {
  maxBytes: number;
  maxLines: number;
  maxLineLength: number;
  maxMediaSections: number;
}

export const DEFAULT_SDP_LIMITS: SdpLimits = {
  maxBytes: 32 * 1024,
  maxLines: 2000,
  maxLineLength: 4096,
  maxMediaSections: 8,
};

export interface OfferSummary {
  audioSections: number;
  hasOpus: boolean;
  iceUfrag: string;
}

const LINE = /^([a-z])=(.*)$/;

interface MediaSection {
  kind: string;
  ufrag: string;
  pwd: boolean;
  fingerprint: boolean;
  port: number;
}

export function validateOffer(sdp: string, limits: SdpLimits = DEFAULT_SDP_LIMITS): OfferSummary {
  const bad = (detail: string): TribuneError => new TribuneError('SDP_INVALID', detail);
  if (Buffer.byteLength(sdp, 'utf8') > limits.maxBytes) throw new TribuneError('BODY_TOO_LARGE', 'SDP offer');
  // Printable ASCII plus CR/LF/TAB only; SDP is UTF-8 in theory, but nothing we negotiate needs more.
  if (/[^\x20-\x7e\r\n\t]/.test(sdp)) throw bad('non-printable characters');
  const lines = sdp.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length > limits.maxLines) throw bad('too many lines');
  if (lines[0] !== 'v=0') throw bad('must start with v=0');

  const sessionSeen = { o: false, s: false };
  const sessionIce = { ufrag: '', pwd: false, fingerprint: false };
  let media = 0;
  let audio = 0;
  let opus = false;
  let current: MediaSection | null = null;
  const sections: MediaSection[] = [];

  for (const raw of lines) {
    if (raw.length > limits.maxLineLength) throw bad('line too long');
    const m = LINE.exec(raw);
    if (!m) throw bad(`malformed line "${raw.slice(0, 40)}"`);
    const [, type, value] = m as unknown as [string, string, string];
    if (type === 'm') {
      media++;
      if (media > limits.maxMediaSections) throw bad('too many media sections');
      const parts = value.split(' ');
      if (parts.length < 4 || !/^\d+$/.test(parts[1] ?? '')) throw bad('malformed m= line');
      current = { kind: parts[0] ?? '', ufrag: '', pwd: false, fingerprint: false, port: Number(parts[1]) };
      sections.push(current);
      if (current.kind === 'audio' && current.port !== 0) {
        if (!/^UDP\/TLS\/RTP\/SAVPF$/.test(parts[2] ?? '')) throw bad('audio must use UDP/TLS/RTP/SAVPF');
        audio++;
      }
      continue;
    }
    if (type === 'o' && !current) sessionSeen.o = true;
    if (type === 's' && !current) sessionSeen.s = true;
    if (type !== 'a') continue;
    const target = current ?? sessionIce;
    if (value.startsWith('ice-ufrag:')) {
      const u = value.slice(10);
      if (!/^[A-Za-z0-9+/]{4,256}$/.test(u)) throw bad('bad ice-ufrag');
      target.ufrag = u;
    } else if (value.startsWith('ice-pwd:')) {
      if (!/^[A-Za-z0-9+/]{22,256}$/.test(value.slice(8))) throw bad('bad ice-pwd');
      target.pwd = true;
    } else if (value.startsWith('fingerprint:')) {
      if (!/^(sha-1|sha-224|sha-256|sha-384|sha-512) [0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})+$/.test(value.slice(12)))
        throw bad('bad fingerprint');
      target.fingerprint = true;
    } else if (current?.kind === 'audio' && /^rtpmap:\d+ opus\/48000(\/2)?$/i.test(value)) {
      opus = true;
    }
  }
  if (!sessionSeen.o || !sessionSeen.s) throw bad('missing o= or s= line');
  if (audio === 0) throw new TribuneError('SDP_NO_AUDIO');
  if (!opus) throw new TribuneError('SDP_NO_AUDIO', 'the offer has no Opus codec');
  for (const s of sections) {
    if (s.port === 0) continue;
    if (!(s.ufrag || sessionIce.ufrag) || !(s.pwd || sessionIce.pwd)) throw bad('missing ICE credentials');
    if (!(s.fingerprint || sessionIce.fingerprint)) throw bad('missing DTLS fingerprint');
  }
  const first = sections.find((s) => s.kind === 'audio' && s.port !== 0);
  return { audioSections: audio, hasOpus: opus, iceUfrag: first?.ufrag || sessionIce.ufrag };
}
