/**
 * Where the Docker runtime's engines are: the `engines` list (local sockets, or TCP with mutual
 * TLS), or one engine from `docker` options or `DOCKER_HOST` / `DOCKER_TLS_VERIFY` /
 * `DOCKER_CERT_PATH`. Every entry is checked before anything connects, and each problem names
 * the entry and the fix, so that a typo in a list of ten hosts is found at start-up rather than
 * when that host is first picked.
 *
 * A client certificate an engine accepts is root on that engine's host (it can start a privileged
 * container that mounts `/`): keep the key as you would keep that host's root password.
 *
 * No dockerode here (types only): the config layer checks entries without loading it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { closestName } from '../../model/did-you-mean.js';
import type Dockerode from 'dockerode';

/** The OCI runtimes an engine may run sandboxes with. */
export type OciRuntime = 'runc' | 'runsc';

/** TLS files of a TCP engine: PEM paths (or PEM text). */
export interface DockerEngineTls {
  /** The CA that signed the engine's certificate (the engine is refused otherwise). */
  ca: string;
  /** This host's client certificate, signed by the CA the engine trusts (`dockerd --tlscacert`). */
  cert: string;
  /** The client certificate's private key. Whoever holds it is root on that engine's host. */
  key: string;
}

/** One Docker engine the runtime may place executions on. Exactly one of `host` and `socketPath`. */
export interface DockerEngineOptions {
  /** Name in messages, diagnostics and logs (default: derived from the address). Unique in the list. */
  name?: string;
  /**
   * `tcp://HOST:PORT` (TLS; port 2376 by default) or `unix:///path/docker.sock`. Plain TCP is
   * refused unless `insecure: true`: anyone who can reach it owns the host.
   */
  host?: string;
  /** The engine's unix socket (a local engine), e.g. `/var/run/docker.sock`. */
  socketPath?: string;
  /** Mutual TLS for a `tcp://` host: required unless `insecure: true`. */
  tls?: DockerEngineTls;
  /** Allows a `tcp://` host without TLS (a warning is printed). For isolated test networks only. */
  insecure?: boolean;
  /** Relative share of executions when several engines have room (default 1). */
  weight?: number;
  /** OCI runtime on this engine (default: the runtime's `runtime` option). */
  runtime?: OciRuntime;
}

/** The keys of {@link DockerEngineOptions}, for option checks and did-you-mean hints. */
export const ENGINE_KEYS = ['name', 'host', 'socketPath', 'tls', 'insecure', 'weight', 'runtime'] as const;
/** The keys of {@link DockerEngineTls}. */
export const ENGINE_TLS_KEYS = ['ca', 'cert', 'key'] as const;

/** The default TLS port of a Docker engine (2375 is the plain one). */
export const DOCKER_TLS_PORT = 2376;
const DEFAULT_SOCKET = '/var/run/docker.sock';
/** Largest PEM file read; certificates and keys are a few KB. */
const MAX_PEM_BYTES = 1024 * 1024;

/** One engine, resolved: how to reach it (complete dockerode options) and how to name it. */
export interface ResolvedEngine {
  name: string;
  /** The address as a user would write it (`tcp://10.0.0.2:2376`, `/var/run/docker.sock`). */
  where: string;
  /** Complete dockerode options: nothing is taken from the environment for listed engines. */
  docker: Dockerode.DockerOptions | undefined;
  weight: number;
  runtime: OciRuntime | undefined;
  /** TCP: a command prefix that points the docker CLI (and `npm run sandbox:build`) at it. */
  cliEnv?: string;
  tcp: boolean;
  tls: boolean;
  insecure: boolean;
  /** Whether the engine came from the environment or `docker` options rather than a list. */
  implicit: boolean;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}`;
  return typeof value;
}

/** `docker.engines[1] ("b")`, or `docker.engines[1] (tcp://10.0.0.2:2376)`: how an entry is named in messages. */
export function engineLabel(entry: unknown, index: number, prefix: string): string {
  const e = (entry && typeof entry === 'object' ? entry : {}) as Record<string, unknown>;
  const tag = typeof e.name === 'string' && e.name ? JSON.stringify(e.name) : typeof e.host === 'string' && e.host ? e.host : typeof e.socketPath === 'string' && e.socketPath ? e.socketPath : undefined;
  return `${prefix}[${index}]${tag ? ` (${tag})` : ''}`;
}

interface ParsedHost {
  kind: 'tcp' | 'unix';
  hostname?: string;
  port?: number;
  socketPath?: string;
  /** `https://` asks for TLS, `http://` for none, `tcp://` depends on `tls`. */
  scheme: string;
}

function parseHost(host: string): ParsedHost | string {
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    if (!path.startsWith('/')) return `unix:// needs an absolute socket path, e.g. unix:///var/run/docker.sock`;
    return { kind: 'unix', socketPath: path, scheme: 'unix' };
  }
  const m = /^([a-z]+):\/\//.exec(host);
  if (!m) return `must start with tcp:// or unix:// (e.g. tcp://10.0.0.2:2376), got ${JSON.stringify(host)}`;
  const scheme = m[1]!;
  if (scheme === 'ssh') return 'ssh:// engines are not supported; expose the engine over TCP with --tlsverify (see docs/scaling.md)';
  if (scheme !== 'tcp' && scheme !== 'https' && scheme !== 'http') return `has an unknown scheme ${JSON.stringify(scheme + '://')}; use tcp:// (TLS) or unix://`;
  let url: URL;
  try {
    url = new URL(host.replace(/^[a-z]+:/, 'http:'));
  } catch {
    return `is not a valid address: ${JSON.stringify(host)} (write tcp://HOST:PORT)`;
  }
  if (!url.hostname) return `has no host name: ${JSON.stringify(host)}`;
  if (url.pathname !== '/' || url.search || url.hash || url.username) return `must be tcp://HOST:PORT with nothing after the port, got ${JSON.stringify(host)}`;
  const port = url.port ? Number(url.port) : DOCKER_TLS_PORT;
  return { kind: 'tcp', hostname: url.hostname.replace(/^\[|\]$/g, ''), port, scheme };
}

