// The tool runner on its own: register tools, run them with schema checks, chain them,
// stream from a generator. Run with: node examples/runner-basics.mjs
import { Runner, ToolError } from 'toolexec';

const runner = new Runner();

// A bare function is enough to run a tool (no schema, no index entry).
runner.local.register('calculator:add', ({ a, b }) => a + b);
console.log('calculator:add ->', (await runner.run('calculator:add', { a: 2, b: 3 })).structured);

// A full definition: the input schema is enforced before the handler runs,
// the output schema after.
runner.register({
  namespace: 'github',
  name: 'create_issue',
  description: 'Create an issue',
  inputSchema: {
    type: 'object',
    properties: { title: { type: 'string', minLength: 1 }, body: { type: 'string' } },
    required: ['title'],
  },
  outputSchema: { type: 'object', properties: { number: { type: 'integer' } }, required: ['number'] },
  handler: async ({ title }) => ({ number: 7, title }),
});

try {
  await runner.run('github:create_issue', { title: '' });
} catch (e) {
  if (!(e instanceof ToolError)) throw e;
  console.log(`${e.code}: ${e.message}`); // INPUT_VALIDATION: ... /title must NOT have fewer than 1 characters
}

// Chains: templates pull values from earlier steps; a whole-string template keeps its type.
runner.register({ namespace: 'github', name: 'get_issue', handler: ({ number }) => ({ number, state: 'open' }) });
const chain = await runner.runChain([
  { toolId: 'github:create_issue', args: { title: 'Crash on start' } },
  { toolId: 'github:get_issue', args: { number: '{{prev.number}}' } },
]);
console.log('chain ->', chain.final.structured);

// Streaming: an async-generator handler yields chunks.
runner.register({
  namespace: 'demo',
  name: 'countdown',
  handler: async function* ({ from }) {
    for (let i = from; i > 0; i--) yield i;
    return 'liftoff';
  },
});
for await (const event of runner.runStream('demo:countdown', { from: 3 })) {
  console.log('stream', event.kind, event.kind === 'done' ? event.data.structured : event.data);
}

// Searching the index.
console.log('search "issue" ->', runner.index.search('issue').items.map((h) => h.id));
