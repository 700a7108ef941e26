// The far-agent framing (src/remote/frame.ts): whole messages out of any chunking, and a hostile
// length refused from the header alone (before its body is buffered).

import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameError, FrameReader } from '../../src/remote/frame.js';
import { agentPath, mismatchMessage, taskPathOk } from '../../src/remote/protocol.js';

describe('frame reader', () => {
  it('gives back messages split at any byte, and several in one chunk', () => {
    const bytes = Buffer.concat([encodeFrame({ a: 1 }), encodeFrame({ b: 'two' }), encodeFrame([3])]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const r = new FrameReader();
      const out = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
      expect(out).toEqual([{ a: 1 }, { b: 'two' }, [3]]);
      expect(r.pending).toBe(0);
    }
  });

  it('decodes characters of 2 to 4 bytes split between chunks at any byte, and frames fed a byte at a time', () => {
    const messages = [{ t: 'é ü ß' }, { t: '€ 中文 ✓' }, { t: '😀 🚀 𝄞' }, { t: '' }, []];
    const bytes = Buffer.concat(messages.map((m) => encodeFrame(m)));
    for (let a = 0; a <= bytes.length; a += 3)
      for (let b = a; b <= bytes.length; b += 5) {
        const r = new FrameReader();
        const out = [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)].flatMap((c) => r.push(c));
        expect(out).toEqual(messages);
      }
    const r = new FrameReader();
    const out: unknown[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...r.push(bytes.subarray(i, i + 1)));
    expect(out).toEqual(messages);
    expect(r.pending).toBe(0);
  });

  it('a frame over the cap is refused from its 4-byte length, before any body arrives', () => {
    const r = new FrameReader(1000);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(1001);
    expect(() => r.push(head)).toThrow(FrameError);
    expect(() => new FrameReader(1000).push(head)).toThrow(/1001 bytes, over the cap of 1000/);
  });

  it('a frame that is not JSON is refused', () => {
    const body = Buffer.from('{not json');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    expect(() => new FrameReader().push(Buffer.concat([head, body]))).toThrow(/not JSON/);
  });

  it('half a frame is held, not given out', () => {
    const r = new FrameReader();
    const f = encodeFrame({ x: 'y'.repeat(100) });
    expect(r.push(f.subarray(0, 50))).toEqual([]);
    expect(r.pending).toBe(50);
  });
});

describe('far-side names', () => {
  it.each([
    ['agents/research/inbox/T1.md', true],
    ['agents/research/AGENT.md', true],
    ['agents/research/inbox/T1.files/out/x.txt', true],
    ['agents/other/inbox/T1.md', false], // not one of the host's agents
    ['agents/research/inbox/../../../etc/passwd', false],
    ['agents/research/./inbox/T1.md', false],
    ['agents/research//T1.md', false],
    ['agents/research', false],
    ['/agents/research/inbox/T1.md', false],
    ['agents/research/inbox/a\0b', false],
  ])('agentPath(%j) is %s', (path, ok) => {
    expect(agentPath(path, ['research'])).toBe(ok);
  });

  it('a task path must be its id in a box of a host agent', () => {
    expect(taskPathOk('T1', 'agents/research/inbox/T1.md', ['research'])).toBe(true);
    expect(taskPathOk('T2', 'agents/research/inbox/T1.md', ['research'])).toBe(false);
    expect(taskPathOk('T1', 'agents/research/drafts/T1.md', ['research'])).toBe(false);
    expect(taskPathOk('a/b', 'agents/research/inbox/a/b.md', ['research'])).toBe(false);
    expect(taskPathOk('..', 'agents/research/inbox/...md', ['research'])).toBe(false);
  });

  it('a version mismatch names the side to upgrade', () => {
    expect(mismatchMessage('vps', { protocol: 0, version: '0.0.1' }, '0.1.0')).toMatch(
      /^upgrade mailroom on vps/,
    );
    expect(mismatchMessage('vps', { protocol: 9, version: '9.0.0' }, '0.1.0')).toMatch(
      /^upgrade mailroom on this machine/,
    );
  });
});
