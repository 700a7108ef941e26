// The one module that talks to ssh2. It opens a connection only to a host whose key known_hosts
// vouches for (ssh2 itself would accept ANY key), authenticates with ssh-agent or key files and never
// a password, and turns every failure into a MailroomError a person can act on: unknown or changed
// host keys are `refused` with the fix line, anything on the way is `network` naming host and cause.
// (auth-round-trips.ts, which it calls, reaches into ssh2's client for a login two round trips
// shorter; only after the key exchange, so after the host key was verified.)

import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type {
  AgentAuthMethod,
  Attributes,
  ClientChannel,
  ClientErrorExtensions,
  ConnectConfig,
  PublicKeyAuthMethod,
  ServerHostKeyAlgorithm,
  SFTPWrapper,
} from 'ssh2';
import ssh2 from 'ssh2';
import { errnoCode, MailroomError, networkError, usageError } from '../errors.js';
import { fewerAuthRoundTrips } from './auth-round-trips.js';
import { checkHostKey, knownKeyTypes } from './known-hosts.js';
import { LineSplitter } from './line-splitter.js';
import {
  type BoundedRead,
  type RemoteEntry,
  type RemoteHandle,
  type RemoteKind,
  type RemoteStat,
  SftpError,
  type SftpFailure,
  type SftpSession,
} from './sftp-session.js';

// ssh2 is CommonJS: from ESM only the default export carries Client and utils (see SSHD.md).
const { Client, utils } = ssh2;
type Ssh2Client = InstanceType<typeof Client>;

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Key files to offer, in order. Absent or empty: ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exist. */
  readonly identityFiles?: readonly string[];
  readonly knownHostsPath: string;
  /** ssh-agent socket; default $SSH_AUTH_SOCK. `null` disables the agent. */
  readonly agentSocket?: string | null;
  /** Default 15 s; with keepaliveCountMax 3, a silent peer is dropped after about 45 s. */
  readonly keepaliveIntervalMs?: number;
  /** Handshake and authentication deadline; default 20 s. */
  readonly readyTimeoutMs?: number;
  /** How the host is named in messages; default `user@host:port`. */
  readonly label?: string;
  /** ssh2's debug lines (tests: what the handshake sent, in order). */
  readonly debug?: (line: string) => void;
  /** Called once the connection is under way: work to do while the handshake waits on the network. */
  readonly whileConnecting?: () => void;
}

export interface RemoteCommand {
  /** Settles with the exit code (null when killed or the connection ended). */
  readonly exited: Promise<number | null>;
  /** What the command wrote to stderr so far (capped). */
  stderr(): string;
  /** Closes the channel (the far command sees its stdin end). */
  close(): void;
}

/** A command's stdin/stdout as a byte stream (the far mailroom agent's channel). */
export interface RemoteChannel {
  /** Queues bytes for the far stdin; false when the caller should wait for drained(). */
  write(chunk: Buffer): boolean;
  drained(): Promise<void>;
  /** Every chunk of the far stdout, in order; `end` once when the channel closes. */
  onData(cb: (chunk: Buffer) => void): void;
  onEnd(cb: () => void): void;
  /** Flow control on the far stdout: stop and restart delivering chunks. */
  pause(): void;
  resume(): void;
  readonly exited: Promise<number | null>;
  stderr(): string;
  close(): void;
}

export interface SshConnection {
  readonly label: string;
  readonly isOpen: boolean;
  /**
   * Opens an SFTP channel over this connection (several may be open at once). `maxDirEntries`: a
   * folder listing more entries is refused (default MAX_DIR_ENTRIES; smaller in tests).
   */
  sftp(opts?: { maxDirEntries?: number }): Promise<SftpSession>;
  /**
   * Runs a command on the far side and streams its stdout line by line (used to follow the far
   * side's changes). The command line is the caller's own (from configuration), never file contents.
   * Lines over 4 KB are dropped (onTooLong is called once for each): the far side controls them.
   */
  exec(command: string, onLine: (line: string) => void, onTooLong?: () => void): Promise<RemoteCommand>;
  /** Runs a command and gives its stdin/stdout as bytes (same rule: the command is configuration). */
  channel(command: string): Promise<RemoteChannel>;
  /**
   * Opens a byte stream to a Unix socket on the far machine (OpenSSH's `direct-streamlocal`, one
   * round trip, no process started): a far agent that stayed (src/remote/resident.ts). Rejects when
   * the far sshd refuses it or nothing listens there.
   */
  streamLocal(socketPath: string): Promise<RemoteChannel>;
  /** Ends the connection; resolves once it is closed. Idempotent. */
  close(): Promise<void>;
  /** Settles when the connection ends: undefined after close(), else the error that ended it. */
  readonly ended: Promise<MailroomError | undefined>;
}

