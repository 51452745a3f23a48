// The request bodies Slack, Microsoft Teams, PagerDuty and Opsgenie document, as JSON Schemas, so tests
// check what Pulse sends against what the services accept (they cannot be reached from here). Written from
// the services' public documentation: Slack Block Kit (header 150, section text 3000, ≤10 fields of ≤2000,
// button text 75 and URL 3000, ≤50 blocks, mrkdwn / plain_text objects), Teams Workflows webhooks (a
// "message" with an Adaptive Card attachment), PagerDuty Events API v2 (routing_key of 32, event_action,
// dedup_key ≤255, payload summary ≤1024, source, severity critical|error|warning|info, on triggers) and the
// Opsgenie Alert API (message ≤130, alias ≤512, description ≤15000, ≤20 tags of ≤50, priority P1–P5).
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';

const text = (type: 'plain_text' | 'mrkdwn', max: number) => ({
  type: 'object',
  required: ['type', 'text'],
  properties: {
    type: { const: type },
    text: { type: 'string', minLength: 1, maxLength: max },
    emoji: { type: 'boolean' },
  },
  additionalProperties: false,
});
const anyText = (max: number) => ({ oneOf: [text('plain_text', max), text('mrkdwn', max)] });

const slackBlock = {
  oneOf: [
    {
      type: 'object',
      required: ['type', 'text'],
      properties: { type: { const: 'header' }, text: text('plain_text', 150), block_id: { maxLength: 255 } },
      additionalProperties: false,
    },
    {
      type: 'object',
      required: ['type'],
      anyOf: [{ required: ['text'] }, { required: ['fields'] }],
      properties: {
        type: { const: 'section' },
        text: anyText(3000),
        fields: { type: 'array', minItems: 1, maxItems: 10, items: anyText(2000) },
      },
      additionalProperties: false,
    },
    {
      type: 'object',
      required: ['type', 'elements'],
      properties: {
        type: { const: 'actions' },
        elements: {
          type: 'array',
          minItems: 1,
          maxItems: 25,
          items: {
            type: 'object',
            required: ['type', 'text'],
            properties: {
              type: { const: 'button' },
              text: text('plain_text', 75),
              url: { type: 'string', format: 'uri', maxLength: 3000 },
              action_id: { type: 'string', maxLength: 255 },
            },
            additionalProperties: false,
          },
        },
      },
      additionalProperties: false,
    },
  ],
};

const slackMessage = {
  type: 'object',
  required: ['text', 'blocks'],
  properties: {
    text: { type: 'string', minLength: 1 },
    blocks: { type: 'array', minItems: 1, maxItems: 50, items: slackBlock },
  },
  additionalProperties: false,
};

const cardElement = {
  oneOf: [
    {
      type: 'object',
      required: ['type', 'text'],
      properties: {
        type: { const: 'TextBlock' },
        text: { type: 'string' },
        wrap: { type: 'boolean' },
        weight: { enum: ['Default', 'Lighter', 'Bolder'] },
        size: { enum: ['Default', 'Small', 'Medium', 'Large', 'ExtraLarge'] },
        color: { enum: ['Default', 'Dark', 'Light', 'Accent', 'Good', 'Warning', 'Attention'] },
      },
      additionalProperties: false,
    },
    {
      type: 'object',
      required: ['type', 'facts'],
      properties: {
        type: { const: 'FactSet' },
        facts: {
          type: 'array',
          items: {
            type: 'object',
            required: ['title', 'value'],
            properties: { title: { type: 'string' }, value: { type: 'string' } },
            additionalProperties: false,
          },
        },
      },
      additionalProperties: false,
    },
  ],
};

const teamsMessage = {
  type: 'object',
  required: ['type', 'attachments'],
  properties: {
    type: { const: 'message' },
    attachments: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['contentType', 'content'],
        properties: {
          contentType: { const: 'application/vnd.microsoft.card.adaptive' },
          contentUrl: { type: 'null' },
          content: {
            type: 'object',
            required: ['type', 'version', 'body'],
            properties: {
              $schema: { const: 'http://adaptivecards.io/schemas/adaptive-card.json' },
              type: { const: 'AdaptiveCard' },
              version: { enum: ['1.0', '1.1', '1.2', '1.3', '1.4', '1.5'] },
              body: { type: 'array', minItems: 1, items: cardElement },
              actions: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['type', 'url'],
                  properties: {
                    type: { const: 'Action.OpenUrl' },
                    title: { type: 'string' },
                    url: { type: 'string', format: 'uri' },
                  },
                  additionalProperties: false,
                },
              },
            },
            additionalProperties: false,
          },
        },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
};

const pagerDutyEvent = {
  type: 'object',
  required: ['routing_key', 'event_action'],
  properties: {
    routing_key: { type: 'string', minLength: 32, maxLength: 32 },
    event_action: { enum: ['trigger', 'acknowledge', 'resolve'] },
    dedup_key: { type: 'string', minLength: 1, maxLength: 255 },
    payload: {
      type: 'object',
      required: ['summary', 'source', 'severity'],
      properties: {
        summary: { type: 'string', minLength: 1, maxLength: 1024 },
        source: { type: 'string', minLength: 1 },
        severity: { enum: ['critical', 'error', 'warning', 'info'] },
        timestamp: { type: 'string', format: 'date-time' },
        component: { type: 'string' },
        group: { type: 'string' },
        class: { type: 'string' },
        custom_details: { type: 'object' },
      },
      additionalProperties: false,
    },
    client: { type: 'string' },
    client_url: { type: 'string', format: 'uri' },
    links: {
      type: 'array',
      items: {
        type: 'object',
        required: ['href'],
        properties: { href: { type: 'string', format: 'uri' }, text: { type: 'string' } },
        additionalProperties: false,
      },
    },
    images: { type: 'array' },
  },
  // A trigger needs its payload; acknowledge and resolve need the dedup_key of what they act on.
  if: { properties: { event_action: { const: 'trigger' } } },
  then: { required: ['payload'] },
  else: { required: ['dedup_key'] },
  additionalProperties: false,
};

const opsgenieCreate = {
  type: 'object',
  required: ['message'],
  properties: {
    message: { type: 'string', minLength: 1, maxLength: 130 },
    alias: { type: 'string', maxLength: 512 },
    description: { type: 'string', maxLength: 15000 },
    tags: { type: 'array', maxItems: 20, items: { type: 'string', maxLength: 50 } },
    details: { type: 'object', additionalProperties: { type: 'string' } },
    entity: { type: 'string', maxLength: 512 },
    source: { type: 'string', maxLength: 100 },
    priority: { enum: ['P1', 'P2', 'P3', 'P4', 'P5'] },
    user: { type: 'string', maxLength: 100 },
    note: { type: 'string', maxLength: 25000 },
  },
  additionalProperties: false,
};
const opsgenieAction = {
  type: 'object',
  properties: {
    user: { type: 'string', maxLength: 100 },
    source: { type: 'string', maxLength: 100 },
    note: { type: 'string', maxLength: 25000 },
  },
  additionalProperties: false,
};

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats.default(ajv);
const validators = {
  slack: ajv.compile(slackMessage),
  teams: ajv.compile(teamsMessage),
  pagerduty: ajv.compile(pagerDutyEvent),
  opsgenieCreate: ajv.compile(opsgenieCreate),
  opsgenieAction: ajv.compile(opsgenieAction),
};

/** What is wrong with `body` as the service's request, or [] when it is what the service documents. */
export function schemaProblems(kind: keyof typeof validators, body: unknown): string[] {
  const validate = validators[kind];
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
}
