/** Small helpers shared by the CLI commands. */
import { InvalidArgumentError } from 'commander';

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The engine could not start anything useful (every MCP server failed): exit code 1, no stack. */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Commander parser for positive integer options, naming the option on failure. */
export function parseIntOption(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
    return n;
  };
}

export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2) ?? 'undefined'}\n`);
}
