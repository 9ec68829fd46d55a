// Type errors before side effects: with `typecheck: true` the script is checked against the
// declarations of the tools it may call, and a mistake stops it before the first tool runs.
// Needs the `typescript` package. Run with: node examples/typecheck.mjs
import { Runner, Executor } from 'toolexec';

const runner = new Runner();
runner.register({
  namespace: 'mail',
  name: 'send',
  inputSchema: { type: 'object', properties: { to: { type: 'string' }, subject: { type: 'string' } }, required: ['to', 'subject'] },
  outputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
  handler: ({ to }) => ({ id: `sent-to-${to}` }),
});

const executor = new Executor({ runner });
const script = `
  const sent = await tools.mail.send({ to: 'ops@example.com', subject: 'Deploy done' });
  const again = await tools.mail.send({ to: 'ops@example.com', subjet: 'Twice?' });
  return [sent.id, again.messageId];
`;
const checked = await executor.execute(script, { typecheck: true });
console.log(checked.error.code, checked.toolCalls.length);
for (const d of checked.error.diagnostics) console.log(`${d.line}:${d.column} ${d.message}`);
await executor.dispose();
