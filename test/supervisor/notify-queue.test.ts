// notify out of the pass: per-host rate limit and coalescing, with injected time.

import { describe, expect, it } from 'vitest';
import type { NotifyFields, NotifyOutcome } from '../../src/supervisor/notify.js';
import { coalesce, type NotifyJob, NotifyQueue } from '../../src/supervisor/notify-queue.js';

const fields = (id: string): NotifyFields => ({
  id,
  title: `task ${id}`,
  reason: 'not acknowledged',
  from: 'dispatch',
  to: 'research',
  state: 'queued',
  priority: 'normal',
  path: `/m/agents/human/inbox/${id}.md`,
  root: '/m',
});
const job = (id: string, host = 'vps'): NotifyJob => ({ host, fields: fields(id) });
const ok: NotifyOutcome = { ok: true, code: 0, stderr: '', timedOut: false };

/** A queue on fake time whose runs finish when the test says so. */
function harness(intervalMs: number) {
  let now = 0;
  const timers: { at: number; fn: () => void }[] = [];
  const sent: { fields: NotifyFields; tasks: number }[] = [];
  const finish: (() => void)[] = [];
  const q = new NotifyQueue({
    intervalMs,
    now: () => now,
    setTimer: (fn, ms) => {
      timers.push({ at: now + ms, fn });
      return {};
    },
    clearTimer: () => {
      timers.length = 0;
    },
    run: () => new Promise<NotifyOutcome>((resolve) => finish.push(() => resolve(ok))),
    onSent: (f, _o, tasks) => {
      sent.push({ fields: f, tasks });
    },
  });
  const settle = () => new Promise((r) => setImmediate(r));
  return {
    q,
    sent,
    async finishRuns() {
      while (finish.length > 0) {
        finish.shift()!();
        await settle();
      }
    },
    async advance(ms: number) {
      now += ms;
      for (const t of timers.splice(0).filter((t) => t.at <= now)) t.fn();
      await settle();
    },
  };
}

describe('NotifyQueue', () => {
  it('1,000 escalations on one host: one run at once, the rest coalesced into one notice', async () => {
    const h = harness(60_000);
    for (let i = 0; i < 1000; i++) h.q.enqueue(job(`t${i}`));
    expect(h.q.runs).toBe(1);
    expect(h.q.pending).toBe(999);
    await h.finishRuns();
    expect(h.q.runs).toBe(1); // the host waits for its interval
    await h.advance(60_000);
    expect(h.q.runs).toBe(2);
    await h.finishRuns();
    expect(h.sent.map((s) => s.tasks)).toEqual([1, 999]);
    expect(h.sent[1]!.fields.title).toBe('999 tasks escalated on vps');
    expect(h.sent[1]!.fields.reason).toMatch(/^t1, t2, .*and 979 more/);
    expect(h.q.pending).toBe(0);
  });

  it('hosts are limited separately; one run at a time overall', async () => {
    const h = harness(60_000);
    h.q.enqueue(job('a', 'vps'));
    h.q.enqueue(job('b', 'here'));
    expect(h.q.runs).toBe(1);
    await h.finishRuns();
    expect(h.q.runs).toBe(2); // the other host had not run yet: its turn at once
    await h.finishRuns();
    expect(h.sent.map((s) => s.fields.id)).toEqual(['a', 'b']);
  });

  it('a lone escalation is sent as itself', () => {
    expect(coalesce('vps', [job('x')], 1)).toEqual(fields('x'));
    expect(coalesce('here', [job('x'), job('y')], 2).title).toBe('2 tasks escalated on this machine');
  });

  it('stop: nothing new starts, and the count not sent is returned', async () => {
    const h = harness(60_000);
    h.q.enqueue(job('a'));
    h.q.enqueue(job('b'));
    const stopped = h.q.stop();
    await h.finishRuns();
    expect(await stopped).toBe(1);
    h.q.enqueue(job('c'));
    expect(h.q.runs).toBe(1);
  });
});
