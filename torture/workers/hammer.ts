// A torture worker process (S3): waits for "go" on stdin, so that all workers start together, then
// changes one task through the real store code: progress notes (as `mailroom progress` does) and,
// every `rewriteEvery` steps, a human-style rewrite of the body under the task's lock (a line inserted
// in the middle of the text, the rest kept). After each change it prints one line, so the torture
// knows which changes were acknowledged and must be in the final file.
// Usage: node hammer.js ROOT ID STEPS REWRITE_EVERY NAME SEED

import { openMailroom } from '../../src/mailroom.js';
import { progress } from '../../src/ops/lifecycle.js';
import { updateTask } from '../../src/store/tasks.js';
import { joinFrontmatter } from '../../src/task/frontmatter.js';
import { Rng } from '../rng.js';

const [root, id, stepsText, everyText, name, seedText] = process.argv.slice(2);
if (!root || !id || !name) throw new Error('usage: hammer.js ROOT ID STEPS REWRITE_EVERY NAME SEED');
const steps = Number(stepsText);
const every = Number(everyText);
const rng = new Rng(Number(seedText));
const mr = await openMailroom(root);
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));

for (let i = 0; i < steps; i++) {
  if (every > 0 && i % every === every - 1) {
    const marker = `rewrite ${name} ${i}`;
    await updateTask(mr, id, (t) => {
      const file = t.parsed.file;
      const lines = file.body.split('\n');
      // Insert in the middle of the text, as a person editing a paragraph would.
      const at = lines.length <= 1 ? 0 : 1 + rng.int(lines.length - 1);
      lines.splice(at, 0, `- ${marker}`);
      return { text: joinFrontmatter({ ...file, body: lines.join('\n') }) };
    });
    process.stdout.write(`${marker}\n`);
  } else {
    const note = `${name} note ${i}`;
    await progress(mr, id, note, { as: 'research' });
    process.stdout.write(`note ${note}\n`);
  }
}
process.stdout.write('finished\n');
process.exit(0);