// ssh2's defaults, in its order; known_hosts' types are moved to the front (see hostKeyPreference).
const HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * Opens a connection: reads known_hosts and the keys to offer, shakes hands with a host-key verdict
 * from known_hosts only, and gives the connection's channels (SFTP, a command by lines or by bytes).
 */
export async function connectSsh(opts: ConnectOptions): Promise<SshConnection> {
  const label = opts.label ?? defaultLabel(opts);
  const knownHosts = await readKnownHosts(opts.knownHostsPath);
  const auth = await authMethods(opts, label);
  const verifier = hostVerifier(opts, label, knownHosts);
  const client = new Client();
  const link = await handshake(
    client,
    connectConfig(opts, knownHosts, verifier.verify, auth),
    {
      label,
      authNotes: auth.notes,
      refusal: verifier.refusal,
    },
    opts.whileConnecting,
  );
  return connection(client, label, link);
}

function defaultLabel(opts: ConnectOptions): string {
  return `${opts.user}@${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
}

/** The host key check, and the refusal it made (if any) for the failure message. */
function hostVerifier(
  opts: ConnectOptions,
  label: string,
  knownHosts: string,
): { verify: (key: Buffer) => boolean; refusal: () => MailroomError | undefined } {
  let refusal: MailroomError | undefined;
  // Synchronous verdict: known_hosts was read before, so no await happens inside the handshake.
  const verify = (key: Buffer): boolean => {
    const keyType = keyBlobType(key);
    const verdict = checkHostKey(knownHosts, opts.host, opts.port, keyType, key.toString('base64'), {
      knownHostsPath: opts.knownHostsPath,
    });
    if (verdict.ok) return true;
    refusal = new MailroomError('refused', `${label}: ${verdict.message}`, { hint: `fix: ${verdict.fix}` });
    return false;
  };
  return { verify, refusal: () => refusal };
}

function connectConfig(
  opts: ConnectOptions,
  knownHosts: string,
  hostVerifier: (key: Buffer) => boolean,
  auth: Auth,
): ConnectConfig {
  return {
    host: opts.host,
    port: opts.port,
    username: opts.user,
    hostVerifier,
    authHandler: auth.methods,
    readyTimeout: opts.readyTimeoutMs ?? 20_000,
    keepaliveInterval: opts.keepaliveIntervalMs ?? 15_000,
    keepaliveCountMax: 3,
    algorithms: { serverHostKey: hostKeyPreference(knownKeyTypes(knownHosts, opts.host, opts.port)) },
    ...(opts.debug ? { debug: opts.debug } : {}),
  };
}

/** An open connection's state, shared by the handshake's close handler and the connection. */
interface Link {
  open: boolean;
  closedByUs: boolean;
  readonly sessions: Set<Ssh2SftpSession>;
  /** Settles when the connection ends: undefined after close(), else the error that ended it. */
  readonly ended: Promise<MailroomError | undefined>;
}

/** Connects and waits for 'ready'; a close before it rejects with the refusal or what failed. */
async function handshake(
  client: Ssh2Client,
  config: ConnectConfig,
  why: { label: string; authNotes: string[]; refusal: () => MailroomError | undefined },
  whileConnecting?: () => void,
): Promise<Link> {
  const errors: (Error & ClientErrorExtensions)[] = [];
  let resolveEnded!: (e: MailroomError | undefined) => void;
  const link: Link = {
    open: false,
    closedByUs: false,
    sessions: new Set(),
    ended: new Promise<MailroomError | undefined>((r) => {
      resolveEnded = r;
    }),
  };

  // ssh2 emits 'error' also for recoverable steps (an agent that cannot sign, then it tries the next
  // method), so errors are collected and the outcome is decided on 'ready' or 'close' only.
  client.on('error', (err: Error & ClientErrorExtensions) => {
    errors.push(err);
  });

  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => {
      link.open = true;
      // Small requests and replies are the whole protocol: Nagle's algorithm would hold one back
      // until the peer's (often delayed) acknowledgement of the one before.
      client.setNoDelay(true);
      resolve();
    });
    client.on('close', () => {
      const wasOpen = link.open;
      link.open = false;
      for (const s of link.sessions) s.markLost('the SSH connection closed');
      if (!wasOpen && !link.closedByUs) {
        reject(why.refusal() ?? describeFailure(why.label, errors, why.authNotes));
        resolveEnded(undefined);
        return;
      }
      resolveEnded(link.closedByUs ? undefined : describeFailure(why.label, errors, [], 'connection lost'));
    });
    client.connect(config);
    // From the first packet, not only after 'ready': the login's requests now go out back to back.
    client.setNoDelay(true);
    fewerAuthRoundTrips(client);
    whileConnecting?.();
  });
  return link;
}

function connection(client: Ssh2Client, label: string, link: Link): SshConnection {
  const closed = () => networkError(`${label}: the SSH connection is closed`);
  return {
    label,
    get isOpen() {
      return link.open;
    },
    ended: link.ended,
    async sftp(opts?: { maxDirEntries?: number }) {
      if (!link.open) throw closed();
      const session = await openSftpSession(client, label, opts?.maxDirEntries ?? MAX_DIR_ENTRIES);
      link.sessions.add(session);
      session.onEnd = () => link.sessions.delete(session);
      return session;
    },
    exec(command, onLine, onTooLong) {
      if (!link.open) return Promise.reject(closed());
      return execThen(client, label, command, (channel) => lineCommand(channel, onLine, onTooLong));
    },
    channel(command) {
      if (!link.open) return Promise.reject(closed());
      return execThen(client, label, command, byteChannel);
    },
    streamLocal(socketPath) {
      if (!link.open) return Promise.reject(closed());
      return new Promise<RemoteChannel>((resolve, reject) => {
        client.openssh_forwardOutStreamLocal(socketPath, (err, channel) => {
          if (err) reject(networkError(`${label}: cannot reach ${socketPath}: ${err.message}`));
          else resolve(byteChannel(channel));
        });
      });
    },
    async close() {
      if (link.open) {
        link.closedByUs = true;
        client.end();
        await closeWithin(client, link.ended, 5_000);
      }
    },
  };
}

/** Runs `command` on the far side and hands its channel to `use` as soon as it opens. */
function execThen<T>(
  client: Ssh2Client,
  label: string,
  command: string,
  use: (channel: ClientChannel) => T,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) {
        reject(networkError(`${label}: cannot run a command: ${err.message}`));
        return;
      }
      resolve(use(channel));
    });
  });
}

/** A command's stdout as lines (over MAX_STREAM_LINE dropped), its stderr kept (capped). */
function lineCommand(
  channel: ClientChannel,
  onLine: (line: string) => void,
  onTooLong?: () => void,
): RemoteCommand {
  let stderr = '';
  const lines = new LineSplitter(MAX_STREAM_LINE, onLine, () => onTooLong?.());
  channel.on('data', (chunk: Buffer) => lines.push(chunk));
  channel.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 8192) stderr += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((done) => {
    channel.on('exit', (code: number | null) => done(typeof code === 'number' ? code : null));
    channel.on('close', () => done(null));
  });
  return { exited, stderr: () => stderr, close: () => channel.close() };
}

function byteChannel(ch: ClientChannel): RemoteChannel {
  let stderr = '';
  // A stream to a socket (streamLocal) has no stderr.
  ch.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 8192) stderr += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((done) => {
    ch.on('exit', (code: number | null) => done(typeof code === 'number' ? code : null));
    ch.on('close', () => done(null));
  });
  let ended = false;
  const endCbs: (() => void)[] = [];
  const end = () => {
    if (ended) return;
    ended = true;
    for (const cb of endCbs) cb();
  };
  ch.on('close', end);
  ch.on('end', end);
  ch.on('error', end);
  return {
    write: (chunk) => ch.write(chunk),
    drained: () =>
      new Promise<void>((r) => {
        if (ended) r();
        else {
          ch.once('drain', () => r());
          ch.once('close', () => r());
        }
      }),
    onData: (cb) => ch.on('data', cb),
    onEnd: (cb) => {
      if (ended) cb();
      else endCbs.push(cb);
    },
    pause: () => ch.pause(),
    resume: () => ch.resume(),
    exited,
    stderr: () => stderr,
    close: () => ch.close(),
  };
}

// A peer that never answers our disconnect must not hang close(): after `ms`, the socket is destroyed.
async function closeWithin(client: Ssh2Client, ended: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<void>((r) => {
    timer = setTimeout(() => {
      client.destroy();
      r();
    }, ms);
  });
  await Promise.race([ended, forced]);
  clearTimeout(timer);
}

async function readKnownHosts(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    // A missing known_hosts is an empty one: every host is then unknown, and the message says how to add it.
    if (errnoCode(err) === 'ENOENT') return '';
    throw networkError(`cannot read known_hosts file ${path}: ${(err as Error).message}`);
  }
}

interface Auth {
  methods: (AgentAuthMethod | PublicKeyAuthMethod)[];
  /** Why a key was not offered (missing, passphrase-protected, unreadable), for the failure message. */
  notes: string[];
}

async function authMethods(opts: ConnectOptions, label: string): Promise<Auth> {
  const methods: Auth['methods'] = [];
  const notes: string[] = [];
  const agent = opts.agentSocket === undefined ? process.env.SSH_AUTH_SOCK : opts.agentSocket;
  if (agent) methods.push({ type: 'agent', username: opts.user, agent });

  const explicit = opts.identityFiles !== undefined && opts.identityFiles.length > 0;
  const files = explicit
    ? opts.identityFiles!
    : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => join(homedir(), '.ssh', n));
  for (const file of files) {
    let text: Buffer;
    try {
      // As OpenSSH: a private key others can read is not used (UNPROTECTED PRIVATE KEY FILE).
      const mode = (await stat(file)).mode & 0o777;
      if ((mode & 0o077) !== 0) {
        const why = `identity file ${file} is readable by others (mode ${mode.toString(8).padStart(4, '0')}): refused, as OpenSSH does; fix it with "chmod 600 ${file}"`;
        if (explicit) throw usageError(why);
        notes.push(why);
        continue;
      }
      text = await readFile(file);
    } catch (err) {
      if (err instanceof MailroomError) throw err;
      const code = errnoCode(err);
      if (explicit)
        notes.push(
          `identity file ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`}`,
        );
      continue;
    }
    const parsed = utils.parseKey(text);
    if (parsed instanceof Error) {
      notes.push(
        /passphrase|encrypted/i.test(parsed.message)
          ? `identity file ${file} is passphrase-protected: load it into ssh-agent with "ssh-add ${file}"`
          : `identity file ${file} is not a private key mailroom can read (${parsed.message})`,
      );
      continue;
    }
    methods.push({ type: 'publickey', username: opts.user, key: text });
  }

  if (methods.length === 0) {
    throw usageError(
      `${label}: no way to authenticate: no ssh-agent (SSH_AUTH_SOCK is not set) and no usable identity file`,
      notes.length > 0
        ? notes.join('; ')
        : 'start ssh-agent and ssh-add your key, or set identity: in the host configuration',
    );
  }
  return { methods, notes };
}

