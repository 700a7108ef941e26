// How the benchmark runs mailroom as a user would: the built CLI as a child process, with an
// environment that cannot leak the caller's mailroom or ssh-agent into the figures.

import { resolve } from 'node:path';

/** dist/bin/mailroom.js (the bundled CLI, as installed), next to this file's dist/bench/. */
export const CLI = resolve(import.meta.dirname, '../bin/mailroom.js');

/** The caller's environment without MAILROOM_* and without an ssh-agent (keys come from config). */
export function nodeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.MAILROOM_ROOT;
  delete env.MAILROOM_AGENT;
  delete env.SSH_AUTH_SOCK;
  return env;
}
