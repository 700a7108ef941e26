// Typed errors for people. Every error mailroom raises on purpose carries an exit code from
// docs/spec.md §4; the CLI's one top-level catch maps it, and prints the message without a stack.

export const ExitCode = {
  ok: 0,
  usage: 1, // bad usage or input
  notFound: 2,
  refused: 3, // illegal transition, lock held too long
  network: 4, // sync or network failure
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorKind = keyof typeof ExitCode;

export class MailroomError extends Error {
  readonly kind: ErrorKind;
  /** A second line telling the person what to do about it. */
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MailroomError';
    this.kind = kind;
    this.hint = options.hint;
  }

  get exitCode(): ExitCode {
    return ExitCode[this.kind];
  }
}

export const usageError = (message: string, hint?: string) => new MailroomError('usage', message, { hint });
export const notFound = (message: string, hint?: string) => new MailroomError('notFound', message, { hint });
export const refused = (message: string, hint?: string) => new MailroomError('refused', message, { hint });
export const networkError = (message: string, hint?: string, cause?: unknown) =>
  new MailroomError('network', message, { hint, cause });

/** The errno code of a Node system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return undefined;
}
