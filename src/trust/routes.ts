/**
 * The trust-and-safety HTTP API under /api/trust (DSA): the route list and who may call what is in
 * api-types.ts's header. Bodies are checked by JSON schemas for shape and by the services for
 * meaning (NOTICE_INVALID, ACTION_INVALID say which element is wrong).
 */
import { createReadStream } from 'node:fs';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { requireUser } from '../accounts/plugin.js';
import { TribuneError } from '../errors.js';
import type { UserRecord } from '../store/types.js';
import type { ActionBody, ComplaintBody, NoticeBody, RoleBody } from './api-types.js';
import { verifyExport } from './chain.js';
import { CATEGORIES, RESTRICTIONS, TRUST_ROLES } from './model.js';
import { parsePeriod, reportCsv } from './report.js';
import type { TrustService } from './service.js';

const ID = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: ID } } as const;
/** A notice is a few kilobytes at most (4,000 characters of explanation). */
const NOTICE_BODY_LIMIT = 16 * 1024;
/** An export of ~15,000 statements; checking one costs a hash per statement. */
const VERIFY_BODY_LIMIT = 16 * 1024 * 1024;
const VERIFY_PER_MINUTE = 20;

const subjectSchema = {
  type: 'object',
  required: ['kind'],
  additionalProperties: false,
  properties: {
    kind: { type: 'string', enum: ['space', 'speaker', 'clip', 'account'] },
    spaceId: ID,
    userId: ID,
    clipId: ID,
    startSec: { type: 'number' },
    endSec: { type: 'number' },
    lastSec: { type: 'number' },
  },
} as const;

const userOf = (req: FastifyRequest): UserRecord | null => req.user ?? null;

const EVIDENCE_TYPES: Record<string, string> = {
  m3u8: 'application/vnd.apple.mpegurl',
  mp4: 'audio/mp4',
  m4s: 'audio/mp4',
};

