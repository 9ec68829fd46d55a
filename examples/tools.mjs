// A tool module: the default export is an array of tool definitions with local handlers.
// These GitHub-shaped tools keep their issues in memory, so the examples run anywhere.
// Load it with `toolexec exec <script> --tools examples/tools.mjs`.

const issues = new Map();
let nextNumber = 1;

const issueSchema = {
  type: 'object',
  properties: {
    number: { type: 'integer' },
    title: { type: 'string' },
    body: { type: 'string' },
    state: { type: 'string', enum: ['open', 'closed'] },
    labels: { type: 'array', items: { type: 'string' } },
  },
  required: ['number', 'title', 'body', 'state', 'labels'],
};

function find(number) {
  const issue = issues.get(number);
  if (!issue) throw new Error(`issue #${number} does not exist`);
  return issue;
}

export default [
  {
    namespace: 'github',
    name: 'create_issue',
    description: 'Create an issue. Returns the new issue with its number.',
    inputSchema: {
      type: 'object',
      properties: {
        title: { type: 'string', minLength: 1, description: 'One-line summary' },
        body: { type: 'string', description: 'Markdown description' },
      },
      required: ['title'],
      additionalProperties: false,
    },
    outputSchema: issueSchema,
    annotations: { destructiveHint: false },
    handler: async ({ title, body = '' }) => {
      const issue = { number: nextNumber++, title, body, state: 'open', labels: [] };
      issues.set(issue.number, issue);
      return structuredClone(issue);
    },
  },
  {
    namespace: 'github',
    name: 'get_issue',
    description: 'Fetch one issue by number.',
    inputSchema: { type: 'object', properties: { number: { type: 'integer', minimum: 1 } }, required: ['number'], additionalProperties: false },
    outputSchema: issueSchema,
    annotations: { readOnlyHint: true },
    handler: async ({ number }) => structuredClone(find(number)),
  },
  {
    namespace: 'github',
    name: 'add_labels',
    description: 'Add labels to an issue (labels it already has are kept once). Returns the updated issue.',
    inputSchema: {
      type: 'object',
      properties: {
        number: { type: 'integer', minimum: 1 },
        labels: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      },
      required: ['number', 'labels'],
      additionalProperties: false,
    },
    outputSchema: issueSchema,
    handler: async ({ number, labels }) => {
      const issue = find(number);
      for (const label of labels) if (!issue.labels.includes(label)) issue.labels.push(label);
      return structuredClone(issue);
    },
  },
  {
    namespace: 'github',
    name: 'list_issues',
    description: 'List issues, optionally only those with a given label or state.',
    inputSchema: {
      type: 'object',
      properties: { label: { type: 'string' }, state: { type: 'string', enum: ['open', 'closed'] } },
      additionalProperties: false,
    },
    outputSchema: { type: 'object', properties: { issues: { type: 'array', items: issueSchema } }, required: ['issues'] },
    annotations: { readOnlyHint: true },
    handler: async ({ label, state } = {}) => ({
      issues: [...issues.values()]
        .filter((i) => (label === undefined || i.labels.includes(label)) && (state === undefined || i.state === state))
        .map((i) => structuredClone(i)),
    }),
  },
];
