// A best-effort file write that waits for the current turn of the event loop to end (a reply goes
// out first) and runs after the one before it; one scheduled meanwhile replaces it if it has not
// started. For the manifest copies both sides keep (manifest-delta.ts): advisory files, where a
// lost write costs a whole manifest once.

export class WriteBehind {
  private chain: Promise<void> = Promise.resolve();
  private latest = 0;

  schedule(write: () => Promise<void>): void {
    const mine = ++this.latest;
    this.chain = this.chain
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => (mine === this.latest ? write() : undefined)) // else a newer one is on its way
      .catch(() => {});
  }

  /** Waits for what is scheduled (before a process ends). */
  settled(): Promise<void> {
    return this.chain;
  }
}
