/**
 * The MCP SDK's `OAuthClientProvider` for one remote server, backed by `OAuthStore`. The SDK
 * does the protocol (protected resource and authorization server metadata discovery, dynamic
 * client registration, PKCE, code exchange, refresh on a 401); this class only keeps what it
 * hands over and decides what may happen without a user:
 *
 * - In a connection (`toolexec serve`, `tools`, `run`) nobody can click "allow": when the SDK
 *   would start a browser sign-in, `McpAuthRequiredError` is thrown instead, naming the server
 *   and `toolexec auth <server>`. Refreshing an expired access token needs nobody and happens
 *   transparently.
 * - In `toolexec auth` (`interactive`), the authorization URL goes to the caller, which opens
 *   the browser and waits on the loopback redirect.
 *
 * `fetch` (given to the SDK transport) adds two things the SDK leaves to its caller: concurrent
 * refreshes with the same refresh token become one request (a server rotating refresh tokens
 * would reject all but the first, and calls made in parallel all see the same 401), and
 * headers from the config are not sent to any other origin than the MCP server's (the SDK
 * sends its `requestInit` headers to the authorization server too).
 */
import { randomBytes } from 'node:crypto';
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { McpAuthRequiredError } from './errors.js';
import type { McpOAuthConfig } from './oauth-config.js';
import type { OAuthStore } from './oauth-store.js';

/** Client name sent in dynamic client registration (shown on consent screens). */
export const OAUTH_CLIENT_NAME = 'toolexec';

/** How long a refresh response is handed to late callers that used the same refresh token. */
const REFRESH_SHARE_MS = 10_000;

/** Fresh access tokens the server may refuse in a row before the provider gives up. */
const MAX_REFUSED_TOKENS = 3;

/** Largest answer read from discovery, registration and token endpoints (they are small JSON documents). */
export const MAX_OAUTH_RESPONSE_BYTES = 1024 * 1024;

/** `response` with its body cut off (as an error) past `limit` bytes. */
function capped(response: Response, limit: number, what: string): Response {
  if (!response.body) return response;
  let seen = 0;
  const body = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > limit) controller.error(new Error(`${what} sent more than ${limit} bytes; stopped reading`));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** The sign-in side of a provider (only `toolexec auth` has one). */
export interface McpOAuthInteraction {
  /** `http://127.0.0.1:<port>/callback`, where the loopback listener waits. */
  redirectUrl: string;
  /** Called with the authorization URL the user must open. */
  onAuthorizationUrl(url: URL): void | Promise<void>;
}

/** Options of `McpOAuthProvider`. */
export interface McpOAuthProviderOptions {
  /** The server's name in `mcpServers` (used in messages). */
  serverName: string;
  serverUrl: string;
  config?: McpOAuthConfig | undefined;
  store: OAuthStore;
  /** Header names from the server's config: kept off requests to other origins. */
  configHeaderNames?: string[];
  /** Present only for a sign-in (`toolexec auth`). */
  interaction?: McpOAuthInteraction;
  /** Underlying fetch (default: the global one). */
  fetch?: FetchLike;
  /** The config file the server is in (named in auth errors). */
  configFile?: string | undefined;
}

interface SharedResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: string;
}

/** One provider per connection (or per sign-in). */
export class McpOAuthProvider implements OAuthClientProvider {
  readonly serverName: string;
  readonly serverUrl: string;
  readonly #config: McpOAuthConfig | undefined;
  readonly #store: OAuthStore;
  readonly #interaction: McpOAuthInteraction | undefined;
  readonly #origin: string;
  readonly #configHeaders: Set<string>;
  readonly #baseFetch: FetchLike;
  readonly #configFile: string | undefined;
  /** Refresh requests in flight or just answered, by request URL and body. */
  readonly #refreshes = new Map<string, { at: number; response: Promise<SharedResponse> }>();
  /** Access tokens the MCP server answered 401 to (the last few). */
  readonly #rejectedAccessTokens = new Set<string>();
  /** Distinct access tokens refused in a row (reset by any other answer of the MCP server). */
  #refusedInARow = 0;
  /** Access tokens handed back as a refresh answer without asking the server (the last few). */
  readonly #answeredFromStore = new Map<string, number>();
  /** The refresh token of the last refresh request sent. */
  #lastRefreshToken: string | undefined;
  /** Why the last refresh failed at the transport level (5xx, network), if it did. */
  #lastRefreshFailure: string | undefined;
  /** Whether the last discovery found any OAuth metadata (undefined before one). */
  #foundMetadata: boolean | undefined;
  /** The scope of the last 403 insufficient_scope, if one came. */
  #stepUp: string | undefined;
  /** Set when this provider dropped tokens the server rejected. */
  #rejected = false;
  /** During a sign-in: the state sent with the authorization request, and whether new tokens came in. */
  #state: string | undefined;
  #signedIn = false;