const SOCKET_HINTS: Record<string, string> = {
  ECONNREFUSED: ' (nothing listens on that port)',
  ENOTFOUND: ' (no such host name)',
  EHOSTUNREACH: ' (no route to the host)',
  ETIMEDOUT: ' (no answer)',
};

function describeFailure(
  label: string,
  errors: (Error & ClientErrorExtensions)[],
  notes: string[],
  what?: string,
) {
  // The last fatal error explains the close; recoverable agent errors only add context.
  const fatal = [...errors].reverse().find((e) => e.level !== 'agent') ?? errors.at(-1);
  if (fatal === undefined)
    return networkError(`${label}: ${what ?? 'the connection closed during the handshake'}`);
  const code = errnoCode(fatal);
  const extra = notes.length > 0 ? `; ${notes.join('; ')}` : '';
  switch (fatal.level) {
    case 'client-authentication':
      return networkError(
        `${label}: authentication failed (tried ssh-agent and key files; passwords are never used)${extra}`,
        `add your public key to ~/.ssh/authorized_keys of that user on the host, or load the right key into ssh-agent`,
        fatal,
      );
    case 'client-timeout':
      return networkError(
        `${label}: ${fatal.message.toLowerCase()}`,
        'check that the host is up and reachable',
        fatal,
      );
    case 'client-socket':
    case 'client-dns':
      return networkError(
        `${label}: ${what ?? 'cannot connect'}: ${code ?? fatal.message}${SOCKET_HINTS[code ?? ''] ?? ''}`,
        'check the host name, the port, and that sshd runs there',
        fatal,
      );
    default:
      return networkError(`${label}: ${what ?? 'SSH failed'}: ${fatal.message}${extra}`, undefined, fatal);
  }
}

