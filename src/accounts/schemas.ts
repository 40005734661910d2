import { Type, type Static } from 'typebox';
import type { UserRecord } from '../store/types.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password.js';

/** A user as anyone may see them. */
export const PublicUserSchema = Type.Object(
  {
    id: Type.String({ description: 'Stable user id (12 random bytes, base64url)' }),
    handle: Type.String({ description: 'Unique handle, [a-z0-9_]{3,24}' }),
    displayName: Type.String({ description: 'Name shown to others' }),
  },
  { additionalProperties: false, description: 'A user as anyone may see them' },
);
export type PublicUser = Static<typeof PublicUserSchema>;

export function toPublicUser(u: UserRecord): PublicUser {
  return { id: u.id, handle: u.handle, displayName: u.displayName };
}

export const HandleSchema = Type.String({
  pattern: '^[a-z0-9_]{3,24}$',
  description: '3 to 24 characters: lowercase letters, digits and _',
});

export const DisplayNameSchema = Type.String({
  minLength: 1,
  maxLength: 50,
  // No control characters (line breaks, NUL, ...).
  pattern: '^[^\\u0000-\\u001f\\u007f]*$',
  description: '1 to 50 characters',
});

export const PasswordSchema = Type.String({
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
  description: `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
});

export const SignupBodySchema = Type.Object(
  { handle: HandleSchema, displayName: DisplayNameSchema, password: PasswordSchema },
  { additionalProperties: false },
);
export type SignupBody = Static<typeof SignupBodySchema>;

export const SigninBodySchema = Type.Object(
  {
    // Looser than HandleSchema: a mistyped handle is a wrong credential, not a malformed request.
    handle: Type.String({ minLength: 1, maxLength: 64, description: 'Handle (case-insensitive)' }),
    password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
  },
  { additionalProperties: false },
);
export type SigninBody = Static<typeof SigninBodySchema>;

export const UserResponseSchema = Type.Object({ user: PublicUserSchema }, { additionalProperties: false });
export type UserResponse = Static<typeof UserResponseSchema>;

export const MeResponseSchema = Type.Object(
  {
    user: Type.Union([PublicUserSchema, Type.Null()], { description: 'null when signed out' }),
    csrfToken: Type.String({
      description:
        'Send it back as the X-CSRF-Token header on POST/PUT/PATCH/DELETE (also in the tribune_csrf cookie)',
    }),
  },
  { additionalProperties: false },
);
export type MeResponse = Static<typeof MeResponseSchema>;

/** Tribune's error body (src/errors.ts). */
export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable error code, e.g. BAD_CREDENTIALS' }),
      message: Type.String(),
    }),
  },
  { description: 'Error' },
);
export type ErrorBody = Static<typeof ErrorBodySchema>;
