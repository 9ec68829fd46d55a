// InMemoryIndex over synthetic but realistic tool sets (1,000 and 10,000 tools spread over
// MCP-server-like namespaces): bulk registration, incremental register/unregister, get,
// and search latency for several query kinds. Build first: npx tsc -p tsconfig.build.json
import { InMemoryIndex } from '../dist/index/in-memory-index.js';
import { pathToFileURL } from 'node:url';
import { measure, measureSync, report } from './lib.mjs';

// Deterministic PRNG so every run indexes the same tools.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = [
  ['github', 'GitHub', 'vcs'], ['gitlab', 'GitLab', 'vcs'], ['bitbucket', 'Bitbucket', 'vcs'], ['jira', 'Jira', 'tracker'],
  ['linear', 'Linear', 'tracker'], ['asana', 'Asana', 'tracker'], ['slack', 'Slack', 'chat'], ['discord', 'Discord', 'chat'],
  ['teams', 'Microsoft Teams', 'chat'], ['gmail', 'Gmail', 'email'], ['outlook', 'Outlook', 'email'], ['gcal', 'Google Calendar', 'calendar'],
  ['notion', 'Notion', 'docs'], ['confluence', 'Confluence', 'docs'], ['gdrive', 'Google Drive', 'storage'], ['dropbox', 'Dropbox', 'storage'],
  ['s3', 'Amazon S3', 'storage'], ['stripe', 'Stripe', 'payments'], ['shopify', 'Shopify', 'commerce'], ['hubspot', 'HubSpot', 'crm'],
  ['salesforce', 'Salesforce', 'crm'], ['zendesk', 'Zendesk', 'support'], ['postgres', 'PostgreSQL', 'database'], ['mysql', 'MySQL', 'database'],
  ['mongodb', 'MongoDB', 'database'], ['redis', 'Redis', 'database'], ['k8s', 'Kubernetes', 'infra'], ['docker', 'Docker', 'infra'],
  ['aws_ec2', 'Amazon EC2', 'infra'], ['vercel', 'Vercel', 'deploy'], ['netlify', 'Netlify', 'deploy'], ['datadog', 'Datadog', 'observability'],
  ['sentry', 'Sentry', 'observability'], ['pagerduty', 'PagerDuty', 'oncall'], ['figma', 'Figma', 'design'], ['twilio', 'Twilio', 'sms'],
  ['openweather', 'OpenWeather', 'weather'], ['maps', 'Google Maps', 'geo'], ['calculator', 'Calculator', 'math'], ['fs', 'Filesystem', 'files'],
];
const VERBS = ['create', 'get', 'list', 'update', 'delete', 'search', 'archive', 'export', 'import', 'sync', 'send', 'fetch', 'upload',
  'download', 'merge', 'close', 'assign', 'comment_on', 'approve', 'schedule', 'cancel', 'restore', 'count', 'summarize'];
const NOUNS = ['issue', 'pull_request', 'repository', 'branch', 'commit', 'user', 'team', 'channel', 'message', 'file', 'folder', 'invoice',
  'customer', 'payment', 'subscription', 'event', 'calendar', 'ticket', 'project', 'task', 'document', 'page', 'database', 'table', 'query',
  'bucket', 'object', 'report', 'dashboard', 'alert', 'metric', 'log', 'deployment', 'pipeline', 'secret', 'webhook', 'label', 'milestone',
  'release', 'contact', 'order', 'product', 'incident', 'forecast', 'route', 'comment', 'attachment', 'workflow'];
const PHRASES = [
  (v, n, s) => `${cap(v)} a ${n} in ${s}.`,
  (v, n, s) => `${cap(v)} ${n}s from the connected ${s} account, with pagination.`,
  (v, n, s) => `Use this to ${v} one ${n} by ID. Returns the ${n} and its metadata from ${s}.`,
  (v, n, s) => `${cap(v)} ${n} records. Requires ${s} API access; fails if the ${n} does not exist.`,
];
const EXTRA = ['Supports filters by date, owner and status.', 'Results are sorted newest first.', 'Idempotent.',
  'Rate limited to 10 requests per second.', 'Dry-run mode available.', 'Returns at most 100 items per page.'];
const cap = (s) => s[0].toUpperCase() + s.slice(1);
const words = (s) => s.replace(/_/g, ' ');
function style(name, r) {
  const x = r();
  if (x < 0.6) return name; // snake_case (most MCP servers)
  if (x < 0.85) return name.replace(/_([a-z])/g, (_, c) => c.toUpperCase()); // camelCase
  return name.replace(/_/g, '-'); // kebab-case
}

