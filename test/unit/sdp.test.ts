import { describe, expect, it } from 'vitest';
import { validateOffer } from '../../src/rtc/sdp.js';
import { TribuneError } from '../../src/errors.js';
import { CHROME_OFFER } from '../fixtures/sdp.js';

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return e instanceof TribuneError ? e.code : `not a TribuneError: ${String(e)}`;
  }
  return 'no error';
};

describe('validateOffer', () => {
  it('accepts a browser audio offer', () => {
    const s = validateOffer(CHROME_OFFER);
    expect(s).toEqual({ audioSections: 1, hasOpus: true, iceUfrag: 'Ab12' });
  });

  it('accepts LF line endings', () => {
    expect(validateOffer(CHROME_OFFER.replace(/\r\n/g, '\n')).hasOpus).toBe(true);
  });

  it.each([
    ['empty body', ''],
    ['garbage', 'hello world'],
    ['no v=0', CHROME_OFFER.replace('v=0', 'v=1')],
    ['malformed line', CHROME_OFFER.replace('s=-', 's-')],
    ['binary', CHROME_OFFER.replace('s=-', 's=\u0000\u0001')],
    ['missing ice-pwd', CHROME_OFFER.replace(/a=ice-pwd:.*\r\n/, '')],
    ['missing fingerprint', CHROME_OFFER.replace(/a=fingerprint:.*\r\n/, '')],
    ['bad fingerprint', CHROME_OFFER.replace(/sha-256 [^\r]+/, 'sha-256 zz')],
    ['bad ufrag', CHROME_OFFER.replace('ice-ufrag:Ab12', 'ice-ufrag:a b')],
    ['plain RTP profile', CHROME_OFFER.replace('UDP/TLS/RTP/SAVPF', 'RTP/AVP')],
    ['very long line', CHROME_OFFER.replace('s=-', `s=${'x'.repeat(5000)}`)],
    ['too many m-lines', CHROME_OFFER + 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n'.repeat(9)],
    ['m-line port not numeric', CHROME_OFFER.replace('m=audio 9', 'm=audio x')],
  ])('refuses %s with SDP_INVALID', (_name, sdp) => {
    expect(code(() => validateOffer(sdp))).toBe('SDP_INVALID');
  });

  it('refuses an offer without audio or without Opus with SDP_NO_AUDIO', () => {
    expect(code(() => validateOffer(CHROME_OFFER.replace('m=audio 9', 'm=audio 0')))).toBe('SDP_NO_AUDIO');
    expect(code(() => validateOffer(CHROME_OFFER.replace(/a=rtpmap:111 opus\/48000\/2\r\n/, '')))).toBe(
      'SDP_NO_AUDIO',
    );
  });

  it('refuses an oversize offer with BODY_TOO_LARGE', () => {
    const big = CHROME_OFFER + `a=x-pad:${'y'.repeat(3000)}\r\n`.repeat(20);
    expect(code(() => validateOffer(big))).toBe('BODY_TOO_LARGE');
  });
});
