#!/usr/bin/env node
// Builds the toolexec sandbox image OFFLINE (no registry): a root filesystem holding only this
// machine's `node` binary, the shared libraries `ldd` lists for it, a passwd entry for the
// unprivileged user and the guest agent, imported with `docker import`. Tagged
// `toolexec-sandbox:<package version>-<agent hash>` (the runtime's default image, so a checkout
// always finds an image made from its own agent) and `:latest`.
//
// Idempotent: the image carries a label with a hash of everything that went into it, and the
// build is skipped when an image with that hash already exists under the version tag.
//
//   node sandbox-image/build.mjs [--force] [--node /path/to/node] [--tag name:tag]
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, chmodSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The image name; the runtime's default image is `${IMAGE_NAME}:${version}`. */
export const IMAGE_NAME = 'toolexec-sandbox';
/** Where the agent lives inside the image. */
export const AGENT_PATH = '/opt/toolexec/agent.js';
/** The unprivileged user the container runs as (nobody:nogroup). */
export const SANDBOX_USER = '65534:65534';

function arg(name) {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

function die(message) {
  console.error(`sandbox:build: ${message}`);
  process.exit(1);
}

function docker(args, options = {}) {
  const r = spawnSync('docker', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error) die(`could not run docker (${r.error.message}); is the Docker CLI installed?`);
  return r;
}

function hashFile(hash, path) {
  // Streaming by chunks keeps a 100 MB binary out of memory.
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    let n;
    while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** Libraries the dynamic loader needs for `bin`, as absolute paths (the loader included). */
export function sharedLibraries(bin) {
  let text;
  try {
    text = execFileSync('ldd', [bin], { encoding: 'utf8' });
  } catch (err) {
    if (/not a dynamic executable/.test(String(err.stdout ?? '') + String(err.stderr ?? ''))) return [];
    die(`ldd ${bin} failed: ${err.message}`);
  }
  const libs = [];
  for (const line of text.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+)\s+\(/.exec(line);
    const path = arrow?.[1] ?? bare?.[1];
    if (path) libs.push(path);
    if (/=>\s+not found/.test(line)) die(`ldd: a library of ${bin} is missing: ${line.trim()}`);
  }
  return libs;
}

/**
 * What goes into the image: each file's path *inside the image* and where it comes from on
 * this machine. The node binary and the agent land at fixed paths; each library at the path
 * ldd found it (and at its resolved path), which is part of the image's layout.
 */
export function imageFiles(nodeBin, libs, tree = root) {
  const files = [{ dest: '/usr/bin/node', src: nodeBin }];
  for (const lib of libs) {
    files.push({ dest: lib, src: lib });
    const real = realpathSync(lib);
    if (real !== lib) files.push({ dest: real, src: lib });
  }
  files.push({ dest: AGENT_PATH, src: join(tree, 'runtimes', 'docker', 'agent.js') });
  return files;
}

/**
 * The image's content hash: the layout and, for every file, its path in the image and its
 * bytes. Where the checkout lives does not enter it (two clones at different paths share
 * one image), nor do host file names that never reach the image.
 */
export function contentHash(files) {
  const hash = createHash('sha256');
  hash.update(`layout-v3\n${AGENT_PATH}\n${SANDBOX_USER}\n`);
  for (const f of [...files].sort((a, b) => (a.dest < b.dest ? -1 : a.dest > b.dest ? 1 : 0))) {
    const real = realpathSync(f.src);
    hash.update(`${f.dest}\n${statSync(real).size}\n`);
    hashFile(hash, real);
  }
  return hash.digest('hex').slice(0, 16);
}

// Run as a script (not when imported: the tests import it to check the hash).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) build();

function build() {
  const force = process.argv.includes('--force');
  const nodeBin = realpathSync(arg('--node') ?? process.execPath);
  const agentSrc = join(root, 'runtimes', 'docker', 'agent.js');
  /** The same hash as AGENT_HASH in src/runtime/docker/index.ts: the runtime refuses an image made from another agent. */
  const agentHash = createHash('sha256').update(readFileSync(agentSrc)).digest('hex').slice(0, 12);
  const versionTag = arg('--tag') ?? `${IMAGE_NAME}:${pkg.version}-${agentHash}`;

  if (os.platform() !== 'linux') die('the offline image is made from the host node binary and needs a Linux host; use sandbox-image/Dockerfile.node instead');

  const libs = sharedLibraries(nodeBin);
  const contentHashValue = contentHash(imageFiles(nodeBin, libs));

  const info = docker(['info', '--format', '{{.ServerVersion}}']);
  if (info.status !== 0) {
    die(`Docker is not reachable (${(info.stderr || '').trim()}). Start it with: sudo bash .ci/docker-setup.sh (or: sudo dockerd &)`);
  }

  if (!force) {
    const existing = docker(['image', 'inspect', '--format', '{{index .Config.Labels "toolexec.content"}}', versionTag]);
    if (existing.status === 0 && existing.stdout.trim() === contentHashValue) {
      docker(['tag', versionTag, `${IMAGE_NAME}:latest`]);
      console.log(`sandbox:build: ${versionTag} is up to date (${contentHashValue})`);
      process.exit(0);
    }
  }

  const stage = join(root, '.tmp', 'sandbox-rootfs');
  rmSync(stage, { recursive: true, force: true });
  const put = (src, dest, mode) => {
    const target = join(stage, dest);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(realpathSync(src), target);
    if (mode !== undefined) chmodSync(target, mode);
  };

  put(nodeBin, '/usr/bin/node', 0o755);
  // Each library goes where ldd found it, and also under its resolved path: the loader searches
  // by name, and on merged-/usr hosts /lib is a symlink that the image does not have.
  for (const lib of libs) {
    put(lib, lib, 0o755);
    const real = realpathSync(lib);
    if (real !== lib) put(lib, real, 0o755);
  }
  put(agentSrc, AGENT_PATH, 0o644);
  mkdirSync(join(stage, 'etc'), { recursive: true });
  writeFileSync(join(stage, 'etc', 'passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n');
  writeFileSync(join(stage, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  mkdirSync(join(stage, 'tmp'), { recursive: true });
  chmodSync(join(stage, 'tmp'), 0o1777);

  const libDirs = [...new Set(libs.flatMap((l) => [dirname(l), dirname(realpathSync(l))]))].join(':');
  const changes = [
    `USER ${SANDBOX_USER}`,
    'WORKDIR /tmp',
    `ENV LD_LIBRARY_PATH=${libDirs}`,
    'ENV NODE_ENV=production',
    'ENV HOME=/tmp',
    `ENTRYPOINT ["/usr/bin/node"]`,
    `CMD ["${AGENT_PATH}"]`,
    `LABEL toolexec.content=${contentHashValue}`,
    `LABEL toolexec.version=${pkg.version}`,
    `LABEL toolexec.agent=${agentHash}`,
    `LABEL toolexec.node=${process.version}`,
  ];

  const tar = spawnSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', stage, '-cf', '-', '.'], {
    maxBuffer: 1024 * 1024 * 1024,
  });
  if (tar.status !== 0) die(`tar failed: ${tar.stderr?.toString()}`);
  const imported = docker(['import', ...changes.flatMap((c) => ['--change', c]), '-', versionTag], { input: tar.stdout, encoding: undefined });
  if (imported.status !== 0) die(`docker import failed: ${imported.stderr?.toString()}`);
  docker(['tag', versionTag, `${IMAGE_NAME}:latest`]);
  rmSync(stage, { recursive: true, force: true });

  // A smoke run proves the loader finds every library before any test depends on the image.
  const smoke = docker(['run', '--rm', '--network', 'none', '--entrypoint', '/usr/bin/node', versionTag, '-e', 'process.stdout.write(process.version)']);
  if (smoke.status !== 0 || smoke.stdout.trim() !== process.version) {
    die(`the image was built but node does not run in it: ${smoke.stderr || smoke.stdout}`);
  }
  console.log(`sandbox:build: built ${versionTag} and ${IMAGE_NAME}:latest (${contentHashValue}, node ${process.version})`);
}
