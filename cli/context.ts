// Shared by the command handlers: find the root, open the mailroom, read text inputs.

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

/** One text from --X TEXT, --X-file F, or `-` (stdin); more than one is a usage error. */
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
  return undefined;
}
