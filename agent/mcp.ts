// `mailroom mcp --as AGENT`: a stdio MCP server on the official TypeScript SDK (@modelcontextprotocol/
// server 2.x; the only module that imports it). Tools are agent/tools.ts; resources are an agent's
// inbox (`mailroom://inbox/{agent}`) and one task (`mailroom://task/{id}`), with subscriptions whose
// update notifications are driven by file events (daemon/watch.ts). Events are hints: a notification
// says "read it again", the read is the truth. The server is long-running, so a tool call pays no
// start-up: the mailroom is opened once.

import { basename, relative, sep } from 'node:path';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { watchPaths } from '../daemon/watch.js';
import { MailroomError } from '../src/errors.js';
import type { Mailroom } from '../src/mailroom.js';
import { listTasks } from '../src/ops/list.js';
import type { MemoryCache } from '../src/ops/list-cache.js';
import { ChangeHints } from '../src/ops/list-kept.js';
import { loadTask } from '../src/store/tasks.js';
import { TOOLS } from './tools.js';

const VERSION = '0.1.0';
const TASK_URI = 'mailroom://task/';
/** Changes within this window are one notification per resource. */
const NOTIFY_COALESCE_MS = 20;

const text = (value: unknown) => ({
  content: [
    // Compact JSON: a 500-task listing is a third smaller, for the pipe and for the model's context.
    { type: 'text' as const, text: typeof value === 'string' ? value : JSON.stringify(value) },
  ],
});

function errorResult(err: unknown) {
  if (err instanceof MailroomError) {
    const line = `${err.kind} (exit ${err.exitCode}): ${err.message}${err.hint ? `\nfix: ${err.hint}` : ''}`;
    return { ...text(line), isError: true };
  }
  return { ...text(`unexpected error: ${err instanceof Error ? err.message : String(err)}`), isError: true };
}

/**
 * One ls cache for the server's life (src/ops/list-cache.ts): a listing checks each file's stamp, so
 * a change by any process is seen on the next call and only changed files are read again. With the
 * watcher's hints (serveMcp, on Linux) a listing nothing has touched is given again without the
 * stats (src/ops/list-kept.ts).
 */
export function buildServer(mr: Mailroom, agent: string, cache: MemoryCache = {}): McpServer {
  const server = new McpServer(
    { name: 'mailroom', version: VERSION },
    {
      capabilities: { tools: {}, resources: { subscribe: true, listChanged: false } },
      instructions:
        `You are agent "${agent}" of a mailroom (a file-based task inbox). Call next to take your next task, ` +
        'start / progress / done (or fail) to work it, wait to sleep until something arrives, ask to ask a person.',
    },
  );
  for (const tool of TOOLS) {
    server.registerTool(
      tool.name,
      { description: tool.description, inputSchema: tool.input },
      async (args, ctx) => {
        try {
          const signal = (ctx as { mcpReq?: { signal?: AbortSignal } }).mcpReq?.signal;
          return text(
            await tool.run(
              { mr, agent, cache, ...(signal ? { signal } : {}) },
              args as Record<string, unknown>,
            ),
          );
        } catch (err) {
          return errorResult(err);
        }
      },
    );
  }
  server.registerResource(
    'inbox',
    new ResourceTemplate('mailroom://inbox/{agent}', {
      list: async () => ({ resources: [{ uri: `mailroom://inbox/${agent}`, name: `${agent}'s inbox` }] }),
    }),
    {
      description: "An agent's inbox: its tasks as JSON, urgent first, then oldest",
      mimeType: 'application/json',
    },
    async (uri, vars) => {
      const { tasks } = await listTasks(mr, { agent: String(vars.agent), box: 'inbox' }, { memory: cache });
      return {
        contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(tasks) }],
      };
    },
  );
  server.registerResource(
    'task',
    new ResourceTemplate('mailroom://task/{id}', { list: undefined }),
    { description: 'One task file (Markdown with YAML frontmatter)', mimeType: 'text/markdown' },
    async (uri, vars) => {
      const t = await loadTask(mr, String(vars.id));
      return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text: t.text }] };
    },
  );
  return server;
}

/** Which subscribed URIs a changed path under agents/ concerns. */
export function urisFor(agentsDir: string, path: string, subscribed: Iterable<string>): string[] {
  const parts = relative(agentsDir, path).split(sep);
  const [agent, box] = parts;
  const file = parts.length >= 3 ? basename(parts[2]!) : undefined;
  const out: string[] = [];
  for (const uri of subscribed) {
    if (uri === `mailroom://inbox/${agent}` && box === 'inbox') out.push(uri);
    else if (file !== undefined && uri.startsWith(TASK_URI) && file === `${uri.slice(TASK_URI.length)}.md`)
      out.push(uri);
  }
  return out;
}

/**
 * Subscriptions, and a watcher that turns file events into `notifications/resources/updated` and
 * tells them to the ls cache's hints, when it has some.
 */
async function wireSubscriptions(server: McpServer, mr: Mailroom, hints?: ChangeHints) {
  const subscribed = new Set<string>();
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  server.server.setRequestHandler('resources/subscribe', async (req) => {
    subscribed.add(req.params.uri);
    return {};
  });
  server.server.setRequestHandler('resources/unsubscribe', async (req) => {
    subscribed.delete(req.params.uri);
    return {};
  });
  const flush = () => {
    timer = undefined;
    for (const uri of pending) void server.server.sendResourceUpdated({ uri }).catch(() => {});
    pending.clear();
  };
  return watchPaths(
    [mr.layout.agentsDir],
    (path) => {
      hints?.note(path);
      if (subscribed.size === 0) return;
      for (const uri of urisFor(mr.layout.agentsDir, path, subscribed)) pending.add(uri);
      if (pending.size > 0 && !timer) timer = setTimeout(flush, NOTIFY_COALESCE_MS);
    },
    { onError: () => hints?.fail() },
  );
}

export async function serveMcp(mr: Mailroom, agent: string): Promise<void> {
  // Hints only where a watch event is queued by the write itself (inotify): see src/ops/list-kept.ts.
  const hints = process.platform === 'linux' ? new ChangeHints() : undefined;
  const server = buildServer(mr, agent, hints ? { hints } : {});
  const watcher = await wireSubscriptions(server, mr, hints);
  const transport = new StdioServerTransport();
  await server.connect(transport);
  // The client closing stdin ends the session (the SDK's transport reports it as a close).
  await new Promise<void>((resolve) => {
    server.server.onclose = () => resolve();
  });
  await watcher.close();
}
