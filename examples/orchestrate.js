// The seed journey, as an agent would write it: create an issue, check its title, add labels
// when it mentions a bug, and return the issue. Runs inside the sandbox; `tools` and `console`
// are its globals. Try it:
//
//   npx toolexec exec examples/orchestrate.js --tools examples/tools.mjs
const title = 'Login fails with a bug in the session cookie';
const issue = await tools.github.create_issue({ title, body: 'Steps: sign in, wait 5 minutes, reload.' });
if (issue.title !== title) throw new Error(`the tracker changed the title to ${JSON.stringify(issue.title)}`);
console.log(`created #${issue.number}: ${issue.title}`);

let result = issue;
if (/\bbug\b/i.test(issue.title)) {
  result = await tools.github.add_labels({ number: issue.number, labels: ['bug', 'needs-triage'] });
  console.log(`labelled #${result.number}: ${result.labels.join(', ')}`);
}
result
