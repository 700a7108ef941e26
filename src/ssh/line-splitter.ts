// Splits a byte stream from a far command into lines, with a cap (docs/spec.md §6: every size the far
// host controls is bounded). Each chunk is searched for newlines once, from where the last search
// stopped (linear in the stream's length: a 50 MB line without a newline costs one pass over 50 MB,
// not a rescan of a growing buffer per chunk), and at most `maxLineBytes` are kept: a longer line is
// dropped up to its newline and reported once. Lines are decoded as UTF-8 whole, never per chunk.

const NEWLINE = 0x0a;

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private dropping = false;
  /** Lines dropped for being too long (each reported once through onTooLong). */
  tooLong = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: () => void = () => {},
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      this.keep(chunk.subarray(start, nl === -1 ? chunk.length : nl));
      if (nl === -1) return;
      if (!this.dropping) this.onLine(Buffer.concat(this.parts, this.size).toString('utf8'));
      this.parts = [];
      this.size = 0;
      this.dropping = false;
      start = nl + 1;
    }
  }

  private keep(piece: Buffer): void {
    if (this.dropping || piece.length === 0) return;
    if (this.size + piece.length > this.maxLineBytes) {
      this.dropping = true;
      this.parts = [];
      this.size = 0;
      this.tooLong++;
      this.onTooLong();
      return;
    }
    // A copy: a slice would keep the whole chunk it came from alive.
    this.parts.push(Buffer.from(piece));
    this.size += piece.length;
  }
}
