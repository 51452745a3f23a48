// TypeBox helpers for what the HTTP API answers: closed objects, nullable fields, instants. Routes declare
// their answers with them, so the handlers' return types are checked against the schema (Fastify's type
// provider), /api/docs/json documents them, the web app's types are generated from that document, and with
// API_CHECK_RESPONSES=on (the test suite) every answer is checked against them at run time.
import { Type, type TProperties, type TSchema } from '@sinclair/typebox';

/** An object with exactly these fields: one the schema lacks fails the check instead of going out undocumented. */
export const Obj = <T extends TProperties>(properties: T, options: { description?: string } = {}) =>
  Type.Object(properties, { additionalProperties: false, ...options });

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** One of these strings. */
export const OneOf = <T extends string>(values: readonly T[], options: { description?: string } = {}) =>
  Type.Union(
    values.map((value) => Type.Literal(value)),
    options,
  );

/** An instant: a Date in the handlers, ISO-8601 with an offset on the wire. */
export const Timestamp = Type.Unsafe<Date | string>({ type: 'string', format: 'date-time' });

/** Any JSON object (device metadata, alert details, a device's latest values). */
export const JsonObject = Type.Record(Type.String(), Type.Unknown());

/** The answer of a route that answers 204. */
export const NoContent = Type.Null({ description: 'No content' });