/** `count` tools over enough namespaces that each holds ~25–60 tools (like real MCP servers). */
export function makeTools(count, seed = 42) {
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const tools = [];
  const ids = new Set();
  const nsCount = Math.max(SERVICES.length, Math.ceil(count / 40));
  while (tools.length < count) {
    const k = Math.floor(r() * nsCount);
    const [base, label, category] = SERVICES[k % SERVICES.length];
    const namespace = k < SERVICES.length ? base : `${base}_${Math.floor(k / SERVICES.length)}`;
    const verb = pick(VERBS);
    const noun = pick(NOUNS);
    let name = style(`${verb}_${noun}`, r);
    if (r() < 0.15) name += `_v${1 + Math.floor(r() * 3)}`;
    const id = `${namespace}:${name}`;
    if (ids.has(id)) continue;
    ids.add(id);
    const description = `${pick(PHRASES)(words(verb), words(noun), label)} ${r() < 0.5 ? pick(EXTRA) : ''}`.trim();
    const tool = { namespace, name, description, tags: [category, verb.startsWith('get') || verb.startsWith('list') || verb === 'search' || verb === 'fetch' ? 'read' : 'write'],
      inputSchema: { type: 'object', properties: { id: { type: 'string' } } } };
    if (r() < 0.3) tool.title = `${cap(words(verb))} ${words(noun)}`;
    tools.push({ tool, backend: r() < 0.8 ? { kind: 'mcp', name: namespace, tool: name } : { kind: 'local', name: 'local' } });
  }
  return tools;
}

// Run only as a script (tests or other tools may import makeTools).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();

async function main() {
  const rows = [];
  const notes = [];
  for (const size of [1_000, 10_000]) {
    const label = size >= 10_000 ? '10k' : '1k';
    const entries = makeTools(size);

    // Bulk registration into a fresh index (includes definition checks and full-text indexing).
    const bulk = await measure(`${label}: registerMany (${size} tools)`, () => new InMemoryIndex().registerMany(entries), { samples: size >= 10_000 ? 5 : 15, warmup: 1 });
    rows.push(bulk);
    notes.push(`${label}: registration ${(bulk.medianUs / size).toFixed(2)} µs per tool`);

    const index = new InMemoryIndex();
    index.registerMany(entries);
    const sample = entries[Math.floor(size / 2)].tool;
    const sampleId = `${sample.namespace}:${sample.name}`;
    const ns = sample.namespace;

    // Incremental changes on a full index: one register + one unregister (no rebuild).
    let n = 0;
    rows.push(measureSync(`${label}: register + unregister one tool`, () => {
      const id = index.register({ namespace: 'bench', name: `extra_tool_${n++ % 64}`, description: 'A tool added while the index is live', tags: ['bench'] }, { kind: 'local', name: 'local' }).id;
      index.unregister(id);
    }, { samples: 30, batch: 50, warmup: 2 }));
    rows.push(measureSync(`${label}: get(id)`, () => index.get(sampleId), { samples: 30, batch: 10_000 }));

    const queries = [
      ['exact name', 'create_issue'],
      ['two words', 'create issue'],
      ['prefix', 'depl'],
      ['typo', 'subscriptoin'],
      ['sentence', 'send a message to a slack channel'],
      ['namespace-filtered', 'list', { namespace: ns }],
      ['tag-filtered', 'report', { tags: ['read'] }],
      ['empty query (list page)', ''],
    ];
    for (const [kind, q, opts = {}] of queries) {
      const page = index.search(q, opts);
      const row = measureSync(`${label}: search ${kind} "${q}"`, () => index.search(q, opts), { samples: 200, batch: 1, warmup: 20 });
      rows.push(row);
      notes.push(`${label}: "${q}" → ${page.total} hits, top ${page.items.slice(0, 3).map((h) => h.id).join(', ') || '—'}`);
    }
    const first = index.search('list', { limit: 20 });
    rows.push(measureSync(`${label}: search next page via cursor "list"`, () => index.search('list', { limit: 20, cursor: first.nextCursor }), { samples: 200, batch: 1, warmup: 20 }));
  }

  report('index-search', rows, {
    ratios: [
      ['10k/1k search "create issue"', '10k: search two words "create issue"', '1k: search two words "create issue"'],
      ['10k/1k registerMany (per tool)', '10k: registerMany (10000 tools)', '1k: registerMany (1000 tools)'],
    ],
    notes,
  });
}