// The key type is the first string of the SSH wire-format key blob (RFC 4253 section 6.6).
function keyBlobType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return len > 0 && len < 64 && blob.length >= 4 + len ? blob.toString('latin1', 4, 4 + len) : 'unknown';
}

// Offer first the key types known_hosts holds for this host, as OpenSSH does: a host known by its RSA
// key must not be reported "unknown" merely because it also has an ed25519 key we would pick first.
export function hostKeyPreference(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const front: ServerHostKeyAlgorithm[] = [];
  for (const t of knownTypes) {
    const algos = t === 'ssh-rsa' ? (['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] as const) : [t];
    for (const a of algos) {
      const known = HOST_KEY_ALGORITHMS.find((x) => x === a);
      if (known !== undefined && !front.includes(known)) front.push(known);
    }
  }
  return [...front, ...HOST_KEY_ALGORITHMS.filter((a) => !front.includes(a))];
}

// ---------------------------------------------------------------------------------------------------
// SFTP: ssh2's callback API behind mailroom's SftpSession. Every request settles: when the channel or
// the connection goes away, requests still in flight are rejected as 'connectionLost' here, because
// ssh2 would let a request issued after the close wait forever.

function openSftpSession(client: Ssh2Client, label: string, maxDirEntries: number): Promise<Ssh2SftpSession> {
  return new Promise((resolve, reject) => {
    client.sftp((err, sftp) => {
      if (err)
        reject(
          networkError(`${label}: cannot start SFTP: ${err.message}`, 'check that sshd has "Subsystem sftp"'),
        );
      else resolve(new Ssh2SftpSession(sftp, label, maxDirEntries));
    });
  });
}

class Ssh2Handle implements RemoteHandle {
  constructor(
    readonly path: string,
    readonly raw: Buffer,
  ) {}
}

// SFTP v3 status codes (draft-ietf-secsh-filexfer-02 section 7).
const STATUS: Record<number, SftpFailure> = {
  2: 'noSuchFile',
  3: 'permissionDenied',
  4: 'failure',
  6: 'connectionLost',
  7: 'connectionLost',
  8: 'unsupported',
};

function classify(err: Error): SftpFailure {
  const code: unknown = (err as { code?: unknown }).code;
  if (typeof code === 'number' && STATUS[code] !== undefined) return STATUS[code];
  if (/no response from server/i.test(err.message)) return 'connectionLost';
  if (/does not support this extended request/i.test(err.message)) return 'unsupported';
  return 'other';
}

const S_IFMT = 0o170000;
function remoteStat(attrs: Attributes): RemoteStat {
  const fmt = (attrs.mode ?? 0) & S_IFMT;
  const kind: RemoteKind =
    fmt === 0o100000 ? 'file' : fmt === 0o040000 ? 'dir' : fmt === 0o120000 ? 'symlink' : 'other';
  return { kind, size: attrs.size ?? 0, mtimeMs: (attrs.mtime ?? 0) * 1000 };
}

/** The longest line kept from a far command's output; longer ones are dropped and reported. */
export const MAX_STREAM_LINE = 4096;

type Done<T> = (err: Error | null | undefined, value?: T) => void;

/** One read request's size, and how many are in flight at once. */
const READ_CHUNK = 64 * 1024;
const READ_WINDOW = 8;
/** READDIRs sent at once on a folder's handle (then twice as many, up to the max). */
const READDIR_BURST = 3;
const MAX_READDIR_BURST = 16;
/** A far folder listing more entries than this is refused (the far side is not trusted). */
const MAX_DIR_ENTRIES = 1_000_000;
/** SSH_FX_EOF. */
const EOF_STATUS = 1;

class Ssh2SftpSession implements SftpSession {
  readonly maxWriteBytes: number;
  onEnd: (() => void) | undefined;
  private lost: string | undefined;
  private readonly inFlight = new Set<(reason: string) => void>();

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly label: string,
    private readonly maxDirEntries: number,
  ) {
    // ssh2 learns the server's limit from limits@openssh.com; the field is not in its typings.
    const limit = (sftp as unknown as { _maxWriteLen?: unknown })._maxWriteLen;
    this.maxWriteBytes = typeof limit === 'number' && limit > 0 ? limit : 31 * 1024;
    sftp.on('error', (err: Error) => this.markLost(err.message));
    sftp.on('close', () => this.markLost('the SFTP channel closed'));
  }

  markLost(reason: string): void {
    if (this.lost !== undefined) return;
    this.lost = reason;
    for (const fail of this.inFlight) fail(reason);
    this.inFlight.clear();
    this.onEnd?.();
  }

  private call<T>(op: string, path: string, start: (done: Done<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const lostError = (reason: string) =>
        new SftpError('connectionLost', op, `${this.label}:${path}`, `connection lost (${reason})`);
      if (this.lost !== undefined) {
        reject(lostError(this.lost));
        return;
      }
      const fail = (reason: string) => reject(lostError(reason));
      this.inFlight.add(fail);
      const done: Done<T> = (err, value) => {
        if (!this.inFlight.delete(fail)) return; // already rejected as lost
        if (err) reject(new SftpError(classify(err), op, `${this.label}:${path}`, err.message, err));
        else resolve(value as T);
      };
      try {
        start(done);
      } catch (err) {
        // ssh2 throws synchronously for a missing extension or a closed channel.
        done(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  lstat(path: string): Promise<RemoteStat> {
    return this.call<Attributes>('lstat', path, (d) => this.sftp.lstat(path, d)).then(remoteStat);
  }

  // Never ssh2's readdir by path: it waits for each READDIR's answer before sending the next, and for
  // the CLOSE before it answers (a folder of 100 entries cost five round trips). Here the READDIRs go
  // out in bursts (a server answers requests on one handle in order: a READDIR past the end gets EOF
  // again), and the CLOSE is sent but not waited for: two round trips for most folders.
  async readdir(path: string): Promise<RemoteEntry[]> {
    const raw = await this.call<Buffer>('opendir', path, (d) => this.sftp.opendir(path, d));
    const entries: RemoteEntry[] = [];
    try {
      for (let burst = READDIR_BURST; ; burst = Math.min(burst * 2, MAX_READDIR_BURST)) {
        const got = await Promise.all(
          Array.from({ length: burst }, () =>
            this.call<{ filename: string; attrs: Attributes }[] | undefined>('readdir', path, (d) =>
              this.sftp.readdir(raw, (err, list) =>
                (err as { code?: unknown } | undefined)?.code === EOF_STATUS
                  ? d(undefined, undefined)
                  : d(err, list),
              ),
            ),
          ),
        );
        for (const list of got) {
          if (list === undefined) return entries;
          for (const e of list) entries.push({ name: e.filename, stat: remoteStat(e.attrs) });
          if (entries.length > this.maxDirEntries)
            throw new SftpError(
              'other',
              'readdir',
              `${this.label}:${path}`,
              `more than ${this.maxDirEntries} entries: refused`,
            );
        }
      }
    } finally {
      this.call<void>('close', path, (d) => this.sftp.close(raw, d)).catch(() => undefined);
    }
  }

  // Never ssh2's readFile: it allocates whatever size the far side claims (a 5 GB sparse file took the
  // hub's memory and then the connection). The type and size are checked on the open handle, and the
  // file is read in a window of chunks that stops one byte past the limit, however big it claims to be.
  // The first chunk is asked for with the FSTAT (its bytes are dropped when the check fails), a short
  // read that ends at the size FSTAT gave ends the file, and the CLOSE is not waited for: a small file
  // costs two round trips after the open.
  async readFileBounded(path: string, maxBytes: number): Promise<BoundedRead> {
    const raw = await this.call<Buffer>('open', path, (d) => this.sftp.open(path, 'r', d));
    const readAt = (off: number) => {
      const len = Math.min(READ_CHUNK, maxBytes + 1 - off);
      return this.call<Buffer>('read', path, (d) =>
        this.sftp.read(raw, Buffer.alloc(len), 0, len, off, (err, n, buf) =>
          err ? d(err) : d(undefined, buf.subarray(0, n)),
        ),
      ).then((b) => ({ b, len }));
    };
    try {
      const [attrs, first] = await Promise.all([
        this.call<Attributes>('fstat', path, (d) => this.sftp.fstat(raw, d)),
        readAt(0).catch((err: unknown) => err as Error),
      ]);
      const st = remoteStat(attrs);
      if (st.kind !== 'file' || st.size > maxBytes) return { kind: st.kind, size: st.size };
      if (first instanceof Error) throw first;
      const parts: Buffer[] = [];
      let total = 0;
      let window = [first];
      for (;;) {
        // A short read means the end of the file (a read of 0 bytes, or one that stops at the size
        // FSTAT gave) or a server that sent less: the reads after it in the window are dropped and
        // the next window starts where it stopped.
        let more = true;
        for (const { b, len } of window) {
          parts.push(b);
          total += b.length;
          if (b.length === 0 || (b.length < len && total === st.size)) more = false;
          if (b.length < len) break;
        }
        if (!more) break;
        const left = maxBytes + 1 - total;
        if (left <= 0) return { kind: 'file', size: total };
        const want = Math.min(READ_WINDOW, Math.max(1, Math.ceil((st.size - total + 1) / READ_CHUNK)));
        const offsets = Array.from({ length: want }, (_, i) => total + i * READ_CHUNK).filter(
          (off) => off - total < left,
        );
        window = await Promise.all(offsets.map(readAt));
      }
      if (total > maxBytes) return { kind: 'file', size: total };
      return { kind: 'file', size: total, bytes: Buffer.concat(parts, total) };
    } finally {
      this.call<void>('close', path, (d) => this.sftp.close(raw, d)).catch(() => undefined);
    }
  }

  async createExclusive(path: string): Promise<RemoteHandle> {
    const raw = await this.call<Buffer>('create', path, (d) => this.sftp.open(path, 'wx', 0o666, d));
    return new Ssh2Handle(path, raw);
  }

  write(handle: RemoteHandle, data: Buffer, position: number): Promise<void> {
    const h = handle as Ssh2Handle;
    return this.call<void>('write', h.path, (d) => this.sftp.write(h.raw, data, 0, data.length, position, d));
  }

  setHandleTimes(handle: RemoteHandle, mtimeMs: number): Promise<void> {
    const h = handle as Ssh2Handle;
    const seconds = Math.floor(mtimeMs / 1000);
    return this.call<void>('fsetstat', h.path, (d) => this.sftp.futimes(h.raw, seconds, seconds, d));
  }

  fsync(handle: RemoteHandle): Promise<void> {
    const h = handle as Ssh2Handle;
    return this.call<void>('fsync', h.path, (d) => this.sftp.ext_openssh_fsync(h.raw, (err) => d(err)));
  }

  closeHandle(handle: RemoteHandle): Promise<void> {
    const h = handle as Ssh2Handle;
    return this.call<void>('close', h.path, (d) => this.sftp.close(h.raw, d));
  }

  posixRename(from: string, to: string): Promise<void> {
    return this.call<void>('rename', `${from} -> ${to}`, (d) => this.sftp.ext_openssh_rename(from, to, d));
  }

  unlink(path: string): Promise<void> {
    return this.call<void>('unlink', path, (d) => this.sftp.unlink(path, d));
  }

  mkdir(path: string): Promise<void> {
    return this.call<void>('mkdir', path, (d) => this.sftp.mkdir(path, d));
  }

  rmdir(path: string): Promise<void> {
    return this.call<void>('rmdir', path, (d) => this.sftp.rmdir(path, d));
  }

  setTimes(path: string, mtimeMs: number): Promise<void> {
    const seconds = Math.round(mtimeMs / 1000);
    return this.call<void>('setstat', path, (d) => this.sftp.utimes(path, seconds, seconds, d));
  }

  end(): void {
    this.sftp.end();
    this.markLost('the SFTP channel was ended');
  }
}
