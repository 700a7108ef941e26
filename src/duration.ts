// Durations as people write them in task files and configuration: 90s, 5m, 2h, 1d (and 500ms).

import { usageError } from './errors.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

export function isDuration(text: string): boolean {
  return DURATION.test(text.trim());
}

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

export function checkDuration(text: string, what: string): string {
  if (parseDurationMs(text) === undefined) {
    throw usageError(`invalid ${what} ${JSON.stringify(text)}`, 'durations look like 90s, 5m, 2h or 1d');
  }
  return text.trim();
}

/** A short human form of a span of milliseconds: 45s, 12m, 3h, 2d. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}
