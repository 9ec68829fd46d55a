'use strict';
// Far-side services: the one synchronous primitive the guest prelude may call besides
// `__toolexec_send`, as `__toolexec_call(op, a, b, c)` with string arguments, returning a string.
// Every far side runs it in Node (the QuickJS worker thread or the host thread for
// `isolation: 'none'`, the isolated-vm sandbox process, the Docker agent), so what it answers is
// Node's own: the WHATWG URL parser (Ada), ICU's Intl for QuickJS (which has none), a monotonic
// clock, and the source text of the guest's standard library (runtimes/stdlib/*.js), compiled
// in the guest the first time a script touches one of its globals.
//
// Only strings cross, in both directions: whatever it builds (URL records, formatted parts) goes
// back as JSON text that the guest parses in its own realm. It never throws into the guest: a
// failure is the text `!` + JSON {name, message}, which the guest rethrows as its own error of
// that name. Its work is bounded by its input, and the input by MAX_ARG_CHARS.

const MAX_ARG_CHARS = 4 * 1024 * 1024;
const CACHE_MAX = 64;
const STDLIB = ['json', 'timers', 'domexception', 'events', 'encoding', 'base64', 'crypto', 'clone', 'url', 'intl', 'durable', 'fetch'];

/** Whole-line `//` comments, blank lines and indentation cost QuickJS compile time; none of the library files has a multi-line string. */
function compact(text) {
  return text
    .split('\n')
    .map((line) => line.trimStart())
    .filter((line) => line.length > 0 && !line.startsWith('//'))
    .join('\n');
}

/** The library sources from runtimes/stdlib/ (the Docker agent is given them by the host instead). */
function readStdlib(dir) {
  const fs = require('node:fs');
  const path = require('node:path');
  const out = {};
  for (const name of STDLIB) out[name] = fs.readFileSync(path.join(dir, name + '.js'), 'utf8');
  return out;
}

function fail(e) {
  let name = 'Error';
  let message = 'the host service failed';
  try {
    if (e && typeof e.name === 'string') name = e.name;
    if (e && typeof e.message === 'string') message = e.message;
    else message = String(e);
  } catch (_) {}
  return '!' + JSON.stringify({ name, message });
}

/**
 * @param {{ stdlib?: Record<string, string>, stdlibDir?: string }} [options]
 * @returns {{ call(op: unknown, a?: unknown, b?: unknown, c?: unknown): string }}
 */
