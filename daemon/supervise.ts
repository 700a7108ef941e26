// Supervision after each pass (docs/supervisor.md): decide on the tasks the pass left where they
// are, then apply each action under the task's lock, only if deciding again on the task as read
// there gives the same action (a worker may have acted since the scan). An escalation runs the
// user's notify command. A refused action is logged and decided again next pass.

import type { DaemonStatus } from '../src/daemon-status.js';
import { MailroomError } from '../src/errors.js';
import type { Mailroom } from '../src/mailroom.js';
import { escalate, reassign, retry, SYSTEM_ACTOR } from '../src/ops/lifecycle.js';
import type { LoadedTask } from '../src/store/scan.js';
import { type Decision, decide, type SupervisorPolicy } from '../src/supervisor/decide.js';
import { runNotify } from '../src/supervisor/notify.js';
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
      await apply(mr, action, stillDue(mr, policy, action), status, say);
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
    await notify(mr, r.after, action.reason);
  }
}

/** Run the user's notify command for an escalation, and log how it went (best effort). */
async function notify(mr: Mailroom, after: LoadedTask, reason: string): Promise<void> {
  if (!mr.config.notify) return;
  const t = after.parsed.task;
  const outcome = await runNotify(
    mr.config.notify,
    {
      id: t.id,
      title: t.title,
      reason,
      from: t.from,
      to: t.to,
      state: t.state as TaskState,
      priority: t.priority,
      path: after.path,
      root: mr.layout.root,
    },
    { cwd: mr.layout.root },
  );
  await mr.log({
    type: outcome.ok ? 'notify.sent' : 'notify.failed',
    id: t.id,
    code: outcome.code,
    ...(outcome.ok ? {} : { reason: outcome.stderr.slice(0, 500) }),
  });
}
