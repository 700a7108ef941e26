// What mailroom.yaml may hold (docs/spec.md §5), with messages that name the key and the fix.

import { z } from 'zod';
import { isDuration } from '../duration.js';
import { AGENT_NAME, HOST_NAME } from '../names.js';
import { isSize } from '../size.js';

const duration = (key: string, fallback: string) =>
  z
    .string({ error: `${key}: expected a duration like 90s, 5m, 2h or 1d` })
    .refine(isDuration, { error: `${key}: expected a duration like 90s, 5m, 2h or 1d` })
    .default(fallback);

const size = (key: string, fallback: string) =>
  z
    .string({ error: `${key}: expected a size like 512KB, 4MB or 1GB` })
    .refine(isSize, { error: `${key}: expected a size like 512KB, 4MB or 1GB` })
    .default(fallback);

/**
 * Bounds on what a file (from a far host, or a local writer) may cost (docs/spec.md §6): a file over
 * a limit is skipped and reported by name; the pass goes on.
 */
export const LimitsSchema = z.strictObject(
  {
    /** One task file (`<id>.md`), read whole to be parsed. */
    task_file: size('limits.task_file', '4MB'),
    /** One file inside `<id>.files/` (or any other plain file of an agent), streamed. */
    attachment_file: size('limits.attachment_file', '256MB'),
    /** Bytes read from one host in one sync pass; the rest waits for the next pass. */
    sync_pass: size('limits.sync_pass', '1GB'),
  },
  {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `unknown key(s) ${iss.keys.join(', ')}; limits takes task_file, attachment_file, sync_pass`
        : 'expected { task_file, attachment_file, sync_pass }',
  },
);

export const AgentConfigSchema = z.strictObject(
  {
    host: z.string({ error: 'host: expected the name of a host under hosts:' }).regex(HOST_NAME).optional(),
    role: z.string({ error: 'role: expected a role name' }).min(1).optional(),
    /**
     * On a far machine: this agent lives on another machine (the hub). A task sent to it waits in
     * the sender's outbox until sync carries it there (docs/spec.md §6, sending across machines).
     */
    elsewhere: z.boolean({ error: 'elsewhere: use true or false' }).optional(),
  },
  { error: 'expected { host, role, elsewhere } or {}' },
);

export const HostConfigSchema = z.strictObject(
  {
    ssh: z.string({ error: 'ssh: expected user@host[:port] or an alias from ~/.ssh/config' }).min(1),
    root: z.string({ error: 'root: expected the mailroom folder on that machine' }).min(1),
    identity: z.string({ error: 'identity: expected a path to a private key file' }).optional(),
    known_hosts: z.string({ error: 'known_hosts: expected a path' }).default('~/.ssh/known_hosts'),
    mailroom: z
      .string({ error: 'mailroom: expected the command that runs mailroom on that machine' })
      .min(1)
      .optional(),
    /**
     * How long the far agent stays after a pass, for the next connection (docs/sync.md, "A far agent
     * that stays"); `0s`: never. Unset: $MAILROOM_KEEP_AGENT, else 10m (src/remote/kept-agent.ts).
     */
    keep_agent: z
      .string({ error: 'keep_agent: expected a duration like 10m, or 0s for never' })
      .refine(isDuration, { error: 'keep_agent: expected a duration like 10m, or 0s for never' })
      .optional(),
  },
  { error: 'expected { ssh, root }' },
);

export const SyncConfigSchema = z.strictObject({ interval: duration('sync.interval', '60s') });

export const ConfigSchema = z.strictObject({
  agents: z
    .record(
      z.string().regex(AGENT_NAME, { error: 'agent names are lowercase letters, digits, - and _' }),
      AgentConfigSchema.nullable(),
    )
    .default({}),
  hosts: z
    .record(
      z.string().regex(HOST_NAME, { error: 'host names are lowercase letters, digits, - and _' }),
      HostConfigSchema,
    )
    .default({}),
  sync: SyncConfigSchema.default({ interval: '60s' }),
  escalate_to: z
    .string({ error: 'escalate_to: expected the name of an agent' })
    .regex(AGENT_NAME, {
      error: 'escalate_to: expected the name of an agent (lowercase letters, digits, - and _)',
    })
    .default('human'),
  notify: z
    .string({ error: 'notify: expected a shell command (task fields arrive as MAILROOM_* variables)' })
    .optional(),
  /** Least time between two notify runs for one host; escalations meanwhile are coalesced. */
  notify_interval: duration('notify_interval', '1m'),
  on_stuck: z
    .enum(['escalate', 'reassign'], { error: 'on_stuck: use escalate or reassign' })
    .default('escalate'),
  retry_backoff: duration('retry_backoff', '1m'),
  retry_elsewhere: z.boolean({ error: 'retry_elsewhere: use true or false' }).default(false),
  limits: LimitsSchema.default({ task_file: '4MB', attachment_file: '256MB', sync_pass: '1GB' }),
});

export type Config = z.infer<typeof ConfigSchema>;
export type AgentConfig = z.infer<typeof AgentConfigSchema>;
export type HostConfig = z.infer<typeof HostConfigSchema>;
export type LimitsConfig = z.infer<typeof LimitsSchema>;
