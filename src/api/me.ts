// What any signed-in user does for itself, whatever its role: change its own password (the built-in
// issuer's users only), proving the current one. Wrong current passwords count like failed sign-ins, so a
// stolen token cannot be used to guess the password behind it.
import { Type } from '@sinclair/typebox';
import { AppError } from '../errors.js';
import type { App } from '../http/server.js';
import type { Users } from '../identity/users.js';
import { FailureLimit } from '../lib/rate-limit.js';
import { NoContent } from '../lib/schema.js';
import { builtInUsersOnly, Password } from './customer/users.js';
import { principalOf } from './guard.js';

export function registerMeRoutes(
  app: App,
  deps: { users: Users; externalIssuer: string | undefined; failureLimit: number; failureWindowSeconds: number },
): void {
  const failures = new FailureLimit(deps.failureLimit, deps.failureWindowSeconds);
  app.post(
    '/api/me/password',
    {
      preHandler: builtInUsersOnly(deps.externalIssuer),
      schema: {
        tags: ['auth'],
        summary: 'Change your own password (any role); your sessions and tokens end, sign in again',
        body: Type.Object(
          { current_password: Type.String({ minLength: 1, maxLength: 512 }), new_password: Password },
          { additionalProperties: false },
        ),
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      const { sub } = principalOf(request);
      const slot = [`password:${sub}`];
      const wait = await failures.reserve(slot);
      if (wait !== undefined)
        throw new AppError('RATE_LIMITED', `Too many wrong current passwords; try again in ${wait} s`, {}, wait);
      try {
        await deps.users.changeOwnPassword(sub, request.body.current_password, request.body.new_password);
      } catch (error) {
        if (error instanceof AppError && error.code === 'WRONG_PASSWORD') failures.failed(slot);
        else failures.succeeded(slot);
        throw error;
      }
      failures.succeeded(slot);
      return reply.status(204).send(null);
    },
  );
}
