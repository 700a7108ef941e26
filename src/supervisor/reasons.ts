// The sentences the supervisor writes: each goes into a task's history note and the notify message,
// where a person reads it. Invariant: a reason is one line (newlines in an error message would break
// a one-line notification) and never starts with "reassigned", which the ping-pong count looks for.

const MAX_MESSAGE = 200;

const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
] as const;

/** A span of milliseconds in at most two adjacent units: 1m, 2m, 30m 1s, 1h 5m, 500ms. */
export function formatSpan(ms: number): string {
  const total = Math.max(0, Math.floor(ms));
  for (const [i, [unit, size]] of UNITS.entries()) {
    const n = Math.floor(total / size);
    if (n === 0) continue;
    const sub = UNITS[i + 1];
    const m = sub === undefined ? 0 : Math.floor((total % size) / sub[1]);
    return sub === undefined || m === 0 ? `${n}${unit}` : `${n}${unit} ${m}${sub[0]}`;
  }
  return `${total}ms`;
}

/** An error message as one short line. */
export function oneLine(message: string | undefined): string {
  const text = (message ?? '').replace(/\s+/g, ' ').trim();
  if (text === '') return 'no error message';
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}

/** Every reassignment's history note starts with this; decide.ts counts them to stop ping-pong. */
export const REASSIGNED = 'reassigned';

/**
 * The history note for a reassignment the supervisor makes. The daemon must pass this (not the bare
 * reason) as the reassign op's note, or the ping-pong bound would not see the move.
 */
export const reassignNote = (from: string, to: string, reason: string): string =>
  `${REASSIGNED} from ${from} to ${to}: ${reason}`;

export const ackTimeoutReason = (ackTimeout: string, worker: string): string =>
  `not acknowledged within ${ackTimeout} (worker ${worker} presumed down)`;

export const runTimeoutReason = (idleMs: number, runTimeout: string): string =>
  `no progress for ${formatSpan(idleMs)} (run_timeout ${runTimeout})`;

/** Appended when a reassignment was possible but the task has already gone round its role. */
export const roleExhausted = (moves: number, role: string): string =>
  `; already reassigned ${moves} time${moves === 1 ? '' : 's'} within role ${role}`;

export const notRetryableReason = (message: string | undefined): string =>
  `failed and not retryable: ${oneLine(message)}`;

export const attemptsUsedReason = (attempt: number, max: number, message: string | undefined): string =>
  `failed ${attempt} of ${max} attempts: ${oneLine(message)}`;

export const retryReason = (
  next: { attempt: number; max: number; backoffMs: number; elsewhere?: string },
  message: string | undefined,
): string =>
  `retry${next.elsewhere === undefined ? '' : ` on ${next.elsewhere}`} after a ${formatSpan(next.backoffMs)} backoff, attempt ${next.attempt} of ${next.max}: ${oneLine(message)}`;
