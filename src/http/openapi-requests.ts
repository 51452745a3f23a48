// What /api/docs/json says a client must send. A query parameter or body field with a default is required
// in the route's schema, so that the handler always sees it (ajv fills the default in), but a client may
// leave it out: the document marks it optional, and the web app's generated types (ADR 018) follow.
type Schema = { [keyword: string]: unknown };

const SUBSCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf'] as const;

const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null;

/** `schema` with every object's fields that have a default taken out of its `required`. */
function defaultsOptional(schema: Schema): Schema {
  const result: Schema = { ...schema };
  const properties = isSchema(schema.properties) ? (schema.properties as Record<string, Schema>) : undefined;
  if (properties) {
    result.properties = Object.fromEntries(
      Object.entries(properties).map(([name, property]) => [name, defaultsOptional(property)]),
    );
    if (Array.isArray(schema.required)) {
      const required = (schema.required as string[]).filter((name) => properties[name]?.default === undefined);
      if (required.length > 0) result.required = required;
      else delete result.required;
    }
  }
  if (isSchema(schema.items)) result.items = defaultsOptional(schema.items);
  if (isSchema(schema.additionalProperties))
    result.additionalProperties = defaultsOptional(schema.additionalProperties);
  for (const list of SUBSCHEMA_LISTS) {
    if (Array.isArray(schema[list])) result[list] = (schema[list] as Schema[]).map(defaultsOptional);
  }
  return result;
}

interface Operation {
  parameters?: { required?: boolean; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

/** The document with request parameters and body fields that have a default marked optional. */
export function defaultsOptionalForSenders<Document extends { paths?: object }>(document: Document): Document {
  const paths = Object.entries((document.paths ?? {}) as Record<string, Record<string, unknown>>).map(
    ([path, operations]) => [
      path,
      Object.fromEntries(
        Object.entries(operations).map(([method, operation]) => [method, operationDefaultsOptional(operation)]),
      ),
    ],
  );
  return { ...document, paths: Object.fromEntries(paths) };
}

function operationDefaultsOptional(entry: unknown): unknown {
  if (!isSchema(entry) || Array.isArray(entry)) return entry; // a path item's own parameters or summary
  const operation = entry as Operation;
  const result = { ...operation };
  if (operation.parameters) {
    result.parameters = operation.parameters.map((parameter) =>
      parameter.schema?.default === undefined ? parameter : { ...parameter, required: false },
    );
  }
  const content = operation.requestBody?.content;
  if (content) {
    result.requestBody = {
      ...operation.requestBody,
      content: Object.fromEntries(
        Object.entries(content).map(([media, body]) => [
          media,
          body.schema ? { ...body, schema: defaultsOptional(body.schema) } : body,
        ]),
      ),
    };
  }
  return result;
}