  constructor(options: McpOAuthProviderOptions) {
    this.serverName = options.serverName;
    this.serverUrl = options.serverUrl;
    this.#config = options.config;
    this.#store = options.store;
    this.#interaction = options.interaction;
    this.#origin = new URL(options.serverUrl).origin;
    this.#configHeaders = new Set((options.configHeaderNames ?? []).map((h) => h.toLowerCase()));
    this.#baseFetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#configFile = options.configFile;
  }

  /** The `state` of the authorization request in progress (checked against the redirect). */
  get expectedState(): string | undefined {
    return this.#state;
  }

  /** True once a sign-in stored new tokens. */
  get signedIn(): boolean {
    return this.#signedIn;
  }

  get redirectUrl(): string {
    // Outside a sign-in the SDK needs a redirect URL only to know this is an interactive
    // client (not client_credentials); nothing is ever sent to it.
    if (this.#interaction) return this.#interaction.redirectUrl;
    const client = this.#storedClient();
    const registered = client && 'redirect_uris' in client ? client.redirect_uris[0] : undefined;
    return registered ?? `http://127.0.0.1:${this.#config?.redirectPort ?? 0}/callback`;
  }

  get clientMetadataUrl(): string | undefined {
    return this.#config?.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    const confidential = this.#config?.clientSecret !== undefined;
    return {
      client_name: OAUTH_CLIENT_NAME,
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      // A command-line tool cannot keep a secret: a public client with PKCE (RFC 8252).
      token_endpoint_auth_method: confidential ? 'client_secret_basic' : 'none',
      ...(this.#config?.scopes ? { scope: this.#config.scopes.join(' ') } : {}),
    };
  }

  state(): string {
    this.#state = randomBytes(24).toString('base64url');
    return this.#state;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    if (!this.#interaction && !this.#store.read(this.serverUrl)?.tokens) {
      // Registering a client or starting a sign-in needs the user: say so before the SDK tries.
      const why = this.#rejected ? 'the server rejected the stored credentials' : 'no stored credentials (it has not been signed in to yet)';
      // Legacy OAuth servers publish no metadata either, so this is a hint, not a verdict.
      const hint = this.#foundMetadata === false ? ' (it publishes no OAuth metadata: if it takes an API key instead, put that in its "headers")' : '';
      throw this.#authRequired(why + hint);
    }
    if (this.#config?.clientId !== undefined) {
      return { client_id: this.#config.clientId, ...(this.#config.clientSecret !== undefined ? { client_secret: this.#config.clientSecret } : {}) };
    }
    const client = this.#storedClient();
    // A registration made for another loopback port cannot be used with this redirect: register again.
    if (this.#interaction && client && 'redirect_uris' in client && Array.isArray(client.redirect_uris) && !client.redirect_uris.includes(this.#interaction.redirectUrl)) {
      return undefined;
    }
    return client;
  }

  /** Called by the SDK after discovery; only remembered (discovery runs again next time). */
  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.#foundMetadata = state.resourceMetadata !== undefined || state.authorizationServerMetadata !== undefined;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    // A client from the config stays in the config (its secret is not copied into the store).
    if (this.#config?.clientId !== undefined) return;
    this.#store.update(this.serverUrl, (r) => ({ ...r, client: info }));
  }

  tokens(): OAuthTokens | undefined {
    // A sign-in starts from scratch, but keeps the old tokens on disk until new ones arrive.
    if (this.#interaction && !this.#signedIn) return undefined;
    return this.#store.read(this.serverUrl)?.tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.#store.update(this.serverUrl, (r) => {
      const { codeVerifier: _done, ...rest } = r;
      return { ...rest, tokens, tokensSavedAt: Date.now() };
    });
    this.#lastRefreshFailure = undefined;
    this.#rejected = false;
    // New tokens may carry the scopes a step-up asked for; a 403 after them sets it again.
    this.#stepUp = undefined;
    if (this.#interaction) this.#signedIn = true;
  }

  redirectToAuthorization(authorizationUrl: URL): void | Promise<void> {
    const record = this.#store.read(this.serverUrl);
    if (!this.#interaction) {
      const stored = record?.tokens;
      const why =
        this.stepUpReason ??
        (this.#lastRefreshFailure
          ? `refreshing the access token failed (${this.#lastRefreshFailure})`
          : stored?.refresh_token
            ? 'the server rejected the access token and would not refresh it'
            : 'the server rejected the access token (expired or revoked) and there is no refresh token');
      throw this.#authRequired(why, this.#lastRefreshFailure !== undefined);
    }
    // Ask again for what the server wanted at a step-up, whatever its first 401 hinted.
    if (record?.stepUpScopes?.length) {
      const asked = new Set((authorizationUrl.searchParams.get('scope') ?? '').split(' ').filter(Boolean));
      for (const s of record.stepUpScopes) asked.add(s);
      authorizationUrl.searchParams.set('scope', [...asked].join(' '));
    }
    return this.#interaction.onAuthorizationUrl(authorizationUrl);
  }

  /** Set once the server answered 403 insufficient_scope: the sign-in granted too little. */
  get stepUpReason(): string | undefined {
    return this.#stepUp ? `the server asks for more access (scope "${this.#stepUp}") than the sign-in granted` : undefined;
  }

  saveCodeVerifier(codeVerifier: string): void {
    if (!this.#interaction) return;
    this.#store.update(this.serverUrl, (r) => ({ ...r, codeVerifier }));
  }

  codeVerifier(): string {
    const v = this.#store.read(this.serverUrl)?.codeVerifier;
    if (!v) throw new Error(`MCP server "${this.serverName}": no sign-in is in progress (no PKCE code verifier stored)`);
    return v;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'discovery') return;
    this.#store.update(this.serverUrl, (r) => {
      const next = { ...r };
      if (scope === 'all' || scope === 'client') delete next.client;
      if (scope === 'all' || scope === 'verifier') delete next.codeVerifier;
      if (scope === 'all' || scope === 'tokens') {
        // Another connection (or process) may have refreshed meanwhile: its newer tokens stay,
        // and the SDK's retry uses them.
        const current = r.tokens?.refresh_token;
        if (current === undefined || this.#lastRefreshToken === undefined || current === this.#lastRefreshToken) {
          if (r.tokens) this.#rejected = true;
          delete next.tokens;
          delete next.tokensSavedAt;
        }
      }
      return next;
    });
  }

