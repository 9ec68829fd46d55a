/**
 * Principals: who an execution belongs to. Only the principal that started a durable execution
 * may read, approve or resume it; anyone else is told that no such execution exists.
 *
 * - `user:<name>`: the OS user. The CLI's, and `toolexec serve` over stdio (its client is a local
 *   process of the same user, who approves at the terminal with `toolexec approvals`).
 * - `token:<hash>`: an HTTP client with a bearer token: the first 128 bits of the token's SHA-256,
 *   so every replica (and `toolexec approvals --token`) computes the same principal, and the
 *   store never holds the token itself.
 * - `session:<id>`: a stateful HTTP session without a token: its executions live and die with it.
 * - `anonymous`: stateless HTTP without a token (every request stands alone, so there is nothing
 *   else to bind to); anyone who can reach the server shares it, as they share the server.
 */
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';

/** The principal of a bearer token. */
export function tokenPrincipal(token: string): string {
  return `token:${createHash('sha256').update(token).digest('hex').slice(0, 32)}`;
}

/** The principal of this process's OS user. */
export function osUserPrincipal(): string {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = process.env.USER || process.env.LOGNAME || `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  return `user:${name}`;
}

/** The principal of a stateful MCP session without a token. */
export function sessionPrincipal(sessionId: string): string {
  return `session:${sessionId}`;
}

/** Stateless HTTP without a token. */
export const ANONYMOUS_PRINCIPAL = 'anonymous';
