// Two round trips of ssh2's client handshake that the protocol does not need (docs/sync.md, "Fewer
// round trips to log in"). After the key exchange ssh2 waits for SERVICE_ACCEPT before its first
// USERAUTH_REQUEST, and with a key file it first asks whether the key would do ("publickey -- check")
// and signs only after USERAUTH_PK_OK. RFC 4252 lets a client send the signed request at once (§7)
// and a server handles requests in the order they come, so the signed request goes out right behind
// the SERVICE_REQUEST: at 40 ms of round trip, ~240 ms to log in becomes ~160 ms (OpenSSH's ssh,
// which rsync runs, waits at both places).
//
// This reaches into ssh2's client (1.17, pinned) on one connection: its protocol object's authPK and
// service, and its SERVICE_ACCEPT and EXT_INFO handlers. When any of them is not where it is expected,
// nothing is changed and the handshake is ssh2's own. Keys from ssh-agent keep the check: signing with
// an agent can ask its user, and only for a key the server accepts should it. The early
// SERVICE_ACCEPT is taken only once the server's EXT_INFO has arrived, so an RSA key is offered with
// the signature algorithms the server named (without them ssh2 would pick ssh-rsa, which a current
// OpenSSH refuses). MAILROOM_SSH_PIPELINE=0 turns all of it off.

type Sign = (data: Buffer, done: (signature: Buffer) => void) => void;

interface ParsedKey {
  isPrivateKey(): boolean;
  sign(data: Buffer, hash?: string): Buffer | Error;
}

interface Ssh2Protocol {
  authPK(username: string, key: unknown, keyAlgo?: string | Sign, cbSign?: Sign): void;
  service(name: string): void;
  _handlers: Record<string, ((proto: unknown, ...args: unknown[]) => void) | undefined>;
}

const isParsedKey = (k: unknown): k is ParsedKey =>
  typeof k === 'object' &&
  k !== null &&
  typeof (k as ParsedKey).isPrivateKey === 'function' &&
  typeof (k as ParsedKey).sign === 'function';

/** The hash ssh2 signs with for a key algorithm (its getKeyAlgos): only RSA's name one. */
function hashOf(keyAlgo: string | undefined): string | undefined {
  if (keyAlgo === 'rsa-sha2-256') return 'sha256';
  if (keyAlgo === 'rsa-sha2-512') return 'sha512';
  if (keyAlgo === 'ssh-rsa') return 'sha1';
  return undefined;
}

function protocolOf(client: object): Ssh2Protocol | undefined {
  const proto = (client as { _protocol?: Partial<Ssh2Protocol> })._protocol;
  if (
    typeof proto?.authPK !== 'function' ||
    typeof proto.service !== 'function' ||
    typeof proto._handlers?.SERVICE_ACCEPT !== 'function'
  )
    return undefined;
  return proto as Ssh2Protocol;
}

/**
 * Call right after ssh2's `client.connect(config)` (which makes the protocol object). Returns whether
 * the handshake was changed.
 */
export function fewerAuthRoundTrips(client: object, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.MAILROOM_SSH_PIPELINE === '0') return false;
  const proto = protocolOf(client);
  if (!proto) return false;
  const handlers = proto._handlers;

  // A key file's key (private: ssh2 parsed it from the file) is signed with at once.
  const authPK = proto.authPK.bind(proto);
  proto.authPK = (username, key, keyAlgo, cbSign) => {
    if (cbSign !== undefined || typeof keyAlgo === 'function' || !isParsedKey(key) || !key.isPrivateKey())
      return authPK(username, key, keyAlgo, cbSign);
    const hash = hashOf(keyAlgo);
    const probe = key.sign(Buffer.alloc(0), hash);
    // A key that cannot sign goes the usual way: ssh2 reports it after the server's PK_OK.
    if (probe instanceof Error) return authPK(username, key, keyAlgo);
    return authPK(username, key, keyAlgo, (data, done) => {
      const signature = key.sign(data, hash);
      if (signature instanceof Error) throw signature;
      done(signature);
    });
  };

  // The first method goes out behind the SERVICE_REQUEST; the server's SERVICE_ACCEPT then finds
  // authentication under way and is passed over (whichever comes first starts it, once).
  const accept = handlers.SERVICE_ACCEPT!;
  const extInfo = handlers.EXT_INFO;
  const service = proto.service.bind(proto);
  let sawExtInfo = false;
  let accepted = false;
  const acceptOnce = (p: unknown, name: unknown, ...rest: unknown[]) => {
    if (name === 'ssh-userauth') {
      if (accepted) return;
      accepted = true;
    }
    accept(p, name, ...rest);
  };
  handlers.EXT_INFO = (p, ...args) => {
    sawExtInfo = true;
    extInfo?.(p, ...args);
  };
  handlers.SERVICE_ACCEPT = acceptOnce;
  proto.service = (name) => {
    service(name);
    // After the rest of the chunk that ended the key exchange: the EXT_INFO sent with NEWKEYS is in it.
    if (name === 'ssh-userauth')
      setImmediate(() => {
        if (sawExtInfo) acceptOnce(proto, name);
      });
  };
  return true;
}
