// The floor under a first copy on this disk: N files of the fixture's size written into 20 folders,
// no network, no hashing, no parsing, three ways:
//   - as rsync writes them: temp file, rename (no fsync), 64 at a time;
//   - as the contract requires (docs/spec.md §6 and rule "every write is temp + fsync + rename"):
//     temp file, fsync, link(2), unlink, 64 at a time, and each folder fsynced once at the end;
//   - as the far agent creates them: src/endpoint/local.ts createNew, 256 at a time (the far agent's
//     requests in hand). On top of the second, each file counts as written only once its folder's
//     entry is on disk (a folder fsync shared by the writes waiting for it): the hub records the file
//     as on both sides when the far agent says so, and a file it records that a crash then takes
//     away would look deleted there at the next pass. And the two looks after the link (the lock,
//     the inode).
// What mailroom's first copy spends above the third is the rest of its work (network, hashing,
// parsing, state); what the second spends above the first is the price of the durability promise,
// which rsync does not make.

import { constants } from 'node:fs';
import { link, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { localEndpoint } from '../src/endpoint/local.js';
import { mapLimit } from '../src/map-limit.js';

export interface WriteFloor {
  files: number;
  /** temp + rename, as rsync. */
  renameMs: number;
  /** temp + fsync + link + unlink, folder fsynced. */
  durableMs: number;
  /** The far agent's create (LocalEndpoint.createNew), 256 at once. */
  createMs: number;
}

const FOLDERS = 20;

/** ms taken by `work` on `files` files in FOLDERS fresh folders under `dir` (removed after), `limit` at once. */
async function timed(
  dir: string,
  files: number,
  limit: number,
  work: (i: number, folder: string) => Promise<void>,
  after?: () => Promise<void>,
): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  for (let f = 0; f < FOLDERS; f++) await mkdir(join(dir, `a${f}`), { recursive: true });
  const started = performance.now();
  await mapLimit(
    Array.from({ length: files }, (_, i) => i),
    limit,
    (i) => work(i, `a${i % FOLDERS}`),
  );
  await after?.();
  const ms = performance.now() - started;
  await rm(dir, { recursive: true, force: true });
  return ms;
}

function writeAll(dir: string, files: number, bytes: Buffer, durable: boolean): Promise<number> {
  const syncFolders = async () => {
    for (let f = 0; f < FOLDERS; f++) {
      const dh = await open(join(dir, `a${f}`), constants.O_RDONLY | constants.O_DIRECTORY);
      await dh.sync();
      await dh.close();
    }
  };
  return timed(
    dir,
    files,
    64,
    async (i, folder) => {
      const dest = join(dir, folder, `t${i}.md`);
      const temp = join(dir, folder, `.t${i}.md.tmp`);
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
    durable ? syncFolders : undefined,
  );
}

/** The far agent's own create path, with no request, reply or record around it. */
async function createAll(dir: string, files: number, bytes: Buffer): Promise<number> {
  const ep = localEndpoint(dir);
  try {
    return await timed(dir, files, 256, async (i, folder) => {
      const made = await ep.createNew!(`${folder}/t${i}.md`, bytes);
      if (made !== 'created') throw new Error(`write floor: ${folder}/t${i}.md was not created (${made})`);
    });
  } finally {
    await ep.close();
  }
}

export async function writeFloor(dir: string, files: number, fileBytes: number): Promise<WriteFloor> {
  const bytes = Buffer.alloc(fileBytes, 'x');
  return {
    files,
    renameMs: await writeAll(join(dir, 'floor-rename'), files, bytes, false),
    durableMs: await writeAll(join(dir, 'floor-durable'), files, bytes, true),
    createMs: await createAll(join(dir, 'floor-create'), files, bytes),
  };
}
