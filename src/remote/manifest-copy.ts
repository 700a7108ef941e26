// The hub's copy of a far agent's last manifest (manifest-delta.ts), kept in
// .mailroom/sync/<host>.far-manifest.json as {"generation", "agents", "manifest"}: only a manifest
// that passed every check (checkManifest and the names, agent.ts) is kept, so a copy read back is
// trusted as checked for those agents. Advisory like every cache here: a missing, old or damaged
// copy costs one whole manifest, never a wrong one.

import { closeSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../store/atomic.js';
import { isGeneration } from './manifest-delta.js';
import { checkManifest, type Manifest } from './protocol.js';
import { WriteBehind } from './write-behind.js';

/** How much of the file's head holds its generation and agents (read before connecting). */
const HEAD_BYTES = 64 * 1024;

/** A manifest kept by either side: its generation, the agents it covers (joined by newlines), itself. */
export interface KeptManifest {
  generation: string;
  agents: string;
  manifest: Manifest;
}

/** The one file format both sides keep a manifest in: generation and agents first (read from the head). */
export const keptText = (k: KeptManifest): string =>
  JSON.stringify({ generation: k.generation, agents: k.agents, manifest: k.manifest });

/** A kept manifest read back, checked; undefined for anything else (then the whole manifest is sent). */
export function parseKept(text: string): KeptManifest | undefined {
  try {
    return keptOf(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** A kept manifest out of parsed JSON (its other fields are the caller's), checked; else undefined. */
export function keptOf(parsed: unknown): KeptManifest | undefined {
  const data = (parsed ?? {}) as { generation?: unknown; agents?: unknown; manifest?: unknown };
  const manifest = checkManifest(data.manifest);
  if (!manifest || !isGeneration(data.generation) || typeof data.agents !== 'string') return undefined;
  return { generation: data.generation, agents: data.agents, manifest };
}

export class ManifestCopy {
  private readonly agents: string;
  private held: { generation: string; manifest: Manifest } | undefined;
  private readonly writing = new WriteBehind();

  constructor(
    readonly path: string,
    agents: readonly string[],
    /**
     * A connection kept for many passes (the daemon's) holds its copy in memory and writes the file,
     * which only a later process reads, at most this often (and when the connection closes:
     * WriteBehind).
     */
    private readonly deferMs = 0,
  ) {
    this.agents = agents.join('\n');
  }

  /** Whether this copy is for exactly `agents` (a host whose agents changed starts afresh). */
  covers(agents: readonly string[]): boolean {
    return agents.join('\n') === this.agents;
  }

  /**
   * The generation of the copy held for these agents, or undefined. Read from the file's head,
   * without parsing the rest: it goes into the hello, which leaves before anything else is loaded.
   */
  generation(): string | undefined {
    if (this.held) return this.held.generation;
    let head = '';
    try {
      const fd = openSync(this.path, 'r');
      try {
        const buf = Buffer.alloc(HEAD_BYTES);
        head = buf.toString('utf8', 0, readSync(fd, buf, 0, HEAD_BYTES, 0));
      } finally {
        closeSync(fd);
      }
    } catch {
      return undefined; // none yet
    }
    const m = /^\{"generation":"([0-9a-z-]{1,64})","agents":/.exec(head);
    const agentsField = `"agents":${JSON.stringify(this.agents)},`;
    return m && head.startsWith(agentsField, m[0].length - '"agents":'.length) ? m[1] : undefined;
  }

  /**
   * The copy of `generation` for these agents, or undefined (then the whole manifest is asked for).
   * A load under way is shared: the hub starts one as it asks for the manifest, so that reading and
   * checking 2 MB overlaps the far side's scan, and the reply's handling finds it done.
   */
  load(generation: string): Promise<Manifest | undefined> {
    if (this.held?.generation === generation) return Promise.resolve(this.held.manifest);
    if (this.loading?.generation !== generation) {
      const promise = this.read(generation);
      this.loading = { generation, promise };
      void promise.finally(() => {
        if (this.loading?.promise === promise) this.loading = undefined;
      });
    }
    return this.loading.promise;
  }

  private loading: { generation: string; promise: Promise<Manifest | undefined> } | undefined;

  private async read(generation: string): Promise<Manifest | undefined> {
    const kept = parseKept(await readFile(this.path, 'utf8').catch(() => ''));
    if (kept?.generation !== generation || kept.agents !== this.agents) return undefined;
    // Held from now on, unless a newer one was kept while this was read.
    this.held ??= { generation, manifest: kept.manifest };
    return kept.manifest;
  }

  /** Keep a checked `manifest` as `generation`: in memory now, in the file in the background. */
  keep(generation: string, manifest: Manifest): void {
    if (!isGeneration(generation)) return;
    this.held = { generation, manifest };
    const kept = { generation, agents: this.agents, manifest };
    this.writing.schedule(() => writeFileAtomic(this.path, keptText(kept), { mkdir: true }), this.deferMs);
  }

  /** Waits for the file's write (a held one is written at once), if one is under way. */
  settled(): Promise<void> {
    return this.writing.settled();
  }
}
