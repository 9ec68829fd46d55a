import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig, userConfigDir } from '../../src/config/load-config.js';

/** The problems a config text is rejected with. */
function problems(config: unknown): string[] {
  try {
    parseConfig(typeof config === 'string' ? config : JSON.stringify(config), { shown: 'toolexec.config.json' });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('the config was accepted');
}

const server = { command: 'node', args: ['server.js'] };

describe('loadConfig / parseConfig', () => {
  it('accepts a full config and resolves paths against the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-config-'));
    mkdirSync(join(dir, 'srv'));
    const file = join(dir, 'toolexec.config.json');
    writeFileSync(
      file,
      JSON.stringify({
        $schema: './schema.json',
        mcpServers: {
          memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'], env: { MEMORY_FILE_PATH: '/tmp/m.jsonl' }, cwd: 'srv', autoApprove: [] },
          remote: { url: 'http://127.0.0.1:9/mcp', headers: { Authorization: 'Bearer x' } },
          off: { command: 'nothing', disabled: true },
        },
        tools: ['./tools.mjs'],
        runtime: 'quickjs',
        limits: { timeoutMs: 5000, memoryMb: 32, maxToolCalls: 10 },
        toolTimeoutMs: 2000,
        allow: ['memory:*', 'math:add'],
        deny: ['memory:delete_*'],
      }),
    );
    const c = loadConfig(file);
    expect(c.file).toBe(file);
    expect(c.tools).toEqual([join(dir, 'tools.mjs')]);
    expect(c.mcpServers.map((s) => [s.name, s.transport, s.disabled])).toEqual([
      ['memory', 'stdio', false],
      ['remote', 'http', false],
      ['off', 'stdio', true],
    ]);
    expect(c.mcpServers[0]).toMatchObject({ command: 'npx', cwd: join(dir, 'srv'), env: { MEMORY_FILE_PATH: '/tmp/m.jsonl' } });
    expect(c.limits).toEqual({ timeoutMs: 5000, memoryMb: 32, maxToolCalls: 10 });
    expect(c).toMatchObject({ runtime: 'quickjs', toolTimeoutMs: 2000, allow: ['memory:*', 'math:add'], deny: ['memory:delete_*'] });
  });

  it('finds toolexec.config.json in the working directory, and is empty without one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-config-'));
    expect(loadConfig(undefined, { cwd: dir })).toMatchObject({ mcpServers: [], tools: [], allow: [], deny: [] });
    writeFileSync(join(dir, 'toolexec.config.json'), JSON.stringify({ tools: ['t.mjs'] }));
    expect(loadConfig(undefined, { cwd: dir }).tools).toEqual([join(dir, 't.mjs')]);
  });

  it('names a missing --config file', () => {
    expect(() => loadConfig('nope.json', { cwd: '/tmp' })).toThrow(/nope\.json: file not found \(looked at \/tmp\/nope\.json\)/);
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-config-'));
    expect(() => loadConfig(dir)).toThrow(/not a file/);
  });

  it('reports invalid JSON with line and column', () => {
    const [p] = problems('{\n  "tools": ["a.mjs"],\n  "runtime": quickjs\n}');
    expect(p).toMatch(/^invalid JSON: .* at line 3, column 14/);
    expect(problems('')[0]).toMatch(/^invalid JSON/);
  });

  it('wants an object at the top', () => {
    expect(problems([])).toEqual(['the config must be a JSON object, got an array']);
    expect(problems('null')).toEqual(['the config must be a JSON object, got null']);
  });

  it('names unknown top-level keys, with a suggestion for typos', () => {
    const [p] = problems({ mcpServer: {} });
    expect(p).toMatch(/^unknown top-level key "mcpServer" \(did you mean "mcpServers"\?\); known keys: .*mcpServers/);
    expect(problems({ frobnicate: 1 })[0]).toMatch(/^unknown top-level key "frobnicate"; known keys/);
  });

  it('names the server key and what is wrong with it', () => {
    expect(problems({ mcpServers: { memory: { command: 'npx', args: '-y server-memory' } } })).toEqual([
      'mcpServers.memory.args must be array, got the string "-y server-memory"',
    ]);
    expect(problems({ mcpServers: { memory: { command: 'npx', args: ['-y', 3] } } })).toEqual(['mcpServers.memory.args[1] must be string, got number 3']);
    expect(problems({ mcpServers: { memory: { command: 42 } } })).toEqual(['mcpServers.memory.command must be string, got number 42']);
    expect(problems({ mcpServers: { memory: { command: 'x', env: { TOKEN: 1 } } } })).toEqual(['mcpServers.memory.env.TOKEN must be string, got number 1']);
    expect(problems({ mcpServers: { memory: 'npx server-memory' } })).toEqual(['mcpServers.memory must be object, got the string "npx server-memory"']);
    expect(problems({ mcpServers: [] })).toEqual(['mcpServers must be object, got an array']);
  });

  it('reports what only the MCP parser knows: command or url, transport, namespaces', () => {
    expect(problems({ mcpServers: { a: {} } })[0]).toMatch(/mcpServers\.a needs either "command".*or "url"/);
    expect(problems({ mcpServers: { a: { command: 'x', url: 'http://127.0.0.1/' } } })[0]).toMatch(/mcpServers\.a has both "command" and "url"/);
    expect(problems({ mcpServers: { a: { url: 'ftp://x' } } })[0]).toMatch(/mcpServers\.a\.url must be an http: or https: URL/);
    expect(problems({ mcpServers: { a: { command: 'x', type: 'carrier-pigeon' } } })[0]).toMatch(/mcpServers\.a\.type must be one of/);
    expect(problems({ mcpServers: { 'my server': server, my_server: server } })[0]).toMatch(/both map to the tool namespace "my_server"/);
  });

  it('checks runtime, limits, tools and timeouts', () => {
    expect(problems({ runtime: 'v8' })[0]).toMatch(/^runtime must be one of "quickjs", "isolated-vm", "docker", got the string "v8"/);
    expect(problems({ limits: { timeout: 5 } })[0]).toMatch(/^unknown key limits\.timeout \(did you mean "timeoutMs"\?\)/);
    expect(problems({ limits: { timeoutMs: '5s' } })).toEqual(['limits.timeoutMs must be integer, got the string "5s"']);
    expect(problems({ limits: { memoryMb: 0 } })).toEqual(['limits.memoryMb must be >= 1, got number 0']);
    expect(problems({ tools: './tools.mjs' })).toEqual(['tools must be array, got the string "./tools.mjs"']);
    expect(problems({ toolTimeoutMs: 1.5 })).toEqual(['toolTimeoutMs must be integer, got number 1.5']);
  });

  it('checks the serve section: descriptionBudget', () => {
    expect(parseConfig(JSON.stringify({ serve: { descriptionBudget: 12_000 } })).serve).toEqual({ descriptionBudget: 12_000 });
    expect(parseConfig('{}').serve).toBeUndefined();
    expect(problems({ serve: { descriptionBudjet: 12_000 } })[0]).toMatch(/^unknown key serve\.descriptionBudjet \(did you mean "descriptionBudget"\?\); known keys: .*descriptionBudget/);
    expect(problems({ serve: { descriptionBudget: 32 } })).toEqual(['serve.descriptionBudget must be >= 2000, got number 32']);
    expect(problems({ serve: { descriptionBudget: '8k' } })).toEqual(['serve.descriptionBudget must be integer, got the string "8k"']);
  });

  it('checks allow/deny patterns', () => {
    expect(problems({ deny: ['github:delete issue'] })[0]).toMatch(/^deny\[0\] must be a tool ID pattern .*got the string "github:delete issue"/);
    expect(problems({ allow: 'github:*' })).toEqual(['allow must be array, got the string "github:*"']);
    expect(problems({ allow: ['a:*'], expose: ['b:*'] })[0]).toMatch(/"expose" and "allow" are the same setting/);
    expect(parseConfig(JSON.stringify({ expose: ['b:*'] })).allow).toEqual(['b:*']);
  });

  it('reports every problem at once', () => {
    const list = problems({ runtime: 1, limits: { memoryMb: -1 }, bogus: true });
    expect(list).toHaveLength(3);
    const err = (() => {
      try {
        parseConfig(JSON.stringify({ runtime: 1, bogus: true }), { shown: 'my.json' });
      } catch (e) {
        return e as ConfigError;
      }
    })()!;
    expect(err.message).toMatch(/^my\.json: 2 problems:\n- /);
    expect(err.code).toBe('CONFIG');
  });
});