/** A PEM given as text rather than a path (a Kubernetes secret put in an environment variable). */
function isPemText(value: string): boolean {
  return value.includes('-----BEGIN');
}

function checkPemFile(path: string, what: string, problems: string[], label: string): void {
  if (isPemText(path)) return;
  if (!existsSync(path)) {
    problems.push(`${label}: tls.${what} file not found: ${path}. Point it at the PEM file (\`docker context inspect\` or DOCKER_CERT_PATH shows where yours are), or make the certificates as docs/scaling.md shows`);
    return;
  }
  const st = statSync(path);
  if (!st.isFile()) problems.push(`${label}: tls.${what} is not a file: ${path}`);
  else if (st.size > MAX_PEM_BYTES) problems.push(`${label}: tls.${what} is ${st.size} bytes, not a PEM certificate or key: ${path}`);
}

function readPem(path: string): string {
  return isPemText(path) ? path : readFileSync(path, 'utf8');
}

/** Where a path in an entry is resolved: relative to the config file's directory. */
function resolvePath(value: string, dir: string | undefined): string {
  if (isPemText(value) || isAbsolute(value) || dir === undefined) return value;
  return resolve(dir, value);
}

/**
 * Checks a list of engine entries (as written in a config or given as options). Returns the
 * problems, each naming its entry (`prefix[1] ("b")`) and the fix; relative TLS paths are resolved
 * against `dir`. Checks that certificate files exist, not that they are valid (the engine says).
 */
