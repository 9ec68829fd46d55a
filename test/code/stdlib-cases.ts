/**
 * The sandbox's standard library (DESIGN.md "The sandbox's standard library"), as scripts whose
 * value the conformance suite compares with what Node gives for the same text: Node is the
 * oracle. Each script is deterministic (explicit locales and time zones, no random values in
 * the result) and returns JSON.
 */
export const STDLIB_CASES: Record<string, string> = {
  'timers: order, arguments, clearing, microtasks between callbacks': `
const order = [];
// Far apart: a sandbox throttled by its CPU quota may pause between two lines, and a timer is
// due at the time it was set plus its delay, in Node as here.
setTimeout((a, b) => { order.push('t1:' + a + b); Promise.resolve().then(() => order.push('t1 micro')); }, 250, 'x', 'y');
setTimeout(() => order.push('t2'), 250);
const cleared = setTimeout(() => order.push('never'), 1);
clearTimeout(cleared);
queueMicrotask(() => order.push('microtask'));
Promise.resolve().then(() => order.push('promise'));
setTimeout(() => order.push('zero delay'), 0);
setTimeout(() => order.push('bad delay'), 'soon');
await new Promise((r) => setTimeout(r, 350));
let n = 0;
const id = setInterval(() => { n++; if (n === 3) clearInterval(id); }, 2);
await new Promise((r) => setTimeout(r, 60));
const errors = [];
for (const bad of ['code', null, 1]) { try { setTimeout(bad, 1); } catch (e) { errors.push([e.name, e.code, e.message]); } }
try { queueMicrotask({}); } catch (e) { errors.push([e.name, e.code, e.message]); }
return { order, n, errors };`,
  'structuredClone: types, cycles, shared parts and DataCloneError': `
const shared = { s: 1 };
const cyc = { name: 'c' }; cyc.self = cyc;
class Point { constructor() { this.x = 1; } get y() { return 2; } }
const src = { d: new Date(86400000), re: /a+b/gi, m: new Map([[1, { a: [1, 2] }], ['k', shared]]), s: new Set([1, 'two', shared]), u8: new Uint8Array([1, 2, 250]), f64: new Float64Array([0.5, -1]), ab: new ArrayBuffer(3), n: new Number(4), str: new String('s'), big: 10n, err: new RangeError('bad', { cause: 'why' }), p: new Point(), arr: Object.assign([1, , 3], { extra: true }), neg: -0, nan: NaN, u: undefined, cyc, a: shared, b: shared };
const c = structuredClone(src);
const tag = (v) => Object.prototype.toString.call(v);
const out = {
  tags: Object.fromEntries(Object.entries(c).map(([k, v]) => [k, tag(v)])),
  date: c.d.toISOString(), re: [c.re.source, c.re.flags], map: [...c.m.entries()].map(([k, v]) => [k, v === c.a ? 'shared' : v]),
  set: [...c.s].map((v) => (v === c.a ? 'shared' : v)), u8: [...c.u8], f64: [...c.f64], ab: c.ab.byteLength, n: c.n + 0, str: c.str + '', big: String(c.big),
  err: [c.err.name, c.err.message, c.err.cause, c.err instanceof RangeError], point: [c.p.x, c.p.y, c.p instanceof Point, Object.getPrototypeOf(c.p) === Object.prototype],
  arr: [c.arr.length, 1 in c.arr, c.arr.extra], neg: Object.is(c.neg, -0), nan: Number.isNaN(c.nan), hasU: 'u' in c, cycle: c.cyc.self === c.cyc, sharedKept: c.a === c.b, fresh: c.a !== shared,
};
const errors = [];
for (const bad of [() => 1, function named() { return 2; }, Symbol('q'), Promise.resolve(), new WeakMap(), { deep: [{ f() {} }] }]) {
  try { structuredClone(bad); errors.push('cloned'); } catch (e) { errors.push([e.name, e.message, e.code, e instanceof Error]); }
}
// Node 22's own message for this one doubles its words; the name and the gist are what count.
try { structuredClone(); } catch (e) { errors.push([e.name, /value argument must be specified/.test(e.message)]); }
return { out, errors };`,
  'URL and URLSearchParams: parsing, setters, search params, errors': `
const inputs = [['https://EXAMPLE.com:443/a/./b/../c?x=1&y=%20#frag'], ['HTTP://user:pa ss@Example.COM:8080/p?q'], ['/rel/path?z=9', 'https://base.test/dir/file'], ['../up', 'https://base.test/a/b/c'], ['https://faß.de/'], ['https://xn--fa-hia.de/'], ['file:///C:/x/../y'], ['mailto:someone@example.com'], ['data:text/plain,hi'], ['https://[::1]:3000/'], ['https://192.168.0.1.'], ['blob:https://a.test/uuid'], ['http://example.com/ space\\u00e9?q=\\u00e9']];
const parsed = inputs.map(([u, b]) => { const x = new URL(u, b); return [x.href, x.origin, x.protocol, x.username, x.password, x.host, x.hostname, x.port, x.pathname, x.search, x.hash]; });
const u = new URL('https://example.com/path?a=1&b=2&a=3');
const sp = u.searchParams;
const steps = [];
sp.append('c', 'x y&z'); steps.push(u.href);
sp.set('a', 'one'); steps.push(u.search);
sp.delete('b'); steps.push(u.href);
sp.sort(); steps.push(String(sp));
u.search = '?q=new'; steps.push([sp.get('q'), sp.size]);
u.pathname = '/a b/c'; u.hash = 'h h'; u.port = '8443'; u.hostname = 'EXAMPLE.org'; u.protocol = 'http'; u.username = 'me'; u.password = 'p@ss';
steps.push(u.href, JSON.stringify({ u }), String(u), u.toJSON());
const p = new URLSearchParams('?a=1&a=2&b=%F0%9F%98%80&c=+plus+&d');
const p2 = new URLSearchParams([['x', '1'], ['y', 'two words']]);
const p3 = new URLSearchParams({ k: 'v', n: 5 });
const params = [p.getAll('a'), p.get('b'), p.get('c'), p.get('d'), p.get('none'), p.has('a', '2'), [...p.keys()], [...p.values()], [...p], String(p2), String(p3), p.size];
const errors = [];
for (const [x, b] of [['not a url'], ['http://'], ['/only/path'], ['https://exa mple.com'], ['x', 'also not']]) { try { new URL(x, b); errors.push('parsed'); } catch (e) { errors.push([e.name, e.message, e.code, e.input]); } }
try { new URLSearchParams([['only one']]); } catch (e) { errors.push([e.name, e.message]); }
return { parsed, steps, params, errors, canParse: [URL.canParse('https://a.b'), URL.canParse('nope'), URL.canParse('/x', 'https://a.b')] };`,
  'TextEncoder and TextDecoder: UTF-8 and UTF-16, fatal, BOM, streaming': `
const enc = new TextEncoder();
const text = 'héllo € 😀 \\ud800 end';
const bytes = enc.encode(text);
const into = new Uint8Array(8);
const r = enc.encodeInto('a€😀b', into);
const d = new TextDecoder();
const stream = new TextDecoder('utf-8');
const euro = enc.encode('€€');
const streamed = stream.decode(euro.subarray(0, 2), { stream: true }) + stream.decode(euro.subarray(2, 5), { stream: true }) + stream.decode(euro.subarray(5));
const invalid = new Uint8Array([0x61, 0xff, 0xc3, 0x28, 0xe2, 0x82, 0xf0, 0x9f, 0x98]);
const errors = [];
try { new TextDecoder('utf-8', { fatal: true }).decode(invalid); } catch (e) { errors.push([e.name, e.message, e.code]); }
try { new TextDecoder('no-such-encoding'); } catch (e) { errors.push([e.name, e.message, e.code]); }
try { new TextDecoder().decode('string'); } catch (e) { errors.push([e.name, e.code]); }
const u16 = new Uint8Array([0xff, 0xfe, 0x68, 0x00, 0x69, 0x00, 0x3d, 0xd8, 0x00, 0xde]);
return {
  bytes: [...bytes], encoding: [enc.encoding, d.encoding, d.fatal, d.ignoreBOM], into: [r, [...into]], roundTrip: d.decode(bytes), streamed,
  lossy: d.decode(invalid), bom: [d.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])), new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])).length],
  utf16: [new TextDecoder('utf-16le').decode(u16), new TextDecoder('UTF-16').encoding, new TextDecoder('utf-16be').decode(new Uint8Array([0, 0x41, 0xd8, 0x3d]))],
  views: [d.decode(new Uint16Array([0x6968])), d.decode(new DataView(bytes.buffer, 0, 1)), d.decode(bytes.buffer.slice(0, 2)), d.decode()],
  errors,
};`,
  'atob and btoa, with their DOMException errors': `
const out = [btoa(''), btoa('a'), btoa('ab'), btoa('abc'), btoa('\\u00ff\\u00fe\\u0000'), atob('YWJj'), atob(' Y W\\nJj '), atob('YQ=='), atob('YQ'), atob('YWI=')];
const errors = [];
for (const bad of ['a', 'YQ=a', '*', 'YQ===', 'ab=']) { try { atob(bad); errors.push('decoded'); } catch (e) { errors.push([e.name, e.message, e.code, e instanceof DOMException]); } }
try { btoa('€'); } catch (e) { errors.push([e.name, e.message, e.code]); }
try { btoa(); } catch (e) { errors.push([e.name, e.message]); }
return { out, errors };`,
  'crypto: getRandomValues and randomUUID shapes and errors': `
const a = crypto.getRandomValues(new Uint8Array(32));
const same = crypto.getRandomValues(a) === a;
const ids = new Set(Array.from({ length: 50 }, () => crypto.randomUUID()));
const all = [...ids].every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id));
const kinds = [new Int8Array(4), new Uint16Array(4), new Int32Array(4), new BigUint64Array(2), new Uint8ClampedArray(4)].map((x) => crypto.getRandomValues(x).length);
const errors = [];
for (const bad of [new Float32Array(2), new DataView(new ArrayBuffer(4)), [1, 2], new Uint8Array(65537)]) { try { crypto.getRandomValues(bad); errors.push('filled'); } catch (e) { errors.push([e.name, e.message, e.code]); } }
const spread = new Set(crypto.getRandomValues(new Uint8Array(4096))).size > 200;
return { same, unique: ids.size, all, kinds, errors, spread, max: crypto.getRandomValues(new Uint8Array(65536)).length, tag: String(crypto), fns: [typeof crypto.randomUUID, typeof crypto.getRandomValues] };`,
  'performance.now: a monotonic number from the start of the script': `
const a = performance.now();
await new Promise((r) => setTimeout(r, 30));
const b = performance.now();
return { types: [typeof a, typeof performance.timeOrigin], monotonic: b > a, waited: b - a >= 25, origin: Math.abs(performance.timeOrigin + a - Date.now()) < 2000 };`,
  'Event, EventTarget, CustomEvent, AbortController, AbortSignal and DOMException': `
const log = [];
const t = new EventTarget();
const once = (e) => log.push(['once', e.type, e.target === t, e.currentTarget === t, e.eventPhase]);
t.addEventListener('ping', once, { once: true });
t.addEventListener('ping', { handleEvent(e) { log.push(['object', e.type]); } });
t.addEventListener('ping', once, { once: true });
const ev = new Event('ping', { cancelable: true });
t.addEventListener('ping', (e) => { e.preventDefault(); e.stopImmediatePropagation(); });
t.addEventListener('ping', () => log.push('never'));
log.push(['dispatch', t.dispatchEvent(ev), ev.defaultPrevented, ev.eventPhase, ev.target === t]);
log.push(['again', t.dispatchEvent(new Event('ping'))]);
const ce = new CustomEvent('c', { detail: { n: 1 } });
log.push(['custom', ce.detail, ce instanceof Event, ce.bubbles, ce.cancelable]);
const c = new AbortController();
c.signal.onabort = (e) => log.push(['onabort', e.type, e.isTrusted]);
c.signal.addEventListener('abort', () => log.push(['listener', c.signal.aborted]));
c.abort();
c.abort('ignored');
const r = c.signal.reason;
log.push(['reason', r.name, r.message, r.code, r instanceof DOMException, r instanceof Error]);
const custom = AbortSignal.abort('why');
let thrown; try { custom.throwIfAborted(); } catch (e) { thrown = e; }
const timeout = AbortSignal.timeout(10);
const viaAny = AbortSignal.any([new AbortController().signal, timeout]);
await new Promise((res) => viaAny.addEventListener('abort', res));
const removed = new AbortController();
const t2 = new EventTarget(); let calls = 0;
t2.addEventListener('x', () => calls++, { signal: removed.signal });
t2.dispatchEvent(new Event('x')); removed.abort(); t2.dispatchEvent(new Event('x'));
const errors = [];
try { new Event(); } catch (e) { errors.push([e.name, e.message]); }
try { new AbortSignal(); } catch (e) { errors.push([e.name, e.message]); }
const d = new DOMException('msg', 'DataCloneError');
const d2 = new DOMException('m2', { name: 'AbortError', cause: 1 });
return {
  log, thrown, timeout: [timeout.aborted, timeout.reason.name, timeout.reason.message], any: [viaAny.aborted, viaAny.reason.name], calls, errors,
  dom: [d.name, d.message, d.code, String(d), DOMException.DATA_CLONE_ERR, DOMException.ABORT_ERR, d2.name, d2.cause, new DOMException().name, d instanceof Error],
  tags: [t, c, c.signal, ev, d].map((x) => Object.prototype.toString.call(x)),
};`,
  'Intl: every constructor, with explicit locales and time zones': `
const date = new Date(Date.UTC(2024, 1, 29, 13, 5, 9, 45));
const nf = new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'EUR' });
const dtf = new Intl.DateTimeFormat('en-GB', { dateStyle: 'full', timeStyle: 'long', timeZone: 'Asia/Kolkata' });
const words = [...new Intl.Segmenter('en', { granularity: 'word' }).segment('Hello, wide world! 42')];
const graphemes = [...new Intl.Segmenter('en').segment('e\\u0301👩‍👩‍👧x')].map((s) => s.segment);
const seg = new Intl.Segmenter('ja', { granularity: 'word' }).segment('今日は良い天気');
return {
  numbers: [nf.format(1234567.891), nf.formatToParts(-0.5), new Intl.NumberFormat('en-IN').format(123456789), new Intl.NumberFormat('en', { notation: 'compact' }).format(1234567), new Intl.NumberFormat('en', { style: 'unit', unit: 'kilometer-per-hour', unitDisplay: 'long' }).format(50), new Intl.NumberFormat('en', { maximumSignificantDigits: 3 }).format(123456n), new Intl.NumberFormat('en').format('1234567890123456789.5'), new Intl.NumberFormat('en', { signDisplay: 'always' }).format(-0), new Intl.NumberFormat('en').formatRange(3, 5), [NaN, Infinity].map((x) => new Intl.NumberFormat('fr').format(x)), nf.resolvedOptions()],
  dates: [dtf.format(date), new Intl.DateTimeFormat('ja-JP-u-ca-japanese', { era: 'long', year: 'numeric', timeZone: 'UTC' }).format(date), new Intl.DateTimeFormat('en-US', { hour: 'numeric', minute: '2-digit', timeZone: 'America/New_York', timeZoneName: 'short' }).formatToParts(date), new Intl.DateTimeFormat('en', { timeZone: 'UTC' }).formatRange(date, new Date(Date.UTC(2024, 2, 3))), new Intl.DateTimeFormat('fr-FR', { timeZone: 'Europe/Paris' }).resolvedOptions()],
  collator: [['ä', 'a', 'z', 'Z', 'b', 'B', 'A'].sort(new Intl.Collator('de').compare), ['ä', 'a', 'z'].sort(new Intl.Collator('sv').compare), ['item10', 'item2', 'item1'].sort(new Intl.Collator('en', { numeric: true }).compare), new Intl.Collator('en', { sensitivity: 'base' }).compare('a', 'Á')],
  plural: [[0, 1, 2, 5].map((n) => new Intl.PluralRules('en').select(n)), [1, 2, 3, 4].map((n) => new Intl.PluralRules('en', { type: 'ordinal' }).select(n)), [1, 2, 5, 21].map((n) => new Intl.PluralRules('ru').select(n))],
  relative: [new Intl.RelativeTimeFormat('en', { numeric: 'auto' }).format(-1, 'day'), new Intl.RelativeTimeFormat('es').format(3, 'hours'), new Intl.RelativeTimeFormat('en').formatToParts(100, 'second')],
  lists: [new Intl.ListFormat('en', { type: 'disjunction' }).format(['a', 'b', 'c']), new Intl.ListFormat('de').format(['Äpfel', 'Birnen']), new Intl.ListFormat('en', { style: 'narrow', type: 'unit' }).formatToParts(['1', '2'])],
  segments: [words.map((s) => [s.segment, s.index, s.isWordLike]), graphemes, seg.containing(3), [...seg].length],
  names: [new Intl.DisplayNames('en', { type: 'region' }).of('DE'), new Intl.DisplayNames('fr', { type: 'language' }).of('en-US'), new Intl.DisplayNames('en', { type: 'currency' }).of('JPY')],
  misc: [Intl.getCanonicalLocales(['EN-us', 'zh-hant-tw']), Intl.NumberFormat.supportedLocalesOf(['en', 'xx', 'de']), Intl.supportedValuesOf('calendar').length > 5, new Intl.Locale('en-Latn-US', { hourCycle: 'h12' }).toString(), new Intl.Locale('zh').maximize().toString(), Object.prototype.toString.call(Intl), typeof Intl.DateTimeFormat().format(), Intl.NumberFormat('en') instanceof Intl.NumberFormat],
};`,
  'Intl errors read as in Node': `
const errors = [];
for (const f of [() => new Intl.NumberFormat('en', { style: 'currency' }), () => new Intl.NumberFormat('not a locale!'), () => new Intl.DateTimeFormat('en', { timeZone: 'Mars/Olympus' }), () => new Intl.DateTimeFormat('en').format(NaN), () => new Intl.PluralRules('en', { type: 'bogus' }), () => Intl.PluralRules('en'), () => new Intl.ListFormat('en').format([1, 2]), () => new Intl.RelativeTimeFormat('en').format(1, 'fortnight'), () => (5).toLocaleString('en', { maximumFractionDigits: 500 }), () => Intl.NumberFormat.supportedLocalesOf(['en', 'xx-invalid-yy'])]) {
  try { f(); errors.push('ok'); } catch (e) { errors.push([e.name, e.message]); }
}
return errors;`,
  'locale-sensitive methods of the built-ins': `
const d = new Date(Date.UTC(2023, 11, 31, 23, 59, 0));
return {
  numbers: [(1234567.891).toLocaleString('en-US'), (1234567.891).toLocaleString('de-DE'), (0.256).toLocaleString('en', { style: 'percent' }), (12345678901234567890n).toLocaleString('en'), (-0).toLocaleString('en'), (1e21).toLocaleString('fr')],
  dates: [d.toLocaleString('en-US', { timeZone: 'UTC' }), d.toLocaleDateString('de-DE', { timeZone: 'Europe/Berlin' }), d.toLocaleTimeString('ja-JP', { timeZone: 'Asia/Tokyo' }), d.toLocaleDateString('en-US', { weekday: 'long', month: 'long', day: 'numeric', timeZone: 'UTC' }), new Date(NaN).toLocaleString('en')],
  strings: ['a'.localeCompare('B'), 'résumé'.localeCompare('resume', 'en', { sensitivity: 'base' }), ['Zebra', 'apple', 'Äpfel', 'banana'].sort((x, y) => x.localeCompare(y)), ['10', '9', '1'].sort((x, y) => x.localeCompare(y, undefined, { numeric: true })), 'istanbul'.toLocaleUpperCase('tr-TR'), 'İSTANBUL'.toLocaleLowerCase('tr'), 'straße'.toLocaleUpperCase('de')],
  arrays: [[1234.5, new Date(0)].toLocaleString('de-DE', { timeZone: 'UTC' }), [1, null, 'x', 2.5].toLocaleString('en')],
};`,
};