function createServices(options = {}) {
  const sources = options.stdlib ?? readStdlib(options.stdlibDir ?? require('node:path').join(__dirname, 'stdlib'));
  const libs = new Map();
  for (const name of Object.keys(sources)) libs.set(name, compact(String(sources[name])));
  const origin = performance.now();
  const cache = new Map();

  function cached(key, make) {
    let v = cache.get(key);
    if (v !== undefined) {
      cache.delete(key);
      cache.set(key, v);
      return v;
    }
    v = make();
    cache.set(key, v);
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value);
    return v;
  }

  // ---- URL: Node's own parser; a record of every component, or null when it does not parse ----
  function record(u) {
    return JSON.stringify([u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash]);
  }
  const URL_SETTERS = new Set(['href', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);

  // ---- Intl (for QuickJS): instances cached by the key the guest computed once per object ----
  const KINDS = new Set(['Collator', 'DateTimeFormat', 'DisplayNames', 'ListFormat', 'Locale', 'NumberFormat', 'PluralRules', 'RelativeTimeFormat', 'Segmenter']);
  function instance(key) {
    return cached(key, () => {
      const [kind, locales, opts] = JSON.parse(key);
      if (!KINDS.has(kind)) throw new TypeError('unknown Intl constructor');
      const C = Intl[kind];
      if (kind === 'Locale') return new C(locales, opts);
      return new C(locales === null ? undefined : locales, opts === null ? undefined : opts);
    });
  }
  // Numbers travel as text so that NaN, Infinity and -0 survive; a leading `b` is a BigInt, `s` a decimal string.
  function num(t) {
    if (typeof t !== 'string') return t;
    if (t[0] === 'b') return BigInt(t.slice(1));
    if (t[0] === 's') return t.slice(1);
    return Number(t);
  }
  function parts(list) {
    return list.map((p) => {
      const o = {};
      for (const k of Object.keys(p)) o[k] = typeof p[k] === 'bigint' ? String(p[k]) : p[k];
      return o;
    });
  }
  function intl(key, method, argsText) {
    const obj = instance(key);
    const args = argsText ? JSON.parse(argsText) : [];
    switch (method) {
      case 'resolvedOptions':
        return JSON.stringify(obj.resolvedOptions());
      case 'locale': {
        const l = obj;
        const out = {};
        for (const k of ['baseName', 'calendar', 'caseFirst', 'collation', 'hourCycle', 'language', 'numberingSystem', 'numeric', 'region', 'script']) out[k] = l[k];
        out.toString = l.toString();
        out.maximize = l.maximize().toString();
        out.minimize = l.minimize().toString();
        return JSON.stringify(out);
      }
      case 'format':
        if (obj instanceof Intl.DateTimeFormat) return JSON.stringify(obj.format(args[0]));
        if (obj instanceof Intl.NumberFormat) return JSON.stringify(obj.format(num(args[0])));
        if (obj instanceof Intl.RelativeTimeFormat) return JSON.stringify(obj.format(num(args[0]), args[1]));
        if (obj instanceof Intl.ListFormat) return JSON.stringify(obj.format(args[0]));
        break;
      case 'formatToParts':
        if (obj instanceof Intl.DateTimeFormat) return JSON.stringify(parts(obj.formatToParts(args[0])));
        if (obj instanceof Intl.NumberFormat) return JSON.stringify(parts(obj.formatToParts(num(args[0]))));
        if (obj instanceof Intl.RelativeTimeFormat) return JSON.stringify(parts(obj.formatToParts(num(args[0]), args[1])));
        if (obj instanceof Intl.ListFormat) return JSON.stringify(parts(obj.formatToParts(args[0])));
        break;
      case 'formatRange':
        if (obj instanceof Intl.NumberFormat) return JSON.stringify(obj.formatRange(num(args[0]), num(args[1])));
        return JSON.stringify(obj.formatRange(args[0], args[1]));
      case 'formatRangeToParts':
        if (obj instanceof Intl.NumberFormat) return JSON.stringify(parts(obj.formatRangeToParts(num(args[0]), num(args[1]))));
        return JSON.stringify(parts(obj.formatRangeToParts(args[0], args[1])));
      case 'select':
        return JSON.stringify(obj.select(num(args[0])));
      case 'selectRange':
        return JSON.stringify(obj.selectRange(num(args[0]), num(args[1])));
      case 'of':
        return JSON.stringify(obj.of(args[0]));
      case 'segment': {
        // Boundaries only: [index, isWordLike (1/0/-1 for none)]..., the guest slices the text.
        const out = [];
        for (const s of obj.segment(args[0])) out.push(s.index, s.isWordLike === undefined ? -1 : s.isWordLike ? 1 : 0);
        return JSON.stringify(out);
      }
    }
    throw new TypeError('unknown Intl method ' + method);
  }

  // Locale-sensitive methods of the built-ins, for QuickJS: the same results as Node's own.
  function locale(method, self, argsText) {
    const [locales, opts, other] = JSON.parse(argsText);
    const l = locales === null ? undefined : locales;
    const o = opts === null ? undefined : opts;
    switch (method) {
      case 'localeCompare':
        return String(cached(JSON.stringify(['Collator', l ?? null, o ?? null]), () => new Intl.Collator(l, o)).compare(self, other));
      case 'toLocaleUpperCase':
        return JSON.stringify(self.toLocaleUpperCase(l));
      case 'toLocaleLowerCase':
        return JSON.stringify(self.toLocaleLowerCase(l));
      case 'number':
        return JSON.stringify(cached(JSON.stringify(['NumberFormat', l ?? null, o ?? null]), () => new Intl.NumberFormat(l, o)).format(num(self)));
      case 'toLocaleString':
      case 'toLocaleDateString':
      case 'toLocaleTimeString':
        return JSON.stringify(new Date(Number(self))[method](l, o));
    }
    throw new TypeError('unknown locale method ' + method);
  }

  function call(op, a, b, c) {
    try {
      if (typeof op !== 'string') throw new TypeError('bad service call');
      const size = (typeof a === 'string' ? a.length : 0) + (typeof b === 'string' ? b.length : 0) + (typeof c === 'string' ? c.length : 0);
      if (size > MAX_ARG_CHARS) throw new RangeError(`the argument is too large (${size} characters; the most is ${MAX_ARG_CHARS})`);
      for (const x of [a, b, c]) if (x !== undefined && typeof x !== 'string') throw new TypeError('bad service call');
      switch (op) {
        case 'lib': {
          const text = libs.get(a);
          if (text === undefined) throw new Error('no library ' + a);
          return text;
        }
        case 'now':
          return String(performance.now() - origin);
        case 'url': {
          // a: input, b: base ('' for none, since a URL cannot be empty text)
          let u;
          try {
            u = b === undefined ? new URL(a) : new URL(a, b);
          } catch (_) {
            return 'null';
          }
          return record(u);
        }
        case 'urlset': {
          // a: href, b: setter, c: value
          if (!URL_SETTERS.has(b)) throw new TypeError('bad URL setter');
          const u = new URL(a);
          u[b] = c;
          return record(u);
        }
        case 'qsparse':
          return JSON.stringify([...new URLSearchParams(a)]);
        case 'qsstring':
          return new URLSearchParams(JSON.parse(a)).toString();
        case 'intl':
          return intl(a, b, c);
        case 'intlcmp': {
          // The hot path of sorting: a collator key, then the two strings.
          return String(instance(a).compare(b, c));
        }
        case 'locale':
          return locale(a, b, c);
        case 'intlstatic': {
          if (a === 'getCanonicalLocales') return JSON.stringify(Intl.getCanonicalLocales(JSON.parse(b)));
          if (a === 'supportedValuesOf') return JSON.stringify(Intl.supportedValuesOf(b));
          if (a === 'supportedLocalesOf') {
            const [kind, locales, opts] = JSON.parse(b);
            if (!KINDS.has(kind) || kind === 'Locale') throw new TypeError('unknown Intl constructor');
            return JSON.stringify(Intl[kind].supportedLocalesOf(locales === null ? undefined : locales, opts === null ? undefined : opts));
          }
          throw new TypeError('unknown Intl function');
        }
      }
      throw new TypeError('unknown service ' + op);
    } catch (e) {
      return fail(e);
    }
  }

  return { call };
}

module.exports = { createServices, STDLIB };