export function engineProblems(list: unknown, options: { prefix?: string; dir?: string } = {}): string[] {
  const prefix = options.prefix ?? 'engines';
  const problems: string[] = [];
  if (!Array.isArray(list)) return [`${prefix} must be a list of engines ({ host, tls } or { socketPath }), got ${describe(list)}`];
  if (list.length === 0) return [`${prefix} is empty; list at least one engine, or leave it out to use DOCKER_HOST or the local socket`];
  const names = new Map<string, number>();
  list.forEach((entry, i) => {
    const label = engineLabel(entry, i, prefix);
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`${label} must be an object like { "host": "tcp://10.0.0.2:2376", "tls": { "ca", "cert", "key" } } or { "socketPath": "/var/run/docker.sock" }, got ${describe(entry)}`);
      return;
    }
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if ((ENGINE_KEYS as readonly string[]).includes(key) || e[key] === undefined) continue;
      const hint = closestName(key, ENGINE_KEYS);
      problems.push(`${label}: unknown key ${JSON.stringify(key)}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}; known keys: ${ENGINE_KEYS.join(', ')}`);
    }
    if (e.name !== undefined && (typeof e.name !== 'string' || !e.name.trim() || e.name.length > 64)) problems.push(`${label}: name must be a non-empty string of at most 64 characters`);
    if (e.weight !== undefined && (typeof e.weight !== 'number' || !Number.isFinite(e.weight) || e.weight <= 0)) problems.push(`${label}: weight must be a positive number (a relative share, default 1), got ${describe(e.weight)}`);
    if (e.runtime !== undefined && e.runtime !== 'runc' && e.runtime !== 'runsc') problems.push(`${label}: runtime must be "runc" or "runsc", got ${describe(e.runtime)}`);
    if (e.insecure !== undefined && typeof e.insecure !== 'boolean') problems.push(`${label}: insecure must be true or false, got ${describe(e.insecure)}`);
    const hasHost = e.host !== undefined;
    const hasSocket = e.socketPath !== undefined;
    if (hasHost && hasSocket) problems.push(`${label}: give either host or socketPath, not both`);
    if (!hasHost && !hasSocket) problems.push(`${label}: needs a host ("tcp://10.0.0.2:2376", with tls) or a socketPath ("/var/run/docker.sock")`);
    let tcp = false;
    if (hasHost) {
      if (typeof e.host !== 'string' || !e.host) problems.push(`${label}: host must be a string like "tcp://10.0.0.2:2376", got ${describe(e.host)}`);
      else {
        const parsed = parseHost(e.host);
        if (typeof parsed === 'string') problems.push(`${label}: host ${parsed}`);
        else tcp = parsed.kind === 'tcp';
        if (typeof parsed !== 'string' && parsed.scheme === 'https' && e.tls === undefined) problems.push(`${label}: an https:// host needs tls ({ "ca", "cert", "key" })`);
      }
    }
    if (hasSocket && (typeof e.socketPath !== 'string' || !e.socketPath.startsWith('/'))) problems.push(`${label}: socketPath must be an absolute path like "/var/run/docker.sock", got ${describe(e.socketPath)}`);
    if (e.tls !== undefined) {
      if (!e.tls || typeof e.tls !== 'object' || Array.isArray(e.tls)) problems.push(`${label}: tls must be { "ca": path, "cert": path, "key": path }, got ${describe(e.tls)}`);
      else {
        const t = e.tls as Record<string, unknown>;
        for (const key of Object.keys(t)) {
          if ((ENGINE_TLS_KEYS as readonly string[]).includes(key)) continue;
          const hint = closestName(key, ENGINE_TLS_KEYS);
          problems.push(`${label}: unknown key tls.${key}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}; known keys: ${ENGINE_TLS_KEYS.join(', ')}`);
        }
        for (const key of ENGINE_TLS_KEYS) {
          const v = t[key];
          if (v === undefined) problems.push(`${label}: tls.${key} is missing; TLS needs ca (the engine's CA), cert and key (this host's client certificate)`);
          else if (typeof v !== 'string' || !v) problems.push(`${label}: tls.${key} must be a path to a PEM file, got ${describe(v)}`);
          else checkPemFile(resolvePath(v, options.dir), key, problems, label);
        }
        if (!tcp && hasSocket) problems.push(`${label}: tls is for tcp:// hosts; a unix socket needs none`);
        if (e.insecure === true && tcp) problems.push(`${label}: insecure: true and tls contradict each other; remove insecure`);
      }
    } else if (tcp && e.insecure !== true) {
      problems.push(
        `${label}: a tcp:// engine needs tls ({ "ca", "cert", "key" }): without it anyone who can reach ${String(e.host)} is root on that host. Add tls (docs/scaling.md shows how to make the certificates), or set "insecure": true on an isolated test network`,
      );
    }
    const name = typeof e.name === 'string' && e.name ? e.name : typeof e.host === 'string' ? e.host : typeof e.socketPath === 'string' ? e.socketPath : undefined;
    if (name !== undefined) {
      const seen = names.get(name);
      if (seen !== undefined) problems.push(`${label}: the same ${e.name !== undefined ? 'name' : 'address'} as ${prefix}[${seen}]; each engine needs its own name`);
      else names.set(name, i);
    }
  });
  return problems;
}

