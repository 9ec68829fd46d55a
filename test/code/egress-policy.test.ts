import { describe, expect, it } from 'vitest';
import { addressRefusal, egressPolicyProblems, originRule, resolveEgressPolicy } from '../../src/code/egress-policy.js';
import { Executor } from '../../src/code/executor.js';
import { Runner } from '../../src/run/runner.js';

describe('egress policy', () => {
  it('names every problem with its key and the fix', () => {
    expect(egressPolicyProblems({ allow: [] })).toEqual([expect.stringMatching(/egress\.allow must be a non-empty list/)]);
    const problems = egressPolicyProblems({
      allow: ['ftp://x.example', 'https://a.example/path', { origin: 'https://b.example', methods: ['GET', 'TRACE'], headers: { 'bad name': 'x', host: 'h' } }, 'https://*.10.0.0.1', { origin: 'https://c.example', extra: 1 }],
      allowAddresses: ['10.0.0.0/33', 'nonsense', 'loopback'],
      maxResponseBytes: -1,
      timout: 5,
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/unknown key egress\.timout/),
        expect.stringMatching(/egress\.allow\[0\]\.origin must be an http: or https: origin/),
        expect.stringMatching(/egress\.allow\[1\]\.origin must be an origin without a path/),
        expect.stringMatching(/egress\.allow\[2\]\.methods has TRACE/),
        expect.stringMatching(/egress\.allow\[2\]\.headers has "bad name"/),
        expect.stringMatching(/egress\.allow\[2\]\.headers\.host is set by the host/),
        expect.stringMatching(/egress\.allow\[3\]\.origin cannot put "\*\." before an IP address/),
        expect.stringMatching(/unknown key egress\.allow\[4\]\.extra/),
        expect.stringMatching(/egress\.allowAddresses\[0\] has a prefix length/),
        expect.stringMatching(/egress\.allowAddresses\[1\] must be an IP address, a CIDR range/),
        expect.stringMatching(/egress\.maxResponseBytes must be an integer/),
      ]),
    );
    expect(problems.join('\n')).not.toMatch(/allowAddresses\[2\]/);
  });

  it('a header value never appears in a problem', () => {
    const problems = egressPolicyProblems({ allow: [{ origin: 'https://a.example', headers: { authorization: 'Bearer s3cr3t-value\nx' } }] });
    expect(problems).toEqual([expect.stringMatching(/headers\.authorization must be a string without line breaks/)]);
    expect(problems.join()).not.toContain('s3cr3t');
  });

  it('the executor refuses a bad policy when it is made', () => {
    expect(() => new Executor({ runner: new Runner(), egress: { allow: ['nope'] } })).toThrow(/new Executor\(options\): egress\.allow\[0\]\.origin is not an origin/);
  });

  it('matches origins exactly, default ports included, and *. subdomains', () => {
    const p = resolveEgressPolicy({ allow: ['https://api.example.com', 'http://127.0.0.1:8080', 'https://*.example.org'] });
    const rule = (u: string) => originRule(p, new URL(u))?.written;
    expect(rule('https://api.example.com:443/x')).toBe('https://api.example.com');
    expect(rule('https://API.example.com/')).toBe('https://api.example.com');
    expect(rule('http://api.example.com/')).toBeUndefined();
    expect(rule('https://api.example.com:8443/')).toBeUndefined();
    expect(rule('https://evil-api.example.com/')).toBeUndefined();
    expect(rule('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(rule('https://a.b.example.org/')).toBe('https://*.example.org');
    expect(rule('https://example.org/')).toBeUndefined();
    expect(rule('https://notexample.org/')).toBeUndefined();
  });

  it('refuses every special-purpose address unless allowAddresses lists it', () => {
    const p = resolveEgressPolicy({ allow: ['https://a.example'] });
    const refused: Record<string, string> = {
      '127.0.0.1': 'loopback',
      '10.1.2.3': 'private',
      '172.20.0.1': 'private',
      '192.168.1.1': 'private',
      '169.254.169.254': 'link-local',
      '100.64.0.1': 'shared (CGNAT)',
      '0.0.0.0': '"this network"',
      '224.0.0.1': 'multicast',
      '255.255.255.255': 'reserved',
      '::1': 'loopback',
      '::': 'unspecified',
      'fe80::1': 'link-local',
      'fd00::1': 'unique local (private)',
      '::ffff:127.0.0.1': 'loopback',
      '::ffff:169.254.169.254': 'link-local',
      '64:ff9b::a00:1': 'NAT64',
      '2002:a00:1::': '6to4',
      'ff02::1': 'multicast',
    };
    for (const [address, kind] of Object.entries(refused)) expect([address, addressRefusal(p, address)]).toEqual([address, kind]);
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '93.184.216.34']) expect(addressRefusal(p, address)).toBeUndefined();
  });

  it('allowAddresses opens addresses, ranges and named classes, nothing more', () => {
    const p = resolveEgressPolicy({ allow: ['https://a.example'], allowAddresses: ['loopback', '10.5.0.0/16', 'fd12::7'] });
    expect(addressRefusal(p, '127.0.0.2')).toBeUndefined();
    expect(addressRefusal(p, '::1')).toBeUndefined();
    expect(addressRefusal(p, '::ffff:127.0.0.1')).toBeUndefined();
    expect(addressRefusal(p, '10.5.9.9')).toBeUndefined();
    expect(addressRefusal(p, '10.6.0.1')).toBe('private');
    expect(addressRefusal(p, 'fd12::7')).toBeUndefined();
    expect(addressRefusal(p, 'fd12::8')).toBe('unique local (private)');
    expect(addressRefusal(p, '169.254.169.254')).toBe('link-local');
  });

  it('redacts every credential value, by its variable name when the config says where it came from', () => {
    const p = resolveEgressPolicy({
      allow: [{ origin: 'https://a.example', headers: { authorization: 'Bearer abcdef123456', 'x-key': 'literal-key-value' } }],
      secrets: [{ name: 'A_TOKEN', value: 'abcdef123456' }],
    });
    expect(p.redactor.redact('got Bearer abcdef123456 and literal-key-value')).toBe('got Bearer [redacted:A_TOKEN] and [redacted:https://a.example x-key]');
  });
});

describe('egress and the type checker', () => {
  it('a script using fetch type-checks only where egress is granted', async () => {
    const script = 'const res: Response = await fetch("https://127.0.0.1:1/x", { method: "POST", body: "x" });\nconst n: number = res.status;\nn';
    const granted = new Executor({ runner: new Runner(), egress: { allow: [{ origin: 'https://127.0.0.1:1', methods: ['POST'] }] } });
    const none = new Executor({ runner: new Runner() });
    try {
      const withEgress = await granted.execute(script, { typecheck: true, timeoutMs: 20_000 });
      // It type-checked: what stops it is the host (loopback is not allowed), before any connection.
      expect(withEgress.error).toMatchObject({ code: 'TOOL_ERROR', toolCode: 'EGRESS_DENIED' });
      const without = await none.execute(script, { typecheck: true, timeoutMs: 20_000 });
      expect(without.error?.code).toBe('TYPE_ERROR');
      expect(without.error?.message).toMatch(/fetch/);
    } finally {
      await granted.dispose();
      await none.dispose();
    }
  });
});
