// /api/docs/json marks what a client may leave out: a request's parameters and body fields that have a
// default, at any depth, and nothing of the answers.
import { describe, expect, it } from 'vitest';
import { defaultsOptionalForSenders } from '../../src/http/openapi-requests.js';

const answer = { type: 'object', properties: { limit: { type: 'integer', default: 50 } }, required: ['limit'] };

const document = {
  openapi: '3.0.3',
  paths: {
    '/things/{thing_id}': {
      get: {
        parameters: [
          { in: 'path', name: 'thing_id', required: true, schema: { type: 'string' } },
          { in: 'query', name: 'limit', required: true, schema: { type: 'integer', default: 50 } },
          { in: 'query', name: 'status', required: true, schema: { type: 'string' } },
        ],
        responses: { 200: { content: { 'application/json': { schema: answer } } } },
      },
      post: {
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  name: { type: 'string' },
                  enabled: { type: 'boolean', default: true },
                  steps: {
                    type: 'array',
                    items: {
                      anyOf: [
                        {
                          type: 'object',
                          properties: { wait: { type: 'integer', default: 0 } },
                          required: ['wait'],
                        },
                      ],
                    },
                  },
                },
                required: ['name', 'enabled', 'steps'],
              },
            },
          },
        },
        responses: {},
      },
    },
  },
};

describe('defaultsOptionalForSenders', () => {
  const result = defaultsOptionalForSenders(document);
  const thing = result.paths['/things/{thing_id}'];

  it('marks a parameter with a default optional and keeps the others required', () => {
    expect(thing.get.parameters.map((p) => [p.name, p.required])).toEqual([
      ['thing_id', true],
      ['limit', false],
      ['status', true],
    ]);
  });

  it('takes body fields with a default out of required, in nested objects too', () => {
    const body = thing.post.requestBody.content['application/json'].schema as unknown as {
      required: string[];
      properties: { steps: { items: { anyOf: { required?: string[] }[] } } };
    };
    expect(body.required).toEqual(['name', 'steps']);
    expect(body.properties.steps.items.anyOf[0]!.required).toBeUndefined();
  });

  it('leaves answers and the document it was given as they were', () => {
    expect(thing.get.responses[200].content['application/json'].schema).toBe(answer);
    expect(answer.required).toEqual(['limit']);
    expect(document.paths['/things/{thing_id}'].get.parameters[1]!.required).toBe(true);
    expect(document.paths['/things/{thing_id}'].post.requestBody.content['application/json'].schema.required).toEqual([
      'name',
      'enabled',
      'steps',
    ]);
  });
});
