/**
 * `toolexec serve` over stdio: one session on this process's stdin/stdout. Nothing else may
 * write to stdout (it carries JSON-RPC); diagnostics go to stderr. No message longer than the
 * SDK client's read buffer is ever written: results are capped to `STDIO_MAX_MESSAGE_BYTES`.
 */
import { STDIO_MAX_MESSAGE_BYTES, type ToolexecServer } from './toolexec-server.js';
import { osUserPrincipal } from './principal.js';

export interface StdioServeHandle extends AsyncDisposable {
  /** Settles when the client closes the connection (stdin ends) or `close()` is called. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** Serves one session over the process's stdio (or the given streams). */
export async function serveStdio(
  server: ToolexecServer,
  streams: { stdin?: NodeJS.ReadableStream; stdout?: NodeJS.WritableStream } = {},
  /** Whose durable executions the session's are (default: the OS user, who approves them with `toolexec approvals`). */
  principal: string = osUserPrincipal(),
): Promise<StdioServeHandle> {
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  const stdin = (streams.stdin ?? process.stdin) as NodeJS.ReadStream;
  const transport = new StdioServerTransport(stdin, (streams.stdout ?? process.stdout) as NodeJS.WriteStream);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const session = await server.connect(transport, { maxMessageBytes: STDIO_MAX_MESSAGE_BYTES, principal });
  const previous = session.onclose;
  session.onclose = () => {
    previous?.();
    resolveClosed();
  };
  // The SDK transport does not notice the end of stdin; a client closing the pipe means "done".
  const onEnd = () => {
    void session.close().finally(resolveClosed);
  };
  stdin.once('end', onEnd);
  stdin.once('close', onEnd);
  const close = async () => {
    stdin.off('end', onEnd);
    stdin.off('close', onEnd);
    await session.close();
    resolveClosed();
  };
  return { closed, close, [Symbol.asyncDispose]: close };
}