describe('the docker section: engines', () => {
  const tlsDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-config-tls-'));
    mkdirSync(join(dir, 'certs'));
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, 'certs', f), '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    return dir;
  };

  it('accepts engines with TLS files relative to the file, ${VAR} in addresses, and hands them on', () => {
    const dir = tlsDir();
    const file = join(dir, 'toolexec.config.json');
    writeFileSync(
      file,
      JSON.stringify({
        runtime: 'docker',
        docker: {
          runtime: 'runsc',
          minIdle: 1,
          engines: [
            { name: 'a', host: 'tcp://${SANDBOX_A}:2376', tls: { ca: 'certs/ca.pem', cert: 'certs/cert.pem', key: 'certs/key.pem' } },
            { name: 'local', socketPath: '/var/run/docker.sock', weight: 2, runtime: 'runc' },
          ],
        },
      }),
    );
    const c = loadConfig(file, { env: { SANDBOX_A: '10.0.0.2' } });
    expect(c.docker).toEqual({
      runtime: 'runsc',
      minIdle: 1,
      engines: [
        { name: 'a', host: 'tcp://10.0.0.2:2376', tls: { ca: join(dir, 'certs/ca.pem'), cert: join(dir, 'certs/cert.pem'), key: join(dir, 'certs/key.pem') } },
        { name: 'local', socketPath: '/var/run/docker.sock', weight: 2, runtime: 'runc' },
      ],
    });
  });

  it('names the engine and the fix: a typo, a missing certificate, plain TCP, an unknown docker key', () => {
    expect(problems({ docker: { engnes: [] } })).toEqual([expect.stringMatching(/^unknown key docker\.engnes \(did you mean "engines"\?\); known keys: engines, image/)]);
    expect(problems({ docker: { engines: [{ name: 'b', hots: 'tcp://10.0.0.3:2376' }] } })).toEqual([
      'docker.engines[0] ("b"): unknown key "hots" (did you mean "host"?); known keys: name, host, socketPath, tls, insecure, weight, runtime',
      'docker.engines[0] ("b"): needs a host ("tcp://10.0.0.2:2376", with tls) or a socketPath ("/var/run/docker.sock")',
    ]);
    const missing = problems({ docker: { engines: [{ name: 'c', host: 'tcp://10.0.0.4:2376', tls: { ca: '/nope/ca.pem', cert: '/nope/cert.pem', key: '/nope/key.pem' } }] } });
    expect(missing).toHaveLength(3);
    expect(missing[0]).toMatch(/^docker\.engines\[0\] \("c"\): tls\.ca file not found: \/nope\/ca\.pem\. Point it at the PEM file/);
    expect(problems({ docker: { engines: [{ host: 'tcp://10.0.0.5:2375' }] } })).toEqual([
      expect.stringMatching(/^docker\.engines\[0\] \(tcp:\/\/10\.0\.0\.5:2375\): a tcp:\/\/ engine needs tls .* root on that host\. Add tls .*or set "insecure": true/),
    ]);
    expect(problems({ docker: { engines: [{ host: 'tcp://${NOT_SET_ANYWHERE_X}:2376', insecure: true }] } })[0]).toMatch(/docker\.engines\[0\]\.host refers to \$\{NOT_SET_ANYWHERE_X\}/);
    expect(problems({ docker: { engines: [{ name: 'lab', host: 'tcp://10.0.0.6:2375', insecure: true }], minIdle: -1 } })).toEqual(['docker.minIdle must be >= 0, got number -1']);
  });
});