  /** The fetch to give the SDK transport (see the module comment). */
  readonly fetch: FetchLike = async (input, init) => {
    const url = new URL(String(input));
    let effective = init;
    if (init?.headers && url.origin !== this.#origin && this.#configHeaders.size > 0) {
      const headers = new Headers(init.headers);
      for (const name of this.#configHeaders) headers.delete(name);
      effective = { ...init, headers };
    }
    const body = effective?.body;
    if (effective?.method === 'POST' && body instanceof URLSearchParams && body.get('grant_type') === 'refresh_token') {
      return this.#sharedRefresh(url, effective, body);
    }
    if (!this.#isMcpRequest(url, effective)) {
      // A server that refuses every token it is given would have the SDK refresh forever (the
      // SSE transport retries without a limit): after three fresh tokens, stop.
      if (this.#refusedInARow >= MAX_REFUSED_TOKENS) {
        throw this.#authRequired(`the server refused ${MAX_REFUSED_TOKENS} access tokens in a row, fresh ones included`);
      }
      // Discovery, registration, token: the SDK reads these whole, so a hostile server could send gigabytes.
      return capped(await this.#baseFetch(input, effective), MAX_OAUTH_RESPONSE_BYTES, url.origin + url.pathname);
    }
    const response = await this.#baseFetch(input, effective);
    if (response.status === 403) this.#noteStepUp(response);
    if (response.status !== 401) {
      this.#refusedInARow = 0;
      return response;
    }
    if (!effective?.headers) return response;
    const headers = new Headers(effective.headers);
    const sent = /^Bearer (.+)$/i.exec(headers.get('authorization') ?? '')?.[1];
    if (sent === undefined) return response;
    if (!this.#rejectedAccessTokens.has(sent)) this.#refusedInARow++;
    this.#rejectedAccessTokens.add(sent);
    if (this.#rejectedAccessTokens.size > 8) this.#rejectedAccessTokens.delete(this.#rejectedAccessTokens.values().next().value!);
    // A request sent with a token that another call has replaced meanwhile is sent again with
    // the new one, rather than making the SDK refresh a second time.
    const current = this.tokens()?.access_token;
    if (current === undefined || sent === current) return response;
    await response.body?.cancel().catch(() => {});
    headers.set('authorization', `Bearer ${current}`);
    return this.#baseFetch(input, { ...effective, headers });
  };

  async #sharedRefresh(url: URL, init: RequestInit, body: URLSearchParams): Promise<Response> {
    const refreshToken = body.get('refresh_token') ?? undefined;
    const record = this.#store.read(this.serverUrl);
    const stored = record?.tokens;
    // A call that met a 401 with an older token, while another call's refresh was replacing
    // it, asks to refresh the new tokens: they have not been refused yet, so they are the answer.
    // A bounded number of times per token, so nothing can loop on an answer the server keeps refusing.
    if (
      stored &&
      refreshToken !== undefined &&
      stored.refresh_token === refreshToken &&
      !this.#rejectedAccessTokens.has(stored.access_token) &&
      (this.#answeredFromStore.get(stored.access_token) ?? 0) < 32 &&
      record?.tokensSavedAt !== undefined
    ) {
      const left = stored.expires_in === undefined ? undefined : Math.floor((record.tokensSavedAt + stored.expires_in * 1000 - Date.now()) / 1000);
      if (left === undefined || left > 0) {
        this.#answeredFromStore.set(stored.access_token, (this.#answeredFromStore.get(stored.access_token) ?? 0) + 1);
        if (this.#answeredFromStore.size > 8) this.#answeredFromStore.delete(this.#answeredFromStore.keys().next().value!);
        const { issuer: _stamp, ...wire } = stored;
        return Response.json({ ...wire, ...(left !== undefined ? { expires_in: left } : {}) });
      }
    }
    this.#lastRefreshToken = refreshToken;
    const key = `${url.href}\n${body.toString()}`;
    const now = Date.now();
    for (const [k, v] of this.#refreshes) if (now - v.at > REFRESH_SHARE_MS) this.#refreshes.delete(k);
    let entry = this.#refreshes.get(key);
    if (!entry) {
      const response = this.#baseFetch(url, init).then(
        async (r): Promise<SharedResponse> => {
          const shared = { status: r.status, statusText: r.statusText, headers: [...r.headers], body: await capped(r, MAX_OAUTH_RESPONSE_BYTES, url.origin + url.pathname).text() };
          if (r.status >= 500) this.#lastRefreshFailure = `HTTP ${r.status} from ${url.origin}${url.pathname}`;
          return shared;
        },
        (e: unknown) => {
          this.#lastRefreshFailure = `${url.origin}${url.pathname} could not be reached: ${e instanceof Error ? e.message : String(e)}`;
          this.#refreshes.delete(key);
          throw e;
        },
      );
      entry = { at: now, response };
      this.#refreshes.set(key, entry);
      // The answer is shared for a short while after it came, not from when it was asked.
      void response.then(() => entry && (entry.at = Date.now()), () => {});
    }
    const r = await entry.response;
    return new Response(r.body, { status: r.status, statusText: r.statusText, headers: r.headers });
  }

  /**
   * A request to the MCP server rather than to OAuth endpoints: the endpoint itself, or any
   * request the SDK sends our access token with (the old SSE transport posts elsewhere).
   */
  #isMcpRequest(url: URL, init: RequestInit | undefined): boolean {
    const server = new URL(this.serverUrl);
    if (url.origin !== server.origin) return false;
    return url.pathname === server.pathname || /^Bearer /i.test(new Headers(init?.headers).get('authorization') ?? '');
  }

  #noteStepUp(response: Response): void {
    const header = response.headers.get('www-authenticate') ?? '';
    if (!/error="?insufficient_scope"?/.test(header)) return;
    const scope = /scope="([^"]*)"/.exec(header)?.[1]?.trim();
    if (!scope) return;
    this.#stepUp = scope.slice(0, 500);
    const wanted = scope.split(/\s+/).filter((s) => s.length > 0 && s.length <= 200).slice(0, 50);
    this.#store.update(this.serverUrl, (r) => ({ ...r, stepUpScopes: [...new Set([...(r.stepUpScopes ?? []), ...wanted])] }));
  }

  #storedClient(): OAuthClientInformationMixed | undefined {
    return this.#store.read(this.serverUrl)?.client;
  }

  #authRequired(reason: string, retryable = false): McpAuthRequiredError {
    return new McpAuthRequiredError(this.serverName, this.serverUrl, reason, { retryable, configFile: this.#configFile });
  }

  /** An auth error for this server (used by the connection for the server's own 401/403 answers). */
  authRequired(reason: string, cause?: unknown): McpAuthRequiredError {
    return new McpAuthRequiredError(this.serverName, this.serverUrl, reason, { cause, configFile: this.#configFile });
  }
}
