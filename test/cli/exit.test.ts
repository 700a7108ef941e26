// exitWhenWritten (cli/output.ts) ends the process only once standard output and error hold nothing
// unwritten: on macOS a pipe is written asynchronously, and an exit before 'drain' cut output short.

import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { exitWhenWritten } from '../../cli/output.js';

class FakeStream extends EventEmitter {
  constructor(public writableLength: number) {
    super();
  }
}

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe('exitWhenWritten', () => {
  it('exits at once when nothing is pending', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    exitWhenWritten(3, [new FakeStream(0), new FakeStream(0)]);
    expect(exit).toHaveBeenCalledWith(3);
  });

  it('waits for every stream with pending output to drain', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const out = new FakeStream(65_536);
    const err = new FakeStream(10);
    exitWhenWritten(0, [out, err]);
    expect(exit).not.toHaveBeenCalled();
    expect(process.exitCode).toBe(0); // a natural end of the process still gets the code
    out.emit('drain');
    expect(exit).not.toHaveBeenCalled();
    err.emit('drain');
    expect(exit).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledWith(0);
  });
});
