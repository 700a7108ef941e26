// Shared by the command handlers: find the root, open the mailroom, read text inputs.

import { fstatSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { errnoCode, usageError } from '../src/errors.js';
import { type Mailroom, openMailroom } from '../src/mailroom.js';
import { findRoot } from '../src/root.js';

export interface CommonOptions {
  root?: string;
  as?: string;
  json?: boolean;
  debug?: boolean;
}

export async function open(opts: CommonOptions): Promise<Mailroom> {
  return openMailroom(findRoot(opts.root));
}

/** `--as`, else $MAILROOM_AGENT, else undefined (the verb picks its own default). */
export function actingAs(opts: CommonOptions): string | undefined {
  return opts.as ?? (process.env.MAILROOM_AGENT || undefined);
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** How long an open standard input may stay silent before it is taken as "no input". */
const STDIN_QUIET_MS = Number(process.env.MAILROOM_STDIN_WAIT_MS ?? 2_000);

/**
 * Standard input when it is piped or redirected (a pipe, socket or file, not a terminal or /dev/null):
 * its text, or undefined when it is empty. What is piped is read to the end, never dropped. Many
 * callers (Node's execFile, agent harnesses) leave an open pipe nobody writes to: when nothing at
 * all comes within STDIN_QUIET_MS, the command goes on without it and says so on stderr (`-` waits).
 */
export async function pipedStdin(what: string): Promise<string | undefined> {
  let st: ReturnType<typeof fstatSync>;
  try {
    st = fstatSync(0);
  } catch {
    return undefined; // no standard input at all
  }
  if (!(st.isFIFO() || st.isFile() || st.isSocket())) return undefined;
  const text = await new Promise<string | undefined>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      process.stdin.pause();
      process.stdin.destroy();
      process.stderr.write(
        `mailroom: standard input is open but nothing came within ${STDIN_QUIET_MS / 1000}s; going on without a ${what} (pass - to wait for it)\n`,
      );
      resolve(undefined);
    }, STDIN_QUIET_MS);
    process.stdin.on('data', (c: Buffer) => {
      clearTimeout(timer);
      chunks.push(c);
    });
    process.stdin.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    process.stdin.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return text === undefined || text.trim() === '' ? undefined : text;
}

/**
 * One text from --X TEXT, --X-file F, or `-` (stdin); more than one is a usage error. With none of
 * them, piped standard input is the text (`echo result | mailroom done ID`).
 */
export async function textInput(
  name: string,
  text: string | undefined,
  file: string | undefined,
  dash: string | undefined,
): Promise<string | undefined> {
  if (dash !== undefined && dash !== '-')
    throw usageError(
      `unexpected argument ${JSON.stringify(dash)}`,
      `use - to read the ${name} from standard input`,
    );
  const given = [text !== undefined, file !== undefined, dash === '-'].filter(Boolean).length;
  if (given > 1) throw usageError(`give the ${name} once: --${name} TEXT, --${name}-file F or -`);
  if (text !== undefined) return text;
  if (dash === '-') return readStdin();
  if (file !== undefined) {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw usageError(`--${name}-file ${file}: no such file`);
      throw err;
    }
  }
  return pipedStdin(name);
}
