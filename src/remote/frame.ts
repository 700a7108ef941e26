// Framing of the far-agent protocol (docs/sync.md, "The far agent"): every message is a 4-byte
// big-endian length followed by that many bytes of UTF-8 JSON. Pure: bytes in, messages out. A frame
// over the cap is refused from its length alone, before its body is buffered, so a hostile peer cannot
// make the reader hold more than the cap.

import { StringDecoder } from 'node:string_decoder';

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
    while (this.buffered >= 4) {
      const length = this.head();
      if (length > this.maxBytes)
        throw new FrameError(`a frame of ${length} bytes, over the cap of ${this.maxBytes}`);
      if (this.buffered < 4 + length) break;
      const body = this.take(length);
      try {
        out.push(JSON.parse(body));
      } catch {
        throw new FrameError('a frame that is not JSON');
      }
    }
    return out;
  }

  /** The length in the next frame's head (its 4 bytes may lie across chunks). */
  private head(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.alloc(4);
    let n = 0;
    for (const c of this.chunks) {
      n += c.copy(head, n, 0, Math.min(c.length, 4 - n));
      if (n === 4) break;
    }
    return head.readUInt32BE(0);
  }

  /**
   * The next frame's body as text, decoded chunk by chunk: a frame of megabytes (a manifest) is never
   * copied into one Buffer, whose memory the C allocator kept after it was freed (docs/performance.md,
   * "Idle memory").
   */
  private take(length: number): string {
    const decoder = new StringDecoder('utf8');
    let body = '';
    let skip = 4; // the head's bytes
    let need = length;
    let used = 0;
    let rest: Buffer | undefined;
    while (skip + need > 0) {
      const c = this.chunks[used++]!;
      const from = Math.min(skip, c.length);
      skip -= from;
      const to = Math.min(c.length, from + need);
      if (to > from) body += decoder.write(c.subarray(from, to));
      need -= to - from;
      if (skip + need === 0 && to < c.length) rest = c.subarray(to);
    }
    this.chunks = rest ? [rest, ...this.chunks.slice(used)] : this.chunks.slice(used);
    this.buffered -= 4 + length;
    return body + decoder.end();
  }
}
