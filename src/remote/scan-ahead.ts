// When a far agent scans ahead (far-scan.ts, scanAhead; docs/sync.md, "Scanning ahead"): once its
// folders have been quiet for QUIET_MS and it is idle, one scan at a time, and never more than a
// fifth of the time. Used by the agent a daemon follows (serve.ts) and by the agent that stays
// between connections (resident.ts).

/** How long the folders must be quiet (no change heard) before a scan ahead starts. */
const QUIET_MS = 10;
/** After a scan ahead, the next waits this many times as long as it took. */
const SPACING = 4;

export class ScanAheadTimer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private notBefore = 0;
  private stopped = false;

  /**
   * @param scan starts a scan ahead (undefined: nothing to scan for); settles when it is done
   * @param idle whether the agent has nothing in hand (a scan waits until it has not)
   */
  constructor(
    private readonly scan: () => Promise<void> | undefined,
    private readonly idle: () => boolean,
  ) {}

  /** Something changed (or the agent just became idle): a scan ahead follows when all is quiet. */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), Math.max(QUIET_MS, this.notBefore - Date.now()));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopped) return;
    if (!this.idle()) {
      this.poke();
      return;
    }
    const began = Date.now();
    const running = this.scan();
    if (!running) return;
    this.running = true;
    void running.finally(() => {
      this.running = false;
      // Folders that never stay quiet for long must not keep a core scanning.
      this.notBefore = Date.now() + SPACING * (Date.now() - began);
      if (this.again) {
        this.again = false;
        this.poke();
      }
    });
  }
}
