// Reading the event log as it grows: a byte offset, so a long-running reader (the board) reads only
// what was appended since it last looked. Only whole lines are returned, cut at a byte (never inside
// a character); a line being appended right now waits for the next read. A log that shrank was
// replaced by hand: the reader starts over and says so.

import { open as openFile } from 'node:fs/promises';
import { errnoCode } from '../errors.js';
import { type MailroomEvent, parseEvents } from './log.js';

export class EventTail {
  private offset = 0;
  private partial: Buffer = Buffer.alloc(0);
  /** Set by read() when the log was replaced: earlier events no longer count. */
  restarted = false;

  constructor(private readonly eventsPath: string) {}

  /** The events appended since the last read (all of them on the first). */
  async read(): Promise<MailroomEvent[]> {
    this.restarted = false;
    const bytes = await this.appended();
    if (bytes.length === 0) return [];
    const all = Buffer.concat([this.partial, bytes]);
    const cut = all.lastIndexOf(0x0a) + 1;
    this.partial = all.subarray(cut);
    return parseEvents(all.subarray(0, cut).toString('utf8'));
  }

  private async appended(): Promise<Buffer> {
    let fh: Awaited<ReturnType<typeof openFile>>;
    try {
      fh = await openFile(this.eventsPath, 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return Buffer.alloc(0);
      throw err;
    }
    try {
      const { size } = await fh.stat();
      if (size < this.offset) {
        this.offset = 0;
        this.partial = Buffer.alloc(0);
        this.restarted = true;
      }
      if (size === this.offset) return Buffer.alloc(0);
      const buf = Buffer.alloc(size - this.offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
      this.offset += bytesRead;
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
}
