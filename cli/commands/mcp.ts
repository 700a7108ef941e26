// `mailroom mcp`: the stdio MCP server for the acting agent (agent/mcp.ts). stdout belongs to the
// protocol: nothing else is printed there.

import { usageError } from '../../src/errors.js';
import { requireAgent } from '../../src/mailroom.js';
import { actingAs, type CommonOptions, open } from '../context.js';
import { tuneForLongRunning } from '../long-running.js';

export async function mcp(opts: CommonOptions): Promise<void> {
  tuneForLongRunning();
  const agent = actingAs(opts);
  if (agent === undefined)
    throw usageError('mailroom mcp serves one agent: which?', 'add --as AGENT or set $MAILROOM_AGENT');
  const mr = await open(opts);
  requireAgent(mr, agent);
  await (await import('../../agent/mcp.js')).serveMcp(mr, agent);
}
