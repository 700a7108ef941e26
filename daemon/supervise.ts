// Supervision after each pass (docs/supervisor.md): decide on the tasks the pass left where they
// are, then apply each action under the task's lock, only if deciding again on the task as read
// there gives the same action (a worker may have acted since the scan). An escalation enqueues a
// notice for the user's notify command (src/supervisor/notify-queue.ts: per host rate-limited and
// coalesced; the pass never waits on it). A refused action is logged and decided again next pass.

import type { DaemonStatus } from '../src/daemon-status.js';
import { parseDurationMs } from '../src/duration.js';
import { MailroomError } from '../src/errors.js';
import type { Mailroom } from '../src/mailroom.js';
import { escalate, reassign, retry, SYSTEM_ACTOR } from '../src/ops/lifecycle.js';
import type { LoadedTask } from '../src/store/scan.js';
import { type Decision, decide, type SupervisorPolicy } from '../src/supervisor/decide.js';
import { type NotifyFields, runNotify } from '../src/supervisor/notify.js';
import { type NotifyJob, NotifyQueue } from '../src/supervisor/notify-queue.js';
import { policyFromConfig } from '../src/supervisor/policy.js';
import { reassignNote } from '../src/supervisor/reasons.js';
import type { TaskState } from '../src/task/state.js';
import type { SeenTask } from './act.js';

type Action = Decision['actions'][number];
type Counters = Pick<DaemonStatus, 'escalated' | 'reassigned' | 'retried'>;

export async function supervise(
  mr: Mailroom,
  tasks: SeenTask[],
  status: Counters,
  say: (line: string) => void,
  notices: NotifyQueue,
): Promise<Decision> {
  const policy = policyFromConfig(mr.config);
  const decision = decide(
    tasks.map((t) => ({ id: t.id, agent: t.agent, box: t.box, task: t.task })),
    policy,
    mr.now(),
  );
  for (const down of decision.workerDown)
    await mr.log({ type: 'worker.down', agent: down.agent, id: down.id });
  for (const action of decision.actions) {
    try {
      await apply(mr, action, stillDue(mr, policy, action), status, say, notices);
    } catch (err) {
      // The task changed under us (a person acted first): the next pass decides again.
      const message = err instanceof MailroomError ? err.message : String(err);
      await mr.log({ type: 'supervisor.skipped', id: action.id, reason: message });
    }
  }
  return decision;
}

/** Re-decide on the task as read under its lock: act only if the same action is still due. */
function stillDue(mr: Mailroom, policy: SupervisorPolicy, action: Action) {
  return (t: LoadedTask): boolean => {
    const again = decide([{ id: t.id, agent: t.agent, box: t.box, task: t.parsed.task }], policy, mr.now())
      .actions[0];
    return (
      again?.kind === action.kind &&
      (again.kind !== 'reassign' || (action.kind === 'reassign' && again.to === action.to))
    );
  };
}

async function apply(
  mr: Mailroom,
  action: Action,
  onlyIf: (t: LoadedTask) => boolean,
  status: Counters,
  say: (line: string) => void,
  notices: NotifyQueue,
): Promise<void> {
  if (action.kind === 'reassign') {
    const note = reassignNote(action.from, action.to, action.reason);
    await reassign(mr, action.id, action.to, { system: SYSTEM_ACTOR, note, onlyIf });
    status.reassigned++;
    say(`reassigned ${action.id} from ${action.from} to ${action.to}: ${action.reason}`);
  } else if (action.kind === 'retry') {
    await retry(mr, action.id, { system: SYSTEM_ACTOR, to: action.to, note: action.reason, onlyIf });
    status.retried++;
    say(`retrying ${action.id} on ${action.to}: ${action.reason}`);
  } else {
    const r = await escalate(mr, action.id, action.reason, { onlyIf });
    status.escalated++;
    say(`escalated ${action.id} to ${mr.config.escalate_to}: ${action.reason}`);
    if (mr.config.notify) notices.enqueue(noticeFor(mr, r.after, action.reason));
  }
}

/** The notice for an escalated task, keyed by the machine of the agent it was with. */
function noticeFor(mr: Mailroom, after: LoadedTask, reason: string): NotifyJob {
  const t = after.parsed.task;
  const fields: NotifyFields = {
    id: t.id,
    title: t.title,
    reason,
    from: t.from,
    to: t.to,
    state: t.state as TaskState,
    priority: t.priority,
    path: after.path,
    root: mr.layout.root,
  };
  return { host: mr.config.agents[t.to]?.host ?? 'here', fields };
}

/** The daemon's notice queue: the user's notify command, one run at a time, logged. */
export function noticeQueue(mr: Mailroom): NotifyQueue {
  return new NotifyQueue({
    run: (fields) => runNotify(mr.config.notify ?? 'true', fields, { cwd: mr.layout.root }),
    intervalMs: () => parseDurationMs(mr.config.notify_interval) ?? 60_000,
    onSent: (fields, outcome, tasks) =>
      mr.log({
        type: outcome.ok ? 'notify.sent' : 'notify.failed',
        id: fields.id,
        code: outcome.code,
        ...(tasks > 1 ? { note: fields.title } : {}),
        ...(outcome.ok ? {} : { reason: outcome.stderr.slice(0, 500) }),
      }),
  });
}
