// Routing: a task moved between boxes without a change to its bytes, under its lock (the daemon's
// finish-to-outbox and outbox-to-sender moves; where to is task/place.ts's decision). The event says
// what the move meant. Refused, writing nothing, when the task's state changed since it was judged.

import { MailroomError } from '../errors.js';
import type { Mailroom } from '../mailroom.js';
import type { TaskRef } from '../store/scan.js';
import { updateTask } from '../store/tasks.js';
import { applyTaskEdit } from '../task/edit.js';
import { isoSeconds } from '../task/id.js';
import type { Place } from '../task/place.js';
import type { TaskState } from '../task/state.js';

export type RouteEvent = 'task.moved' | 'task.routed';

/**
 * Move the task at `ref`, judged in `state`, to `to`. Throws TaskExistsError (store/tasks.ts) when
 * the destination holds another copy; the task then stays where it is.
 */
export async function routeTask(
  mr: Mailroom,
  ref: TaskRef,
  state: TaskState,
  to: Place,
  type: RouteEvent,
  note?: string,
): Promise<void> {
  const r = await updateTask(mr, ref, (current) => {
    if (current.parsed.task.state !== state)
      throw new MailroomError('refused', `task ${ref.id} changed while being moved; next pass`);
    // A delivery from another machine says so in history (docs/spec.md §6); its time renews the lease.
    const text =
      note === undefined
        ? current.text
        : applyTaskEdit(current.parsed.file, {
            history: [{ state, at: isoSeconds(mr.now()), by: 'mailroom', note }],
          });
    return { text, moveTo: to };
  });
  await mr.log({
    type,
    id: ref.id,
    agent: to.agent,
    from: ref.agent,
    to: to.agent,
    path: mr.layout.rel(r.after.path),
    ...(note === undefined ? {} : { note }),
  });
}
