// A best-effort file write that waits for the current turn of the event loop to end (a reply goes
// out first) and runs after the one before it; one scheduled meanwhile replaces it if it has not
// started. For the manifest copies both sides keep (manifest-delta.ts): advisory files, where a
// lost write costs a whole manifest once.
//
// A write may also be held back (`deferMs`): a connection a daemon keeps answers many passes a minute
// and holds its copy in memory, so the file, which only a later process reads, is written at most
// that often; a later write scheduled meanwhile replaces the held one and keeps its wait, and
// `settled` (as the connection ends) writes a held one at once.

/** How often a kept connection's side (the hub's copy, a followed far agent's state) writes its file. */
export const KEPT_WRITE_EVERY_MS = 60_000;

export class WriteBehind {
  private chain: Promise<void> = Promise.resolve();
  private latest = 0;
  private held: { write: () => Promise<void>; timer: NodeJS.Timeout } | undefined;

  schedule(write: () => Promise<void>, deferMs = 0): void {
    if (deferMs <= 0) {
      this.take(); // a held one is older: this one replaces it
      this.enqueue(write);
    } else if (this.held) this.held.write = write;
    else {
      const timer = setTimeout(() => this.release(), deferMs);
      timer.unref();
      this.held = { write, timer };
    }
  }

  /** A write is held back (tests). */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Waits for what is scheduled, a held write written at once (before a process or link ends). */
  settled(): Promise<void> {
    this.release();
    return this.chain;
  }

  private release(): void {
    const write = this.take();
    if (write) this.enqueue(write);
  }

  private take(): (() => Promise<void>) | undefined {
    const held = this.held;
    if (!held) return undefined;
    clearTimeout(held.timer);
    this.held = undefined;
    return held.write;
  }

  private enqueue(write: () => Promise<void>): void {
    const mine = ++this.latest;
    this.chain = this.chain
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => (mine === this.latest ? write() : undefined)) // else a newer one is on its way
      .catch(() => {});
  }
}
