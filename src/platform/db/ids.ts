// Time-ordered UUIDs (version 7, RFC 9562) generated in the app: ids sort by creation time,
// so keyset pagination on the primary key lists newest first without a second index, on
// both Postgres 15 (no uuidv7()) and PGlite.
import { randomBytes } from 'node:crypto';

let lastMs = 0;
let sequence = 0;

/**
 * Monotonic within this process (RFC 9562, method 1): ids made in the same millisecond
 * carry a 12-bit counter in rand_a, so they still sort in creation order.
 */
export function uuidv7(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    lastMs += 1; // counter exhausted: borrow the next millisecond
    sequence = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
