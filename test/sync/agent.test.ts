// Sync through the far mailroom agent (`mailroom serve` on an exec channel) over a real sshd: a full
// round, the version handshake, and far sides that break the protocol (docs/sync.md, "The far
// agent"). A broken far side must end the pass with an error naming the host — never a crash, a hang
// or a file written outside the host's agents' folders — and a hub daemon keeps running.

import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentEndpoint } from '../../src/endpoint/agent.js';
import { openMailroom } from '../../src/mailroom.js';
import { farCacheOf } from '../../src/remote/far-scan.js';
import { applyDelta, type ManifestDelta } from '../../src/remote/manifest-delta.js';
import { probeFarAgent, startAgent } from '../../src/remote/probe.js';
import { checkManifest, MAILROOM_VERSION, type Manifest } from '../../src/remote/protocol.js';
import { connectSsh } from '../../src/ssh/connect.js';
import { placeRank } from '../../src/store/heal.js';
import { syncHost } from '../../src/sync/pass.js';
import { loadSyncState } from '../../src/sync/state.js';
import { parseTask } from '../../src/task/parse.js';
import { taskText } from '../../torture/support.js';
import { BIN, REPO } from '../support/cli.js';
import { locations, startDaemon } from '../support/daemon.js';
import { endpointContract } from '../support/endpoint-contract.js';
import { pollUntil } from '../support/poll.js';
import { describeWithSshd, type Sshd } from '../support/sshd.js';
import { type TwoMachines, twoMachines } from '../support/two-machines.js';

const FAR_MAILROOM = `${process.execPath} ${BIN}`;
const fake = (mode: string) => `${process.execPath} ${join(REPO, 'test/fixtures/fake-agent.mjs')} ${mode}`;

/** An SSH connection to the test sshd with its throw-away key, no ssh-agent. */
function connectTo(s: Sshd) {
  return connectSsh({
    host: s.host,
    port: s.port,
    user: s.user,
    identityFiles: [s.clientKeyPath],
    knownHostsPath: s.knownHostsPath,
    agentSocket: null,
  });
}

/** Every file name under `dir`, recursively. */
async function allNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) out.push(e.name);
  return out;
}

