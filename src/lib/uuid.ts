// Ids the database makes (gen_random_uuid): checked before a query so a malformed one is "not found" or
// a 400, never a PostgreSQL error.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: string): boolean => UUID.test(value);
