/**
 * Live approval at the terminal (`--approve ask`): each pending call is shown on stderr and
 * answered with a line: `y` approves, `n` denies (`n <reason>` with a reason), `e <json>`
 * approves with edited arguments, `s` (or the end of input) leaves it pending, so the execution
 * suspends and can be resumed later. Answers come from stdin, or from the terminal itself
 * (`/dev/tty`) when stdin carried the script.
 */
import { createReadStream, openSync, closeSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type { ApprovalDecisions, ApprovalHandler, PendingToolCall } from '../code/types.js';
import { UsageError } from './util.js';

/** How `toolexec exec` and `toolexec resume` treat calls that need approval while the script runs. */
export type ApproveMode = 'ask' | 'deny' | 'allow';

export const APPROVE_MODES: readonly ApproveMode[] = ['ask', 'deny', 'allow'];

/** Commander parser for `--approve <mode>`. */
export function parseApproveMode(value: string): ApproveMode {
  if (!(APPROVE_MODES as readonly string[]).includes(value)) throw new UsageError(`--approve must be ask, deny or allow, got ${JSON.stringify(value)}`);
  return value as ApproveMode;
}

/** One line of a call, for people: `c3 github:create_issue {"title":"x"}` (arguments cut to a bound). */
export function describePending(p: PendingToolCall): string {
  let args = JSON.stringify(p.args);
  if (args.length > 400) args = `${args.slice(0, 400)}… (${args.length} characters)`;
  return `${p.callId} ${p.toolId} ${args}${p.title ? `  (${p.title})` : ''}`;
}

/** Lines read one at a time from a stream; `undefined` once it ended. */
class LineReader {
  private readonly lines: string[] = [];
  private readonly waiters: Array<(line: string | undefined) => void> = [];
  private ended = false;
  constructor(private readonly rl: Interface) {
    rl.on('line', (line) => {
      const w = this.waiters.shift();
      if (w) w(line);
      else this.lines.push(line);
    });
    rl.on('close', () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    });
  }
  next(signal: AbortSignal): Promise<string | undefined> {
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift());
    if (this.ended || signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const done = (line: string | undefined) => {
        signal.removeEventListener('abort', onAbort);
        resolve(line);
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(done);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      };
      this.waiters.push(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
  close(): void {
    this.rl.close();
  }
}

/**
 * The approval handler of a mode, and a `close()` for the terminal it opened. `scriptFromStdin`:
 * stdin carried the script, so `ask` reads the terminal instead.
 */
export function approvalHandler(mode: ApproveMode, options: { scriptFromStdin: boolean; err?: NodeJS.WritableStream }): { handler: ApprovalHandler; close(): void } {
  const err = options.err ?? process.stderr;
  if (mode === 'allow') {
    return {
      handler: (pending) => {
        for (const p of pending) err.write(`toolexec: approved (--approve allow): ${describePending(p)}\n`);
        return { approve: pending.map((p) => p.callId) };
      },
      close() {},
    };
  }
  if (mode === 'deny') {
    return {
      handler: (pending) => {
        for (const p of pending) err.write(`toolexec: denied (--approve deny): ${describePending(p)}\n`);
        return { deny: pending.map((p) => ({ callId: p.callId, reason: 'denied by toolexec exec --approve deny' })) };
      },
      close() {},
    };
  }
  let reader: LineReader | undefined;
  let ttyFd: number | undefined;
  const open = (): LineReader => {
    if (reader) return reader;
    let input: NodeJS.ReadableStream = process.stdin;
    if (options.scriptFromStdin) {
      try {
        ttyFd = openSync('/dev/tty', 'r');
      } catch {
        throw new Error('--approve ask needs a terminal to ask on, and stdin carried the script; pass the script as a file, or use --approve allow|deny');
      }
      input = createReadStream('', { fd: ttyFd, autoClose: false });
    }
    reader = new LineReader(createInterface({ input, terminal: false }));
    return reader;
  };
  const handler: ApprovalHandler = async (pending, { signal }) => {
    const lines = open();
    const decisions: Required<ApprovalDecisions> = { approve: [], deny: [] };
    err.write(`toolexec: ${pending.length} tool call${pending.length === 1 ? ' needs' : 's need'} approval (y: approve, n [reason]: deny, e <json>: approve with these arguments, s: leave pending)\n`);
    for (const p of pending) {
      for (;;) {
        err.write(`  ${describePending(p)}\n  approve? [y/n/e/s] `);
        const line = await lines.next(signal);
        // A piped answer is not echoed: end the prompt's line.
        if (line !== undefined && !(options.scriptFromStdin || process.stdin.isTTY)) err.write('\n');
        if (line === undefined) {
          err.write('\n');
          return decisions;
        }
        const answer = line.trim();
        if (/^(y|yes)$/i.test(answer)) decisions.approve.push(p.callId);
        else if (/^(n|no)(\s|$)/i.test(answer)) {
          const reason = answer.replace(/^(n|no)\s*/i, '');
          decisions.deny.push({ callId: p.callId, ...(reason ? { reason } : {}) });
        } else if (/^e\s/i.test(answer)) {
          let args: unknown;
          try {
            args = JSON.parse(answer.slice(2));
          } catch (e) {
            err.write(`  not JSON: ${(e as Error).message}\n`);
            continue;
          }
          if (!args || typeof args !== 'object' || Array.isArray(args)) {
            err.write('  the arguments must be a JSON object\n');
            continue;
          }
          decisions.approve.push({ callId: p.callId, args: args as Record<string, unknown> });
        } else if (/^(s|skip)?$/i.test(answer) && answer !== '') {
          // left pending
        } else {
          err.write('  answer y, n, e <json> or s\n');
          continue;
        }
        break;
      }
    }
    return decisions;
  };
  return {
    handler,
    close() {
      reader?.close();
      if (ttyFd !== undefined) {
        try {
          closeSync(ttyFd);
        } catch {
          // already closed
        }
      }
      // stdin was only paused by readline; let the process exit.
      if (!options.scriptFromStdin) process.stdin.unref?.();
    },
  };
}
