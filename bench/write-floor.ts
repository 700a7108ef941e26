// The floor under a first copy on this disk: N files of the fixture's size written into 20 folders,
// no network, no hashing, no parsing, 64 at a time, two ways:
//   - as rsync writes them: temp file, rename (no fsync);
//   - as the contract requires (docs/spec.md §6 and rule "every write is temp + fsync + rename"), the
//     way a far agent creates a new file: temp file, fsync, link(2), unlink, one shared fsync of the
//     folder per batch.
// What mailroom's first copy spends above the second is its own work; what the second spends above
// the first is the price of the durability promise, which rsync does not make.

import { constants } from 'node:fs';
import { link, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { mapLimit } from '../src/map-limit.js';

export interface WriteFloor {
  files: number;
  /** temp + rename, as rsync. */
  renameMs: number;
  /** temp + fsync + link + unlink, folder fsynced. */
  durableMs: number;
}

const FOLDERS = 20;

async function writeAll(dir: string, files: number, bytes: Buffer, durable: boolean): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  for (let f = 0; f < FOLDERS; f++) await mkdir(join(dir, `a${f}`), { recursive: true });
  const started = performance.now();
  await mapLimit(
    Array.from({ length: files }, (_, i) => i),
    64,
    async (i) => {
      const folder = join(dir, `a${i % FOLDERS}`);
      const dest = join(folder, `t${i}.md`);
      const temp = join(folder, `.t${i}.md.tmp`);
      const fh = await open(temp, 'wx');
      try {
        await fh.writeFile(bytes);
        if (durable) await fh.sync();
      } finally {
        await fh.close();
      }
      if (durable) {
        await link(temp, dest);
        await unlink(temp);
      } else await rename(temp, dest);
    },
  );
  if (durable)
    for (let f = 0; f < FOLDERS; f++) {
      const dh = await open(join(dir, `a${f}`), constants.O_RDONLY | constants.O_DIRECTORY);
      await dh.sync();
      await dh.close();
    }
  const ms = performance.now() - started;
  await rm(dir, { recursive: true, force: true });
  return ms;
}

export async function writeFloor(dir: string, files: number, fileBytes: number): Promise<WriteFloor> {
  const bytes = Buffer.alloc(fileBytes, 'x');
  return {
    files,
    renameMs: await writeAll(join(dir, 'floor-rename'), files, bytes, false),
    durableMs: await writeAll(join(dir, 'floor-durable'), files, bytes, true),
  };
}