describe('paths and the environment in a config file', () => {
  it('resolves every relative path against the file, and starts servers in its directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-config-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'srv.env'), 'FROM_FILE=value-from-file\n');
    writeFileSync(
      join(dir, 'sub', 'toolexec.config.json'),
      JSON.stringify({
        mcpServers: {
          local: { command: './bin/server', args: ['./data.json'], envFile: 'srv.env' },
          placed: { command: 'node', cwd: '../elsewhere' },
        },
        tools: ['./tools.mjs'],
      }),
    );
    // Loaded from another working directory: nothing depends on it.
    const c = loadConfig(join('sub', 'toolexec.config.json'), { cwd: dir });
    const [local, placed] = c.mcpServers;
    expect(local).toMatchObject({ command: join(dir, 'sub', 'bin', 'server'), args: ['./data.json'], cwd: join(dir, 'sub'), env: { FROM_FILE: 'value-from-file' } });
    expect(placed).toMatchObject({ command: 'node', cwd: join(dir, 'elsewhere') });
    expect(c.tools).toEqual([join(dir, 'sub', 'tools.mjs')]);
  });

  it('expands ${VAR} from the given environment, naming a missing variable and its server', () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-config-'));
    const file = join(dir, 'toolexec.config.json');
    writeFileSync(file, JSON.stringify({ mcpServers: { github: { command: 'gh-mcp', env: { GITHUB_TOKEN: '${MY_GH_TOKEN}' } } } }));
    const c = loadConfig(file, { env: { MY_GH_TOKEN: 'ghp_abcdefghijklmnop' } });
    expect(c.mcpServers[0]).toMatchObject({ env: { GITHUB_TOKEN: 'ghp_abcdefghijklmnop' }, secrets: [{ name: 'MY_GH_TOKEN', value: 'ghp_abcdefghijklmnop' }] });
    expect(() => loadConfig(file, { env: {} })).toThrow(
      /toolexec\.config\.json: mcpServers\.github\.env\.GITHUB_TOKEN refers to \$\{MY_GH_TOKEN\}, which is not set in the environment/,
    );
  });

  it('reports a typo inside a server entry with a suggestion', () => {
    expect(problems({ mcpServers: { memory: { command: 'npx', evn: { A: 'b' } } } })[0]).toMatch(/^unknown key mcpServers\.memory\.evn \(did you mean "env"\?\)/);
    expect(problems({ mcpServers: { memory: { command: 'npx', timout: 5 } } })[0]).toMatch(/^unknown key mcpServers\.memory\.timout \(did you mean "timeout"\?\)/);
  });

  it('falls back to the user config directory when the working directory has no config', () => {
    const home = mkdtempSync(join(tmpdir(), 'toolexec-home-'));
    const cwd = mkdtempSync(join(tmpdir(), 'toolexec-cwd-'));
    expect(userConfigDir({ HOME: home })).toBe(join(home, '.config', 'toolexec'));
    expect(userConfigDir({ HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') })).toBe(join(home, 'xdg', 'toolexec'));
    expect(loadConfig(undefined, { cwd, env: { HOME: home } }).file).toBeUndefined();
    mkdirSync(join(home, '.config', 'toolexec'), { recursive: true });
    const file = join(home, '.config', 'toolexec', 'toolexec.config.json');
    writeFileSync(file, JSON.stringify({ tools: ['./mine.mjs'] }));
    const c = loadConfig(undefined, { cwd, env: { HOME: home } });
    expect(c.file).toBe(file);
    expect(c.tools).toEqual([join(home, '.config', 'toolexec', 'mine.mjs')]);
    // The working directory's file wins.
    writeFileSync(join(cwd, 'toolexec.config.json'), JSON.stringify({ tools: ['./here.mjs'] }));
    expect(loadConfig(undefined, { cwd, env: { HOME: home } }).tools).toEqual([join(cwd, 'here.mjs')]);
  });
});

describe('approval and store keys', () => {
  it('reads approve, approveDestructive, approvalTimeoutMs and the store section, resolving store.path against the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolexec-config-store-'));
    const file = join(dir, 'toolexec.config.json');
    writeFileSync(file, JSON.stringify({ approve: ['github:create_*'], approveDestructive: true, approvalTimeoutMs: 60000, store: { kind: 'sqlite', path: 'data/x.db', executionTtlMs: 3600000 } }));
    const c = loadConfig(file);
    expect(c.approve).toEqual(['github:create_*']);
    expect(c.approveDestructive).toBe(true);
    expect(c.approvalTimeoutMs).toBe(60000);
    expect(c.store).toEqual({ kind: 'sqlite', path: join(dir, 'data', 'x.db'), executionTtlMs: 3600000 });
    expect(loadConfig(undefined, { cwd: mkdtempSync(join(tmpdir(), 'toolexec-empty-')), env: { HOME: dir } }).approve).toEqual([]);
  });

  it('names each mistake and the fix', () => {
    expect(problems({ store: { kind: 'sqlite', paht: 'x.db' } })).toEqual([expect.stringMatching(/unknown key store\.paht \(did you mean "path"\?\); known keys: kind, path, url/)]);
    expect(problems({ store: { kind: 'postgres' } })[0]).toMatch(/^store\.kind /);
    expect(problems({ store: { url: 'http://localhost:6379', kind: 'redis' } })).toEqual([expect.stringMatching(/store\.url must be a Redis URL \(redis:\/\/host:6379 or rediss:\/\/ for TLS\)/)]);
    expect(problems({ store: { url: 'redis://127.0.0.1:6379' } })).toEqual(['store.url is for the redis store; set store.kind to "redis"']);
    expect(problems({ store: { kind: 'redis', path: 'x.db' } })).toEqual(['store.path is for the sqlite store; a redis store takes store.url']);
    expect(problems({ approve: ['github:create issue'] })[0]).toMatch(/approve\[0\] must be a tool ID pattern/);
    expect(problems({ approveDestructive: 'yes' })[0]).toMatch(/^approveDestructive /);
    expect(problems({ approvalTimeoutMs: 0 })[0]).toMatch(/^approvalTimeoutMs /);
  });
});
