// Framing of the far-agent protocol (docs/sync.md, "The far agent"): every message is a 4-byte
// big-endian length followed by that many bytes of UTF-8 JSON. Pure: bytes in, messages out. A frame
// over the cap is refused from its length alone, before its body is buffered, so a hostile peer cannot
// make the reader hold more than the cap.

/** The largest frame either side accepts: a batch is cut well below this, one file is under it. */
export const MAX_FRAME_BYTES = 48 * 1024 * 1024;
/** A batch of requests or replies is sent once it holds about this many bytes. */
export const BATCH_BYTES = 1024 * 1024;

export class FrameError extends Error {}

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Collects chunks and gives back whole messages; throws FrameError on an over-cap frame or bad JSON. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxBytes = MAX_FRAME_BYTES) {}

  /** Bytes held of a frame not yet complete (0 between frames). */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): unknown[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: unknown[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      if (this.chunks[0]!.length < 4) this.chunks = [Buffer.concat(this.chunks)];
      const length = this.chunks[0]!.readUInt32BE(0);
      if (length > this.maxBytes)
        throw new FrameError(`a frame of ${length} bytes, over the cap of ${this.maxBytes}`);
      // Joined only once the whole frame is here: a big frame in many chunks is copied once.
      if (this.buffered < 4 + length) break;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const body = all.subarray(4, 4 + length).toString('utf8');
      const rest = all.subarray(4 + length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      try {
        out.push(JSON.parse(body));
      } catch {
        throw new FrameError('a frame that is not JSON');
      }
    }
    return out;
  }
}
