// One job at a time, plus one more after: the scheduler of the daemon's pass and of each host's sync
// loop. Invariants: runs never overlap; a request during a run asks for exactly one more run right
// after it (however many requests came); after stop() no run starts, and stop() returns once the
// run in flight has ended.

export class SerialRunner {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (epoch ms). */
  private due: number | undefined;

  /**
   * `job` must not throw (it handles its own failures). `wantAgain`, asked when a run ends with
   * another requested, may decline it (a failing sync loop leaves the pace to its backoff).
   */
  constructor(
    private readonly job: () => Promise<void>,
    private readonly wantAgain: () => boolean = () => true,
  ) {}

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Run now, or, when a run is in flight, once more right after it. Resolves when that is done. */
  async run(): Promise<void> {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.job().finally(() => {
      this.running = undefined;
    });
    await this.running;
    if (this.again && !this.stopped) {
      this.again = false;
      if (this.wantAgain()) await this.run();
    }
  }

  /** During a run, ask for one more after it and return true; otherwise false. */
  askAgain(): boolean {
    if (!this.running) return false;
    this.again = true;
    return true;
  }

  /** Run in `delayMs`, unless a run is already due sooner (a deadline only ever moves earlier). */
  schedule(delayMs: number): void {
    if (this.stopped) return;
    const due = Date.now() + delayMs;
    if (this.timer && this.due !== undefined && this.due <= due) return;
    this.setTimer(delayMs, due);
  }

  /** Run in `delayMs`, replacing whatever was due (after a run: the next one at its own pace). */
  reschedule(delayMs: number): void {
    if (this.stopped) return;
    this.setTimer(delayMs, Date.now() + delayMs);
  }

  /** No run starts from now on; waits for the one in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private setTimer(delayMs: number, due: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.due = undefined;
        void this.run();
      },
      Math.max(0, delayMs),
    );
  }
}
