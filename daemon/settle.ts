// The settle rule: a file is judged (reported as unreadable, or completed into a task) only once it
// has stayed the same for SETTLE_MS of the daemon's own clock. mtimes are only compared with
// themselves, so a file stamped in the future (another machine's clock) settles too, and an editor
// truncating then writing, or an agent streaming with `cat >`, is never judged mid-write.

/** How long a file must be unchanged before it is judged unreadable or completed. */
export const SETTLE_MS = 700;

export interface SeenForm {
  size: number;
  mtimeMs: number;
  /** When this form was first seen (daemon clock, ms). */
  since: number;
}

/** path -> the file's size and mtime when first seen in this form, and when. Kept across passes. */
export type SeenForms = Map<string, SeenForm>;

/** One pass's view of the settle rule: answers "settled?" and collects when to look again. */
export class Settling {
  /** When a settling file should be looked at again (ms since epoch). */
  recheckAt: number | undefined;
  /** Forms of files seen for the first time in this pass (new files, or changed since). */
  fresh = 0;

  constructor(
    private readonly seen: SeenForms,
    private readonly now: number,
  ) {}

  /** Was this form of the file already seen SETTLE_MS ago? Records it otherwise. */
  isSettled(path: string, size: number, mtimeMs: number): boolean {
    const prev = this.seen.get(path);
    if (prev && prev.size === size && prev.mtimeMs === mtimeMs) {
      if (this.now - prev.since >= SETTLE_MS) return true;
      this.later(prev.since);
      return false;
    }
    this.seen.set(path, { size, mtimeMs, since: this.now });
    this.fresh++;
    this.later(this.now);
    return false;
  }

  /** The file changed while it was read: forget its form, look again after it settles. */
  unsettled(path: string): void {
    this.seen.delete(path);
    this.later(this.now);
  }

  private later(since: number): void {
    const at = since + SETTLE_MS + 50;
    this.recheckAt = Math.min(this.recheckAt ?? at, at);
  }
}
