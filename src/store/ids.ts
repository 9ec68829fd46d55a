/**
 * Execution IDs and lease owner names. An execution ID is a capability-like handle that users
 * paste into terminals and MCP clients, so it is 128 bits from the CSPRNG (unguessable: an
 * attacker who tries a billion IDs a second finds one of a million live executions after about
 * 10^16 years) and base64url (URL- and shell-safe, 22 characters).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

const ID_PATTERN = /^[A-Za-z0-9_-]{21}[AQgw]$/;

/**
 * A fresh execution ID: 16 bytes of `crypto.randomBytes`, base64url without padding, drawn again
 * when it would start with `-` (a command line would read `toolexec resume -Xy...` as an option;
 * this costs 0.02 of the 128 bits).
 */
export function newExecutionId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (id[0] !== '-') return id;
  }
}

/**
 * Whether `value` has the shape of an execution ID. 16 bytes are 22 base64url characters whose
 * last one carries 2 bits (so it is one of A, Q, g, w). Stores treat anything else as "not found".
 */
export function isExecutionId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/**
 * A lease owner name for this process: `host:pid:random`. The random part makes two processes
 * that reuse a PID (a restarted container) different owners, so a restarted host never mistakes
 * the lease of its dead predecessor for its own.
 */
export function defaultOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(6).toString('base64url')}`;
}
