// The one content hash: sha256 as lowercase hex. Used to say "same bytes" (the daemon's reports and
// duplicate memory, sync's records and merge). SSH key fingerprints (ssh/known-hosts.ts) are a
// different thing with their own format and stay there.

import { createHash } from 'node:crypto';

/** sha256 of the bytes (a string is hashed as UTF-8), as 64 lowercase hex digits. */
export const sha256Hex = (data: Uint8Array | string): string =>
  createHash('sha256').update(data).digest('hex');
