/**
 * The shapes the HTTP API answers with: one definition, used by the server, the web app
 * (type-only imports) and the tests.
 */
export type SpaceState = 'live' | 'ended';
export type SpeakerRole = 'host' | 'speaker';

export interface SpaceRecord {
  id: string;
  title: string;
  state: SpaceState;
  /** ISO 8601 */
  createdAt: string;
  endedAt: string | null;
}

export interface SpeakerView {
  id: string;
  name: string;
  role: SpeakerRole;
  /** Current audio level, 0..1. */
  level: number;
  speaking: boolean;
}

/** `GET /api/spaces/:id` */
export interface SpaceView extends SpaceRecord {
  playbackUrl: string;
  speakers: SpeakerView[];
}

/** `POST /api/spaces` (201): the Space, plus the secrets and links only its creator gets. */
export interface CreatedSpace extends SpaceView {
  hostToken: string;
  inviteToken: string;
  hostUrl: string;
  inviteUrl: string;
  listenUrl: string;
  whipUrl: string;
}
