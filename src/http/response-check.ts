// Checks an answer against its route's response schema (API_CHECK_RESPONSES=on, as in the test suite).
// Answers are still serialised by JSON.stringify, never by the schema: fast-json-stringify would drop
// fields the schema lacks and print dates its own way, so a wrong schema would silently change the wire
// format. Checking instead makes a wrong schema fail loudly, in the tests, with the field it is about.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const ajv = new Ajv({ allErrors: true, strict: false });
// ajv-formats is CommonJS: its function is also its `default`.
addFormats.default(ajv);

/** An answer that breaks its route's response schema: a bug in the route or in the schema. */
export class ResponseSchemaError extends Error {}

/**
 * A function that names what in a (JSON-parsed) answer breaks the schema, or returns undefined. The schema
 * is compiled at the first answer it checks: Fastify asks for a check of every status of every route at
 * start, and a test starts Pulse hundreds of times to answer from a few routes each time.
 */
export function compileResponseCheck(schema: object): (value: unknown) => string | undefined {
  let validate: ValidateFunction | undefined;
  return (value) => {
    validate ??= ajv.compile(schema);
    return validate(value) ? undefined : describe(validate.errors ?? []);
  };
}

function describe(errors: ErrorObject[]): string {
  return errors
    .slice(0, 5)
    .map((error) => {
      const where = error.instancePath || '(the answer)';
      const extra = (error.params as { additionalProperty?: string }).additionalProperty;
      return `${where} ${error.message ?? error.keyword}${extra ? ` (${extra})` : ''}`;
    })
    .join('; ');
}
