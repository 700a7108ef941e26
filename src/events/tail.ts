// Reading the event log as it grows: a byte offset into the current file, so a long-running reader
// (the board) reads only what was appended since it last looked. Only whole lines are returned, cut
// at a byte (never inside a character); a line being appended right now waits for the next read.
//
// The log rotates (src/events/log.ts): the current file is renamed away and a new one started. The
// first read, and the first read after a rotation (a new inode, or a shorter file), read every kept
// file again, oldest first, and set `restarted` so the caller folds from scratch: lines appended to
// the old file just before it was renamed are not lost that way.

import { open as openFile } from 'node:fs/promises';
import { errnoCode } from '../errors.js';
import { type MailroomEvent, parseEvents, readEventFile, rotatedFiles } from './log.js';

export class EventTail {
  private offset = 0;
  private ino: number | undefined;
  private partial: Buffer = Buffer.alloc(0);
  /** Set by read() when it read the whole log again: earlier events were returned before and count no more. */
  restarted = false;

  constructor(private readonly eventsPath: string) {}

  /** The events appended since the last read (the whole kept log on the first). */
  async read(): Promise<MailroomEvent[]> {
    this.restarted = false;
    let fh: Awaited<ReturnType<typeof openFile>>;
    try {
      fh = await openFile(this.eventsPath, 'r');
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      return [];
    }
    try {
      const { size, ino } = await fh.stat();
      const older: MailroomEvent[] = [];
      if (this.ino !== ino || size < this.offset) {
        this.restarted = this.ino !== undefined;
        this.ino = ino;
        this.offset = 0;
        this.partial = Buffer.alloc(0);
        for (const file of await rotatedFiles(this.eventsPath)) older.push(...(await readEventFile(file)));
      }
      if (size === this.offset) return older;
      const buf = Buffer.alloc(size - this.offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
      this.offset += bytesRead;
      const all = Buffer.concat([this.partial, buf.subarray(0, bytesRead)]);
      const cut = all.lastIndexOf(0x0a) + 1;
      this.partial = all.subarray(cut);
      return [...older, ...parseEvents(all.subarray(0, cut).toString('utf8'))];
    } finally {
      await fh.close();
    }
  }
}