describeWithSshd('sync through the far agent', (sshd) => {
  let sides: TwoMachines;
  let hub: string;
  let far: string;
  let cli: TwoMachines['cli'];
  const useFarCommand = (command: string) => sides.setHost({ mailroom: command });
  /** Runs `body` with `command` as the far mailroom, then puts the real one back. */
  const withFarCommand = async (command: string, body: () => Promise<void>) => {
    await useFarCommand(command);
    try {
      await body();
    } finally {
      await useFarCommand(FAR_MAILROOM);
    }
  };

  beforeAll(async () => {
    sides = await twoMachines({ sshd: sshd() });
    ({ hub, far, cli } = sides);
    await useFarCommand(FAR_MAILROOM);
  });
  afterAll(async () => sides.cleanup());

  it('a full sync through the far agent: push, far work, pull; the next pass reads no file again', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await cli(hub, ['send', 'research', `Agent ${i}`, '--as', 'dispatch'])).stdout.trim());
    const push = await cli(hub, ['sync', 'vps', '--json']);
    expect(push.code, push.stderr).toBe(0);
    const pushed = JSON.parse(push.stdout).hosts[0];
    expect(pushed.transport.kind).toBe('agent');
    expect(pushed.pushed).toBe(5);
    for (const id of ids) expect((await locations(far)).get(id)?.join()).toBe('research/inbox');
    expect((await cli(far, ['ack', ids[0]!])).code).toBe(0);
    const pull = await cli(hub, ['sync', 'vps', '--json']);
    expect(pull.code, pull.stderr).toBe(0);
    expect(JSON.parse(pull.stdout).hosts[0].pulled).toBe(1);
    expect(await readFile(join(hub, `agents/research/inbox/${ids[0]}.md`), 'utf8')).toBe(
      await readFile(join(far, `agents/research/inbox/${ids[0]}.md`), 'utf8'),
    );
    // Files settled long ago are hashed once and never again: by the hub here, by the far agent's
    // own cache there (kept across `mailroom serve` processes), so the hub never reads a far file.
    const old = new Date(Date.now() - 60_000);
    for (const root of [hub, far])
      for (const id of ids) await utimes(join(root, `agents/research/inbox/${id}.md`), old, old);
    expect((await cli(hub, ['sync', 'vps'])).code).toBe(0);
    // A file written within the racy window of a scan is hashed again by the next one (docs/sync.md):
    // on a loaded machine one more pass may still read one. Steady state, within a few passes, is none.
    const passes: { moved: number; reads: { local: number; remote: number } }[] = [];
    await pollUntil(
      'a pass that reads no file',
      async () => {
        const again = JSON.parse((await cli(hub, ['sync', 'vps', '--json'])).stdout).hosts[0];
        passes.push({
          moved: again.pushed + again.pulled + again.merged + again.deleted,
          reads: again.reads,
        });
        return again.reads.local === 0 && again.reads.remote === 0;
      },
      60_000,
    );
    expect(passes.length, JSON.stringify(passes)).toBeLessThanOrEqual(3);
    for (const p of passes) expect(p.moved).toBe(0);
    const status = JSON.parse((await cli(hub, ['status', '--json'])).stdout);
    expect(status.hosts[0].transport).toBe('agent');
    expect(status.hosts[0].via).toBe('far agent');
  });

  it('the pass right after a first copy reads no file on either side, and a far edit after it is still seen', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push((await cli(hub, ['send', 'research', `Copied ${i}`, '--as', 'dispatch'])).stdout.trim());
    // Every file there before settled, so its hash is trusted after one read: what the copy writes
    // is what the next pass must not read.
    const old = new Date(Date.now() - 60_000);
    for (const root of [hub, far])
      for (const rel of await readdir(join(root, 'agents/research'), { recursive: true }))
        await utimes(join(root, 'agents/research', rel), old, old);
    const copy = JSON.parse((await cli(hub, ['sync', 'vps', '--json'])).stdout).hosts[0];
    expect(copy.pushed).toBe(4);
    // The far agent recorded each write with the rank the hub sent (it did not parse them): the
    // rank a parse of the file gives there. It saves those records when the hub hangs up, which
    // may be just after our `sync` returned (docs/sync.md): wait for them, with a deadline.
    const records = await pollUntil('the far agent to save its scan cache', async () => {
      const text = await readFile(join(far, '.mailroom/agent-state.json'), 'utf8').catch(() => '');
      const saved = farCacheOf(text);
      return ids.every((id) => saved[`agents/research/inbox/${id}.md`]) ? saved : undefined;
    });
    for (const id of ids) {
      const rel = `agents/research/inbox/${id}.md`;
      const parsed = parseTask(await readFile(join(far, rel), 'utf8'), id);
      expect(parsed.ok).toBe(true);
      if (parsed.ok) expect(records[rel]?.rank, rel).toBe(placeRank(parsed.value.task, 'research', 'inbox'));
    }
    // The far agent wrote them with a settled mtime and recorded them: nothing is hashed again.
    const after = JSON.parse((await cli(hub, ['sync', 'vps', '--json'])).stdout).hosts[0];
    expect(after.reads).toEqual({ local: 0, remote: 0 });
    // A far write after the copy stamps "now", which the settled mtime never equals: it is seen.
    expect((await cli(far, ['ack', ids[0]!])).code).toBe(0);
    const pull = JSON.parse((await cli(hub, ['sync', 'vps', '--json'])).stdout).hosts[0];
    expect(pull.pulled).toBe(1);
    expect(await readFile(join(hub, `agents/research/inbox/${ids[0]}.md`), 'utf8')).toMatch(/state: acked/);
  });

  for (const [mode, upgrade] of [
    ['old', /upgrade mailroom on vps/],
    ['new', /upgrade mailroom on this machine/],
  ] as const) {
    it(`version mismatch (${mode} far side) is refused with the side to upgrade`, async () => {
      await withFarCommand(fake(mode), async () => {
        const r = await cli(hub, ['sync', 'vps']);
        expect(r.code).toBe(3);
        expect(r.stderr).toMatch(/vps: the far mailroom speaks protocol/);
        expect(r.stderr).toMatch(upgrade);
      });
    });
  }

  it('without mailroom on the far side, sync falls back to SFTP and says so', async () => {
    await withFarCommand('/nonexistent/mailroom', async () => {
      const id = (await cli(hub, ['send', 'research', 'Over SFTP'])).stdout.trim();
      const r = await cli(hub, ['sync', 'vps']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/pushed 1.*\(SFTP\)/);
      expect(r.stderr).toMatch(/no mailroom agent there.*using SFTP/);
      expect((await locations(far)).get(id)?.join()).toBe('research/inbox');
      const status = JSON.parse((await cli(hub, ['status', '--json'])).stdout);
      expect(status.hosts[0].transport).toBe('sftp'); // though hosts.vps.mailroom is set
      expect(status.hosts[0].via).toMatch(/^SFTP \(vps: no mailroom agent there/);
    });
  });

  it('keeps no far records in the hub state with the agent; a fall back to SFTP then reads no settled far file', async () => {
    await cli(hub, ['send', 'research', 'Settled', '--as', 'dispatch']);
    expect((await cli(hub, ['sync', 'vps'])).code).toBe(0);
    const old = new Date(Date.now() - 60_000);
    for (const root of [hub, far])
      for (const rel of await readdir(join(root, 'agents'), { recursive: true }))
        await utimes(join(root, 'agents', rel), old, old);
    const viaAgent = JSON.parse((await cli(hub, ['sync', 'vps', '--json'])).stdout).hosts[0];
    expect(viaAgent.transport.kind).toBe('agent');
    const mr = await openMailroom(hub);
    const state = await loadSyncState(mr, 'vps');
    expect(Object.keys(state.local).length).toBeGreaterThan(0);
    expect(state.remote).toEqual({}); // the far agent keeps them, and the hub its last manifest
    await withFarCommand('/nonexistent/mailroom', async () => {
      const viaSftp = JSON.parse((await cli(hub, ['sync', 'vps', '--json'])).stdout).hosts[0];
      expect(viaSftp.transport.kind).toBe('sftp');
      expect(viaSftp.reads.remote).toBe(0); // the far agent's last manifest stood in for the records
      expect(viaSftp.pushed + viaSftp.pulled + viaSftp.merged + viaSftp.deleted).toBe(0);
    });
  });

  it("a far task over this hub's limits.task_file is left out by name though the far agent listed it", async () => {
    const id = (await cli(hub, ['send', 'research', 'Grows there', '--as', 'dispatch'])).stdout.trim();
    expect((await cli(hub, ['sync', 'vps'])).code).toBe(0);
    const farPath = join(far, `agents/research/inbox/${id}.md`);
    await writeFile(farPath, `${await readFile(farPath, 'utf8')}\n${'x'.repeat(200_000)}\n`);
    const config = join(hub, 'mailroom.yaml');
    const before = await readFile(config, 'utf8');
    await writeFile(config, `${before}limits:\n  task_file: 100KB\n`); // the far agent's own limit is higher
    try {
      const r = await cli(hub, ['sync', 'vps']);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(`agents/research/inbox/${id}.md`);
      expect(r.stderr).toContain('limits.task_file');
      expect((await stat(join(hub, `agents/research/inbox/${id}.md`))).size).toBeLessThan(100_000);
    } finally {
      await writeFile(config, before);
    }
    expect((await cli(hub, ['sync', 'vps'])).code).toBe(0); // with the limit back, it comes through
  });

  for (const [mode, sends, what] of [
    ['overcap', 'a frame over the size cap', /over the cap/],
    ['unknown', 'an unknown message', /unknown or malformed message/],
    ['dotdot', 'a name with ..', /in the manifest/],
    ['slash', 'a name with /', /in the manifest/],
    ['midframe', 'half a frame and stops', /stopped in the middle of a message/],
    ['deltadotdot', 'a change to the manifest with a name with ..', /in the manifest/],
    ['deltasince', 'a change to a manifest the hub does not hold', /a malformed change to the manifest/],
    ['deltarecord', 'a change with a malformed record', /a change to the manifest that breaks its bounds/],
  ] as const) {
    it(`a far agent that sends ${sends}: the pass ends naming the host, nothing written outside`, async () => {
      // A change is only taken against a copy the hub holds: a real pass first makes sure of one.
      if (mode.startsWith('delta')) expect((await cli(hub, ['sync', 'vps'])).code).toBe(0);
      await withFarCommand(fake(mode), async () => {
        const before = await allNames(sides.dir);
        const r = await cli(hub, ['sync', 'vps']);
        expect(r.code, r.stderr).toBe(4);
        expect(r.stderr).toMatch(/sync with vps failed: vps: /);
        expect(r.stderr).toMatch(what);
        const after = await allNames(sides.dir);
        expect(
          after.filter((n) => !before.includes(n) && !n.startsWith('.') && !n.endsWith('.json')),
        ).toEqual([]);
        expect(after).not.toContain('evil.md');
      });
    });
  }

  it('a far agent killed mid-batch leaves whole files on both sides, and the next pass completes', async () => {
    const pidFile = join(sides.dir, 'serve.pid');
    // The far command records its pid, then becomes `mailroom serve` (the hub appends its arguments).
    await useFarCommand(`sh -c 'echo $$ > ${pidFile}; exec ${FAR_MAILROOM} "$@"' sh`);
    const texts = new Map<string, string>();
    await mkdir(join(hub, 'agents/research/inbox'), { recursive: true });
    const created = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    for (let i = 0; i < 400; i++) {
      const id = `kill-${String(i).padStart(4, '0')}`;
      const text = taskText(
        { id, from: 'dispatch', to: 'research', created },
        `${'body '.repeat(400)}\n-- end ${id} --\n`,
      );
      texts.set(id, text);
      await writeFile(join(hub, `agents/research/inbox/${id}.md`), text);
    }
    const farCount = async () =>
      (await readdir(join(far, 'agents/research/inbox'))).filter(
        (n) => n.startsWith('kill-') && n.endsWith('.md'),
      ).length;
    const mr = await openMailroom(hub);
    const pass = syncHost(mr, 'vps').then(
      () => 'completed',
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    await pollUntil(
      'the far agent writing',
      async () => existsSync(pidFile) && (await farCount()) > 0,
      60_000,
      2,
    );
    process.kill(Number((await readFile(pidFile, 'utf8')).trim()), 'SIGKILL');
    const outcome = await pass;
    // Cut mid-batch, or (on a fast day) done before the kill landed: either way, whole files only.
    if (outcome !== 'completed') expect(outcome).toMatch(/^vps: the far mailroom stopped/);
    for (const name of await readdir(join(far, 'agents/research/inbox'))) {
      if (!name.startsWith('kill-') || !name.endsWith('.md')) continue; // its lock folders stay (stale in 10 s)
      expect(await readFile(join(far, 'agents/research/inbox', name), 'utf8')).toBe(
        texts.get(name.slice(0, -3)),
      );
    }
    await useFarCommand(FAR_MAILROOM);
    const again = await syncHost(await openMailroom(hub), 'vps');
    expect(again.problems).toEqual([]);
    expect(await farCount()).toBe(400);
    for (const [id, text] of texts) {
      expect(await readFile(join(far, `agents/research/inbox/${id}.md`), 'utf8')).toBe(text);
      expect(await readFile(join(hub, `agents/research/inbox/${id}.md`), 'utf8')).toBe(text);
    }
  });

  it('a hub daemon whose far agent breaks the protocol keeps running and says which host failed', async () => {
    await withFarCommand(fake('unknown'), async () => {
      const daemon = await startDaemon(hub);
      try {
        await pollUntil('the failure report', () => /sync with vps failed/.test(daemon.output()), 15_000);
        expect(daemon.child.exitCode).toBeNull();
        // Still the daemon it was: local work goes on.
        const id = (await cli(hub, ['send', 'human', 'Still here'])).stdout.trim();
        await pollUntil('local routing', async () => (await locations(hub)).get(id) !== undefined, 15_000);
        expect(daemon.child.exitCode).toBeNull();
      } finally {
        expect(await daemon.stop()).toBe(0);
      }
    });
  });

  it('a pass gets only what changed since the manifest the hub holds; a lost copy on either side costs one whole manifest', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await cli(hub, ['send', 'research', `Delta ${i}`, '--as', 'dispatch'])).stdout.trim());
    expect((await cli(hub, ['sync', 'vps'])).code).toBe(0);
    // Settled files: their records no longer change from one scan to the next (the racy rule).
    const old = new Date(Date.now() - 60_000);
    for (const root of [hub, far])
      for (const rel of await readdir(join(root, 'agents'), { recursive: true }))
        await utimes(join(root, 'agents', rel), old, old);
    expect((await cli(hub, ['sync', 'vps'])).code).toBe(0);
    const hubCopy = join(hub, '.mailroom/sync/vps.far-manifest.json');
    const farCopy = join(far, '.mailroom/agent-state.json');
    const generationOf = async (path: string) =>
      (JSON.parse(await readFile(path, 'utf8').catch(() => '{}')) as { generation?: string }).generation;
    // Both sides keep the last manifest under the same generation (the far side writes its copy
    // after the reply, before its process ends: a moment after `sync` may have returned).
    const held = await pollUntil('both sides to hold the same manifest', async () => {
      const g = await generationOf(hubCopy);
      return g !== undefined && g === (await generationOf(farCopy)) ? g : undefined;
    });

    // Over the protocol itself: asked with that generation, the far side sends a change, which
    // applied to the hub's copy is the whole manifest it sends when asked without one.
    const mr = await openMailroom(hub);
    const agents = Object.keys(mr.config.agents).filter((a) => mr.config.agents[a]?.host === 'vps');
    const conn = await connectTo(sshd());
    try {
      const started = await startAgent(conn, { host: 'vps', command: FAR_MAILROOM, root: far, agents });
      if (started.kind !== 'agent') throw new Error(started.reason);
      const change = (await started.client.call({ op: 'manifest', since: held })) as {
        delta?: ManifestDelta;
      };
      expect(change.delta?.since).toBe(held);
      expect(Object.keys(change.delta?.records ?? {})).toEqual([]); // nothing changed since
      const whole = checkManifest(await started.client.call({ op: 'manifest' }));
      const copy = JSON.parse(await readFile(hubCopy, 'utf8')).manifest as Manifest;
      const merged = applyDelta(copy, change.delta!);
      expect(Object.keys(merged.records).sort()).toEqual(Object.keys(whole!.records).sort());
      expect(new Map(merged.tasks)).toEqual(new Map(whole!.tasks));
      started.client.close();
    } finally {
      await conn.close();
    }

    // A far edit goes through a change; then each side losing its copy: a whole manifest, and the
    // pass is as right as ever.
    for (const lose of [undefined, hubCopy, farCopy]) {
      const id = ids.shift()!;
      if (lose) await unlink(lose);
      expect((await cli(far, ['ack', id, '--as', 'research'])).code).toBe(0);
      const r = JSON.parse((await cli(hub, ['sync', 'vps', '--json'])).stdout).hosts[0];
      expect(r.pulled, JSON.stringify(r)).toBe(1);
      expect(await readFile(join(hub, `agents/research/inbox/${id}.md`), 'utf8')).toBe(
        await readFile(join(far, `agents/research/inbox/${id}.md`), 'utf8'),
      );
      await pollUntil(
        'the far side to keep its copy again',
        async () => (await generationOf(farCopy)) !== undefined,
      );
    }
  });
});

describeWithSshd('probeFarAgent (for host init and status)', (sshd) => {
  it('reports the far version, or that there is none', async () => {
    const s = sshd();
    const conn = await connectTo(s);
    try {
      expect(await probeFarAgent(conn, FAR_MAILROOM, s.dir)).toEqual({ version: MAILROOM_VERSION });
      const none = await probeFarAgent(conn, '/nonexistent/mailroom', s.dir);
      expect(none).toHaveProperty('missing');
      await expect(probeFarAgent(conn, fake('old'), s.dir)).rejects.toThrow(/upgrade mailroom on/);
    } finally {
      await conn.close();
    }
  });
});

describeWithSshd('far agent endpoint: the Endpoint contract', (sshd) => {
  describe('over a real exec channel', () => {
    endpointContract(async (root) => {
      const conn = await connectTo(sshd());
      const started = await startAgent(conn, { host: 'vps', command: FAR_MAILROOM, root });
      if (started.kind !== 'agent') throw new Error(started.reason);
      const ep = new AgentEndpoint(started.client, `vps:${root}`, 'vps');
      const close = ep.close.bind(ep);
      ep.close = async () => {
        await close();
        await conn.close();
      };
      return ep;
    });
  });
});
