import type Hls from 'hls.js';

/** Handles the end-to-end tests read from `window.__tribune`. Part of the test contract: keep. */
export interface TribuneTestHooks {
  role: 'host' | 'speaker' | 'listener';
  pc?: RTCPeerConnection;
  remoteStream?: MediaStream;
  audioEl?: HTMLMediaElement;
  hls?: Hls;
  media?: HTMLMediaElement;
  speakerId?: string;
}

declare global {
  interface Window {
    __tribune?: TribuneTestHooks;
  }
}

/** Starts a fresh hooks object for a page. */
export function resetHooks(role: TribuneTestHooks['role']): void {
  window.__tribune = { role };
}

/** Publishes handles as soon as they exist (mutates the current object so references stay valid). */
export function exposeHooks(
  role: TribuneTestHooks['role'],
  patch: Partial<Omit<TribuneTestHooks, 'role'>>,
): void {
  const hooks = window.__tribune ?? { role };
  hooks.role = role;
  Object.assign(hooks, patch);
  window.__tribune = hooks;
}