/** Resolves a checked list into complete dockerode options (files read now). */
function resolveList(list: DockerEngineOptions[], dir: string | undefined): ResolvedEngine[] {
  return list.map((e) => {
    const weight = e.weight ?? 1;
    const runtime = e.runtime;
    if (e.socketPath !== undefined || e.host?.startsWith('unix://')) {
      const socketPath = e.socketPath ?? e.host!.slice('unix://'.length);
      return {
        name: e.name ?? socketPath,
        where: socketPath,
        // Every field set: docker-modem would otherwise fill the gaps from DOCKER_HOST & co.
        docker: { socketPath, host: undefined, port: undefined, protocol: 'http', ca: undefined, cert: undefined, key: undefined, timeout: undefined } as Dockerode.DockerOptions,
        weight,
        runtime,
        tcp: false,
        tls: false,
        insecure: false,
        implicit: false,
      };
    }
    const parsed = parseHost(e.host!) as ParsedHost;
    const where = `tcp://${parsed.hostname!.includes(':') ? `[${parsed.hostname}]` : parsed.hostname}:${parsed.port}`;
    const tls = e.tls !== undefined;
    const docker = {
      host: parsed.hostname,
      port: parsed.port,
      protocol: tls ? 'https' : 'http',
      ca: tls ? readPem(resolvePath(e.tls!.ca, dir)) : undefined,
      cert: tls ? readPem(resolvePath(e.tls!.cert, dir)) : undefined,
      key: tls ? readPem(resolvePath(e.tls!.key, dir)) : undefined,
      socketPath: undefined,
      timeout: undefined,
    } as Dockerode.DockerOptions;
    let cliEnv = `DOCKER_HOST=${where}`;
    if (tls) {
      const files = [e.tls!.ca, e.tls!.cert, e.tls!.key].map((p) => resolvePath(p, dir));
      const folder = files[0]!.replace(/\/[^/]*$/, '');
      const standard = !files.some(isPemText) && files[0] === join(folder, 'ca.pem') && files[1] === join(folder, 'cert.pem') && files[2] === join(folder, 'key.pem');
      cliEnv += standard ? ` DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=${folder}` : ' DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=<a folder with ca.pem, cert.pem and key.pem>';
    }
    return { name: e.name ?? where, where, docker, weight, runtime, cliEnv, tcp: true, tls, insecure: !tls, implicit: false };
  });
}

/**
 * The engines a runtime uses: `engines` when given; else one engine from `docker` options; else
 * one from the environment as the docker CLI reads it (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`,
 * `DOCKER_CERT_PATH`), else the local socket. Throws a `TypeError` listing every problem.
 */
export function resolveEngines(
  options: { engines?: unknown; docker?: Dockerode.DockerOptions },
  env: Record<string, string | undefined> = process.env,
  dir?: string,
): ResolvedEngine[] {
  if (options.engines !== undefined) {
    if (options.docker !== undefined) throw new TypeError('docker runtime: give either engines (a list) or docker (one engine\'s dockerode options), not both');
    const problems = engineProblems(options.engines, { prefix: 'engines', ...(dir !== undefined ? { dir } : {}) });
    if (problems.length > 0) throw new TypeError(`docker runtime: ${problems.length === 1 ? problems[0] : `${problems.length} problems with engines:\n- ${problems.join('\n- ')}`}`);
    return resolveList(options.engines as DockerEngineOptions[], dir);
  }
  if (options.docker !== undefined) {
    const d = options.docker;
    const where = d.host ? `${d.protocol === 'https' ? 'tcp' : d.protocol ?? 'tcp'}://${d.host}${d.port ? `:${d.port}` : ''}` : (d.socketPath as string | undefined) ?? env.DOCKER_HOST ?? DEFAULT_SOCKET;
    return [{ name: where, where, docker: d, weight: 1, runtime: undefined, tcp: Boolean(d.host), tls: d.protocol === 'https', insecure: false, implicit: true }];
  }
  // The environment, the way the docker CLI reads it; dockerode reads it too, so the options stay
  // empty and only the certificate files are checked here, for a message better than ENOENT.
  const host = env.DOCKER_HOST;
  const certPath = env.DOCKER_CERT_PATH;
  if (host && !host.startsWith('unix://') && !host.startsWith('npipe://') && certPath) {
    const missing = ['ca.pem', 'cert.pem', 'key.pem'].filter((f) => !existsSync(join(certPath, f)));
    if (missing.length > 0) {
      throw new TypeError(`docker runtime: DOCKER_CERT_PATH=${certPath} has no ${missing.join(', ')}; it must hold ca.pem, cert.pem and key.pem (or unset it)`);
    }
  }
  const where = host ? (host.startsWith('unix://') ? host.slice('unix://'.length) : host) : DEFAULT_SOCKET;
  const tcp = Boolean(host && !host.startsWith('unix://') && !host.startsWith('npipe://'));
  const tls = tcp && (env.DOCKER_TLS_VERIFY === '1' || /:2376\/?$/.test(host!));
  return [{ name: where, where, docker: undefined, weight: 1, runtime: undefined, tcp, tls, insecure: tcp && !tls, implicit: true, ...(tcp ? { cliEnv: `DOCKER_HOST=${host}${tls ? ` DOCKER_TLS_VERIFY=1${certPath ? ` DOCKER_CERT_PATH=${certPath}` : ''}` : ''}` } : {}) }];
}
