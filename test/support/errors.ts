// Assertions on MailroomError: the kind (which decides the exit code) and the words a person reads.

import { expect } from 'vitest';
import { type ErrorKind, MailroomError } from '../../src/errors.js';

export async function expectMailroomError(
  work: Promise<unknown> | (() => Promise<unknown>),
  kind: ErrorKind,
  message?: RegExp,
): Promise<MailroomError> {
  let caught: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a MailroomError, got success').toBeDefined();
  expect(caught).toBeInstanceOf(MailroomError);
  const err = caught as MailroomError;
  expect({ kind: err.kind, message: err.message }).toMatchObject({ kind });
  if (message !== undefined) expect(`${err.message}\n${err.hint ?? ''}`).toMatch(message);
  return err;
}