export function trustRoutes(opts: { trust: TrustService }): FastifyPluginAsync {
  const { trust } = opts;
  return async (app) => {
    // ---------------------------------------------------------------- anyone
    app.post<{ Body: NoticeBody }>(
      '/trust/notices',
      {
        bodyLimit: NOTICE_BODY_LIMIT,
        schema: {
          // Several origins route the notice to the one running this Space (the recording is there).
          querystring: { type: 'object', additionalProperties: false, properties: { spaceId: ID } },
          body: {
            type: 'object',
            required: ['subject', 'category', 'explanation', 'goodFaith'],
            additionalProperties: false,
            properties: {
              subject: subjectSchema,
              category: { type: 'string', enum: [...CATEGORIES] },
              explanation: { type: 'string', maxLength: 4000 },
              name: { type: 'string', maxLength: 200 },
              email: { type: 'string', maxLength: 320 },
              goodFaith: { type: 'boolean' },
            },
          },
        },
      },
      async (req, reply) => reply.code(201).send(await trust.notices.receive(req.body, userOf(req), req.ip)),
    );

    app.get<{ Params: { id: string }; Querystring: { key?: string } }>(
      '/trust/cases/:id',
      {
        schema: {
          params: idParams,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { key: { type: 'string', maxLength: 64 } },
          },
        },
      },
      async (req) => trust.follow(userOf(req), req.params.id, req.query.key),
    );

    app.post<{ Body: { caseId: string; email: string } }>(
      '/trust/follow',
      {
        bodyLimit: NOTICE_BODY_LIMIT,
        schema: {
          body: {
            type: 'object',
            required: ['caseId', 'email'],
            additionalProperties: false,
            properties: { caseId: ID, email: { type: 'string', maxLength: 320 } },
          },
        },
      },
      async (req) => trust.followByEmail(req.body.caseId, req.body.email),
    );

    app.post<{ Params: { id: string }; Body: ComplaintBody }>(
      '/trust/cases/:id/complaints',
      {
        bodyLimit: NOTICE_BODY_LIMIT,
        schema: {
          params: idParams,
          body: {
            type: 'object',
            required: ['text'],
            additionalProperties: false,
            properties: {
              text: { type: 'string', maxLength: 4000 },
              statementId: ID,
              key: { type: 'string', maxLength: 64 },
              email: { type: 'string', maxLength: 320 },
            },
          },
        },
      },
      async (req, reply) => {
        const k = await trust.decisions.complain(userOf(req), req.params.id, req.body);
        return reply.code(201).send(k);
      },
    );

    // Its own scope: the JSON Lines parser (and its larger body limit) exists for this route only.
    await app.register(async (verify) => {
      verify.addContentTypeParser(
        ['application/x-ndjson', 'application/jsonl', 'text/plain'],
        { parseAs: 'string', bodyLimit: VERIFY_BODY_LIMIT },
        (_req, body, done) => done(null, body),
      );
      verify.post(
        '/trust/statements/verify',
        {
          bodyLimit: VERIFY_BODY_LIMIT,
          config: { rateLimit: { max: VERIFY_PER_MINUTE, timeWindow: 60_000 } },
        },
        async (req) => {
          if (typeof req.body !== 'string')
            throw new TribuneError('BAD_REQUEST', 'send the export as JSON Lines (text)');
          const r = verifyExport(req.body);
          if (!r.ok && r.failure)
            throw new TribuneError(
              'STATEMENT_CHAIN_BROKEN',
              `line ${r.failure.line}${r.failure.seq !== null ? ` (seq ${r.failure.seq})` : ''}: ${r.failure.reason}`,
            );
          return r;
        },
      );
    });

    // ---------------------------------------------------------------- signed in
    app.get('/trust/me', async (req) => trust.me(requireUser(req)));

    // ---------------------------------------------------------------- moderators
    app.get<{ Querystring: { status?: 'open' | 'escalated' | 'closed' } }>(
      '/trust/queue',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { status: { type: 'string', enum: ['open', 'escalated', 'closed'] } },
          },
        },
      },
      async (req) => trust.queue(userOf(req), req.query.status ?? 'open'),
    );

    app.get<{ Params: { id: string } }>(
      '/trust/cases/:id/full',
      { schema: { params: idParams } },
      async (req) => trust.full(userOf(req), req.params.id),
    );

    app.post<{ Body: { subject: NoticeBody['subject']; category: NoticeBody['category'] } }>(
      '/trust/cases',
      {
        schema: {
          body: {
            type: 'object',
            required: ['subject', 'category'],
            additionalProperties: false,
            properties: { subject: subjectSchema, category: { type: 'string', enum: [...CATEGORIES] } },
          },
        },
      },
      async (req, reply) => reply.code(201).send(await trust.openCase(userOf(req), req.body)),
    );

    app.post<{ Params: { id: string }; Body: { userId: string | null } }>(
      '/trust/cases/:id/assign',
      {
        schema: {
          params: idParams,
          body: {
            type: 'object',
            required: ['userId'],
            additionalProperties: false,
            properties: { userId: { anyOf: [ID, { type: 'null' }] } },
          },
        },
      },
      async (req, reply) => {
        await trust.assign(userOf(req), req.params.id, req.body.userId);
        return reply.code(204).send();
      },
    );

    app.post<{ Params: { id: string } }>(
      '/trust/cases/:id/escalate',
      { schema: { params: idParams } },
      async (req, reply) => {
        await trust.escalate(userOf(req), req.params.id);
        return reply.code(204).send();
      },
    );

    app.post<{ Params: { id: string }; Body: { text: string; visibility: 'internal' | 'public' } }>(
      '/trust/cases/:id/notes',
      {
        schema: {
          params: idParams,
          body: {
            type: 'object',
            required: ['text', 'visibility'],
            additionalProperties: false,
            properties: {
              text: { type: 'string', maxLength: 4000 },
              visibility: { type: 'string', enum: ['internal', 'public'] },
            },
          },
        },
      },
      async (req, reply) => {
        await trust.note(userOf(req), req.params.id, req.body.text, req.body.visibility);
        return reply.code(204).send();
      },
    );

    app.post<{ Params: { id: string }; Body: ActionBody }>(
      '/trust/cases/:id/actions',
      {
        schema: {
          params: idParams,
          body: {
            type: 'object',
            required: ['restriction', 'ground', 'explanation'],
            additionalProperties: false,
            properties: {
              restriction: { type: 'string', enum: [...RESTRICTIONS] },
              ground: {
                type: 'string',
                enum: ['DECISION_GROUND_ILLEGAL_CONTENT', 'DECISION_GROUND_INCOMPATIBLE_CONTENT'],
              },
              legalGround: { type: 'string', maxLength: 500 },
              termsGround: { type: 'string', maxLength: 500 },
              explanation: { type: 'string', maxLength: 2000 },
              facts: { type: 'string', maxLength: 2000 },
              durationHours: { type: 'integer' },
              countries: { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 2 } },
              label: { type: 'string', maxLength: 120 },
            },
          },
        },
      },
      async (req, reply) => {
        const m = await trust.x.roles.requireModerator(userOf(req));
        const s = await trust.decisions.act(m, req.params.id, req.body);
        const { toStatementView } = await import('./statements.js');
        return reply.code(201).send(toStatementView(s, false));
      },
    );

    app.post<{ Params: { id: string }; Body: { text: string; unfounded: boolean } }>(
      '/trust/cases/:id/resolve',
      {
        schema: {
          params: idParams,
          body: {
            type: 'object',
            required: ['text', 'unfounded'],
            additionalProperties: false,
            properties: { text: { type: 'string', maxLength: 2000 }, unfounded: { type: 'boolean' } },
          },
        },
      },
      async (req, reply) => {
        const m = await trust.x.roles.requireModerator(userOf(req));
        await trust.decisions.resolve(m, req.params.id, req.body.text, req.body.unfounded);
        return reply.code(204).send();
      },
    );

    app.post<{ Params: { id: string }; Body: { uphold: boolean; text: string } }>(
      '/trust/complaints/:id/decide',
      {
        schema: {
          params: idParams,
          body: {
            type: 'object',
            required: ['uphold', 'text'],
            additionalProperties: false,
            properties: { uphold: { type: 'boolean' }, text: { type: 'string', maxLength: 2000 } },
          },
        },
      },
      async (req) => {
        const m = await trust.x.roles.requireModerator(userOf(req));
        return trust.decisions.decideComplaint(m, req.params.id, req.body.uphold, req.body.text);
      },
    );

    app.get<{ Params: { id: string; '*': string } }>(
      '/trust/evidence/:id/*',
      {
        schema: {
          params: {
            type: 'object',
            required: ['id'],
            properties: { id: ID, '*': { type: 'string', maxLength: 64 } },
          },
        },
      },
      async (req, reply) => {
        await trust.x.roles.requireModerator(userOf(req));
        const list = await trust.x.storage.evidenceById(req.params.id);
        if (!list || list.deletedAt) throw new TribuneError('EVIDENCE_NOT_FOUND');
        const file = trust.x.evidence.file(list, req.params['*']);
        if (!file) throw new TribuneError('EVIDENCE_NOT_FOUND', 'no such file');
        const ext = file.slice(file.lastIndexOf('.') + 1);
        return reply
          .type(EVIDENCE_TYPES[ext] ?? 'application/octet-stream')
          .header('cache-control', 'private, no-store')
          .send(createReadStream(file));
      },
    );

    app.get<{ Querystring: { from?: string; to?: string } }>(
      '/trust/report',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { from: { type: 'string', maxLength: 40 }, to: { type: 'string', maxLength: 40 } },
          },
        },
      },
      async (req) => {
        const p = parsePeriod(req.query.from, req.query.to, trust.x.now());
        return trust.report(userOf(req), p.from, p.to);
      },
    );

    app.get<{ Querystring: { from?: string; to?: string } }>(
      '/trust/report.csv',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { from: { type: 'string', maxLength: 40 }, to: { type: 'string', maxLength: 40 } },
          },
        },
      },
      async (req, reply) => {
        const p = parsePeriod(req.query.from, req.query.to, trust.x.now());
        const r = await trust.report(userOf(req), p.from, p.to);
        return reply
          .type('text/csv; charset=utf-8')
          .header(
            'content-disposition',
            `attachment; filename="transparency-${p.from.slice(0, 10)}-${p.to.slice(0, 10)}.csv"`,
          )
          .send(reportCsv(r));
      },
    );

    // ---------------------------------------------------------------- admins
    app.get('/trust/roles', async (req) => trust.roles(userOf(req)));

    const roleBody = {
      type: 'object',
      required: ['handle', 'role'],
      additionalProperties: false,
      properties: {
        handle: { type: 'string', maxLength: 32 },
        role: { type: 'string', enum: [...TRUST_ROLES] },
        organisation: { type: 'string', maxLength: 200 },
      },
    } as const;
    app.post<{ Body: RoleBody }>('/trust/roles', { schema: { body: roleBody } }, async (req, reply) => {
      await trust.grant(userOf(req), req.body.handle, req.body.role, req.body.organisation, true);
      return reply.code(204).send();
    });
    app.delete<{ Body: RoleBody }>('/trust/roles', { schema: { body: roleBody } }, async (req, reply) => {
      await trust.grant(userOf(req), req.body.handle, req.body.role, undefined, false);
      return reply.code(204).send();
    });

    app.get('/trust/statements/export', async (req, reply) =>
      reply
        .type('application/x-ndjson; charset=utf-8')
        .header('content-disposition', 'attachment; filename="statements-of-reasons.jsonl"')
        .send(await trust.exportStatements(userOf(req))),
    );

    app.get('/trust/tdb', async (req) => {
      await trust.x.roles.requireAdmin(userOf(req));
      return trust.x.submitter.status();
    });
  };
}
