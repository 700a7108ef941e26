// loadConfig keeps a valid mailroom.yaml's result in .mailroom/config-cache.json, with the file's
// text and the build: the cache must never answer for a file that changed (by one byte, size kept),
// for an invalid file, or for another build's result, and a damaged cache only costs a parse.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/parse.js';
import { tempDir } from '../support/cli.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let path: string;
let cache: string;
const TEXT = 'agents:\n  dispatch: {}\n  human: {}\n  research: { role: research }\nescalate_to: human\n';

beforeEach(async () => {
  tmp = await tempDir('config-cache');
  path = join(tmp.dir, 'mailroom.yaml');
  cache = join(tmp.dir, '.mailroom', 'config-cache.json');
  await mkdir(join(tmp.dir, '.mailroom'));
  await writeFile(path, TEXT);
});
afterEach(async () => tmp.cleanup());

describe('the configuration cache', () => {
  it('keeps the result of a valid file and gives it back, equal to a parse', async () => {
    const first = await loadConfig(path);
    const kept = JSON.parse(await readFile(cache, 'utf8')) as { text: string; config: unknown };
    expect(kept.text).toBe(TEXT);
    expect(kept.config).toEqual(first);
    expect(await loadConfig(path)).toEqual(parseConfig(TEXT, path));
  });

  it('never answers for a changed file, even one of the same size, nor for an invalid one', async () => {
    await loadConfig(path);
    const same = TEXT.replace('role: research', 'role: rEsearch');
    expect(same.length).toBe(TEXT.length);
    await writeFile(path, same);
    expect((await loadConfig(path)).agents.research?.role).toBe('rEsearch');
    await writeFile(path, TEXT.replace('escalate_to: human', 'escalate_to: nobody'));
    await expect(loadConfig(path)).rejects.toThrow(/escalate_to: no agent named "nobody"/);
  });

  it("ignores another build's result and a damaged cache file", async () => {
    await loadConfig(path);
    const kept = JSON.parse(await readFile(cache, 'utf8')) as { build: string; text: string };
    const other = { ...parseConfig(TEXT, path), escalate_to: 'research' };
    // The same text under another build, then this build's stamp with another text: both ignored.
    await writeFile(cache, JSON.stringify({ build: '0-0', text: TEXT, config: other }));
    expect((await loadConfig(path)).escalate_to).toBe('human');
    await writeFile(cache, JSON.stringify({ build: kept.build, text: `${TEXT}\n`, config: other }));
    expect((await loadConfig(path)).escalate_to).toBe('human');
    await writeFile(cache, '{"build": ');
    expect((await loadConfig(path)).escalate_to).toBe('human');
    // The damaged file was replaced by a whole one.
    expect(JSON.parse(await readFile(cache, 'utf8'))).toMatchObject({ build: kept.build, text: TEXT });
  });
});
