// toolexec guest fetch: `fetch`, `Headers` and `Response` for scripts whose execution has an
// egress policy (DESIGN.md "The gateway"). Without a policy none of this exists in the sandbox.
//
// This file is the body of a function of one parameter, `I` (the prelude's captured intrinsics
// and its request primitives). The prelude embeds its text and compiles it on the first use of
// any of the three globals, so executions that never touch them pay nothing for it.
//
// The request is made by the host: `fetch` sends a `fetch` request over the bridge with the URL,
// method, headers and body (text, or base64 for bytes), and the host answers with the status,
// headers and body, or an error with a code (EGRESS_DENIED, EGRESS_LIMIT, INVALID_REQUEST,
// NETWORK_ERROR, TIMEOUT, CANCELLED), which rejects as a TypeError carrying that `code`, as
// WHATWG fetch rejects network errors. Aborting through `init.signal` rejects with the signal's
// reason and tells the host to stop the request (`abort`). Everything returned is built here, in
// the guest's realm; only JSON text crosses.
'use strict';
var TypeErrorC = I.TypeErrorC;
var ErrorC = I.ErrorC;
var PromiseC = I.PromiseC;
var StringC = I.StringC;
var NumberC = I.NumberC;
var ArrayIsArray = I.ArrayIsArray;
var JSONparse = I.JSONparse;
var jsonString = I.jsonString;
var arrayPush = I.arrayPush;
var arrayJoin = I.arrayJoin;
var stringSlice = I.stringSlice;
var stringReplace = I.stringReplace;
var regexpTest = I.regexpTest;
var ObjectKeys = I.ObjectKeys;
var ObjectDefineProperty = I.ObjectDefineProperty;
var ObjectFreeze = I.ObjectFreeze;
var WeakMapC = I.WeakMapC;
var weakMapGet = I.weakMapGet;
var weakMapSet = I.weakMapSet;
var weakMapHas = I.weakMapHas;
var Uint8ArrayC = I.Uint8ArrayC;
var ArrayBufferC = I.ArrayBufferC;
var isView = I.isView;
var SymbolIterator = I.SymbolIterator;
var SymbolToStringTag = I.SymbolToStringTag;
var fromCharCode = I.fromCharCode;
var charCodeAt = I.charCodeAt;
var G = I.G;

// ---- bytes: UTF-8 and base64, the same in every runtime ----

function utf8Encode(s) {
  var out = [];
  for (var i = 0; i < s.length; i++) {
    var c = charCodeAt(s, i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      var d = charCodeAt(s, i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) arrayPush(out, c);
    else if (c < 0x800) arrayPush(out, 0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) arrayPush(out, 0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else arrayPush(out, 0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  var bytes = new Uint8ArrayC(out.length);
  for (var j = 0; j < out.length; j++) bytes[j] = out[j];
  return bytes;
}

// WHATWG "UTF-8 decode": a leading BOM is dropped, each invalid sequence becomes one U+FFFD.
function utf8Decode(b) {
  var parts = [];
  var chunk = '';
  var i = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  while (i < b.length) {
    var c = b[i];
    var cp = 0xfffd;
    var n = 1;
    if (c < 0x80) cp = c;
    else if (c >= 0xc2 && c <= 0xf4) {
      var need = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
      var lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
      var hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
      var v = c & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
      var k = 1;
      for (; k <= need; k++) {
        var x = b[i + k];
        if (x === undefined || x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) break;
        v = (v << 6) | (x & 63);
      }
      if (k > need) cp = v;
      n = k > need ? need + 1 : k;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      chunk += fromCharCode(0xd800 + (cp >> 10), 0xdc00 + (cp & 1023));
    } else chunk += fromCharCode(cp);
    i += n;
    if (chunk.length >= 8192) {
      arrayPush(parts, chunk);
      chunk = '';
    }
  }
  arrayPush(parts, chunk);
  return arrayJoin(parts, '');
}

var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64Encode(b) {
  var parts = [];
  var chunk = '';
  for (var i = 0; i < b.length; i += 3) {
    var n = (b[i] << 16) | ((i + 1 < b.length ? b[i + 1] : 0) << 8) | (i + 2 < b.length ? b[i + 2] : 0);
    chunk += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < b.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < b.length ? B64[n & 63] : '=');
    if (chunk.length >= 8192) {
      arrayPush(parts, chunk);
      chunk = '';
    }
  }
  arrayPush(parts, chunk);
  return arrayJoin(parts, '');
}

var B64_INDEX = {};
for (var bi = 0; bi < 64; bi++) B64_INDEX[B64[bi]] = bi;

function base64Decode(s) {
  var len = s.length;
  while (len > 0 && s[len - 1] === '=') len--;
  var out = new Uint8ArrayC((len * 3) >> 2);
  var o = 0;
  var acc = 0;
  var bits = 0;
  for (var i = 0; i < len; i++) {
    var v = B64_INDEX[s[i]];
    if (v === undefined) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 255;
    }
  }
  return o === out.length ? out : out.subarray(0, o);
}

function copyBytes(view) {
  var src = new Uint8ArrayC(view.buffer, view.byteOffset, view.byteLength);
  var out = new Uint8ArrayC(src.length);
  out.set(src);
  return out;
}

// ---- Headers ----

var HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
var BAD_VALUE = /[\0\r\n]/;
var headerLists = new WeakMapC();

function headerList(h) {
  if (!weakMapHas(headerLists, h)) throw new TypeErrorC('Illegal invocation: not a Headers object');
  return weakMapGet(headerLists, h);
}

function headerName(name) {
  var n = StringC(name);
  if (!regexpTest(HEADER_NAME, n)) throw new TypeErrorC('Headers: ' + jsonString(stringSlice(n, 0, 60)) + ' is not a valid header name');
  return I.toLowerCase(n);
}

function headerValue(value) {
  var v = stringReplace(StringC(value), /^[\t\n\r ]+|[\t\n\r ]+$/g, '');
  if (regexpTest(BAD_VALUE, v)) throw new TypeErrorC('Headers: a header value may not hold a line break or NUL');
  return v;
}

function fill(h, init) {
  if (init === undefined) return;
  if (init === null || (typeof init !== 'object' && typeof init !== 'function')) throw new TypeErrorC('Headers: init must be an object, a list of [name, value] pairs or a Headers');
  if (weakMapHas(headerLists, init)) {
    var src = weakMapGet(headerLists, init);
    for (var i = 0; i < src.length; i++) arrayPush(headerList(h), [src[i][0], src[i][1]]);
    return;
  }
  if (typeof init[SymbolIterator] === 'function') {
    var it = init[SymbolIterator]();
    for (var step = it.next(); !step.done; step = it.next()) {
      var pair = step.value;
      if (pair === null || typeof pair !== 'object' || pair.length !== 2) throw new TypeErrorC('Headers: each header must be a [name, value] pair');
      h.append(pair[0], pair[1]);
    }
    return;
  }
  var keys = ObjectKeys(init);
  for (var k = 0; k < keys.length; k++) h.append(keys[k], init[keys[k]]);
}

class Headers {
  constructor(init) {
    weakMapSet(headerLists, this, []);
    fill(this, init);
  }
  append(name, value) {
    arrayPush(headerList(this), [headerName(name), headerValue(value)]);
  }
  delete(name) {
    var n = headerName(name);
    var list = headerList(this);
    var kept = [];
    for (var i = 0; i < list.length; i++) if (list[i][0] !== n) arrayPush(kept, list[i]);
    list.length = 0;
    for (var j = 0; j < kept.length; j++) arrayPush(list, kept[j]);
  }
  get(name) {
    var n = headerName(name);
    var list = headerList(this);
    var found = [];
    for (var i = 0; i < list.length; i++) if (list[i][0] === n) arrayPush(found, list[i][1]);
    return found.length === 0 ? null : arrayJoin(found, ', ');
  }
  getSetCookie() {
    var list = headerList(this);
    var out = [];
    for (var i = 0; i < list.length; i++) if (list[i][0] === 'set-cookie') arrayPush(out, list[i][1]);
    return out;
  }
  has(name) {
    var n = headerName(name);
    var list = headerList(this);
    for (var i = 0; i < list.length; i++) if (list[i][0] === n) return true;
    return false;
  }
  set(name, value) {
    var n = headerName(name);
    var v = headerValue(value);
    this.delete(n);
    arrayPush(headerList(this), [n, v]);
  }
  forEach(callback, thisArg) {
    var pairs = sortedPairs(headerList(this));
    for (var i = 0; i < pairs.length; i++) callback.call(thisArg, pairs[i][1], pairs[i][0], this);
  }
  entries() {
    return iterate(sortedPairs(headerList(this)), 2);
  }
  keys() {
    return iterate(sortedPairs(headerList(this)), 0);
  }
  values() {
    return iterate(sortedPairs(headerList(this)), 1);
  }
  [SymbolIterator]() {
    return this.entries();
  }
  get [SymbolToStringTag]() {
    return 'Headers';
  }
}

// WHATWG "sort and combine": names in order, values of a name joined with ", " (set-cookie apart).
function sortedPairs(list) {
  var names = [];
  var seen = {};
  for (var i = 0; i < list.length; i++) {
    if (seen[list[i][0]] !== true) {
      seen[list[i][0]] = true;
      arrayPush(names, list[i][0]);
    }
  }
  names.sort();
  var out = [];
  for (var j = 0; j < names.length; j++) {
    var n = names[j];
    var values = [];
    for (var k = 0; k < list.length; k++) if (list[k][0] === n) arrayPush(values, list[k][1]);
    if (n === 'set-cookie') for (var c = 0; c < values.length; c++) arrayPush(out, [n, values[c]]);
    else arrayPush(out, [n, arrayJoin(values, ', ')]);
  }
  return out;
}

function iterate(pairs, part) {
  var i = 0;
  var it = {
    next: function () {
      if (i >= pairs.length) return { value: undefined, done: true };
      var p = pairs[i++];
      return { value: part === 2 ? [p[0], p[1]] : p[part], done: false };
    },
  };
  it[SymbolIterator] = function () {
    return it;
  };
  return it;
}

// ---- Response ----

var responses = new WeakMapC();

function responseState(r) {
  if (!weakMapHas(responses, r)) throw new TypeErrorC('Illegal invocation: not a Response object');
  return weakMapGet(responses, r);
}

// A body as the guest holds it: text (when the host sent text, or a string was given) or bytes.
function bodyOf(value) {
  if (value === undefined || value === null) return { text: null, bytes: null, type: null };
  if (typeof value === 'string') return { text: value, bytes: null, type: 'text/plain;charset=UTF-8' };
  if (value instanceof ArrayBufferC) return { text: null, bytes: copyBytes(new Uint8ArrayC(value)), type: null };
  if (isView(value)) return { text: null, bytes: copyBytes(value), type: null };
  var USP = G.URLSearchParams;
  if (typeof USP === 'function' && value instanceof USP) return { text: StringC(value), bytes: null, type: 'application/x-www-form-urlencoded;charset=UTF-8' };
  var tag = '';
  try {
    tag = I.objectToString(value);
  } catch (_) {}
  if (tag === '[object Blob]' || tag === '[object File]' || tag === '[object FormData]' || tag === '[object ReadableStream]' || typeof value.getReader === 'function') {
    throw new TypeErrorC('fetch(): a ' + stringSlice(tag, 8, -1) + ' body is not supported in the sandbox; send a string, an ArrayBuffer or a typed array');
  }
  return { text: StringC(value), bytes: null, type: 'text/plain;charset=UTF-8' };
}

function makeResponse(body, fields) {
  var r = I.ObjectCreate(Response.prototype);
  weakMapSet(responses, r, {
    status: fields.status,
    statusText: fields.statusText,
    headers: fields.headers,
    url: fields.url,
    redirected: fields.redirected,
    type: fields.type,
    text: body.text,
    bytes: body.bytes,
    used: false,
  });
  return r;
}

function consume(r) {
  var s = responseState(r);
  if (s.used) return PromiseC.reject(new TypeErrorC('Body is unusable: the body has already been read'));
  s.used = true;
  return PromiseC.resolve(s);
}

class Response {
  constructor(body, init) {
    var o = init === undefined || init === null ? {} : init;
    var status = o.status === undefined ? 200 : NumberC(o.status);
    if (!(status >= 200 && status <= 599) || status !== (status | 0)) throw new I.RangeErrorC('Response: status must be an integer from 200 to 599, got ' + StringC(o.status));
    var headers = new Headers(o.headers);
    var b = bodyOf(body);
    if (b.type !== null && !headers.has('content-type')) headers.set('content-type', b.type);
    weakMapSet(responses, this, {
      status: status,
      statusText: o.statusText === undefined ? '' : StringC(o.statusText),
      headers: headers,
      url: '',
      redirected: false,
      type: 'default',
      text: b.text,
      bytes: b.bytes,
      used: false,
    });
  }
  get status() {
    return responseState(this).status;
  }
  get ok() {
    var s = responseState(this).status;
    return s >= 200 && s <= 299;
  }
  get statusText() {
    return responseState(this).statusText;
  }
  get headers() {
    return responseState(this).headers;
  }
  get url() {
    return responseState(this).url;
  }
  get redirected() {
    return responseState(this).redirected;
  }
  get type() {
    return responseState(this).type;
  }
  get bodyUsed() {
    return responseState(this).used;
  }
  text() {
    return consume(this).then(function (s) {
      return s.text !== null ? s.text : s.bytes !== null ? utf8Decode(s.bytes) : '';
    });
  }
  json() {
    return this.text().then(function (t) {
      return JSONparse(t);
    });
  }
  arrayBuffer() {
    return this.bytes().then(function (b) {
      return b.buffer;
    });
  }
  bytes() {
    return consume(this).then(function (s) {
      return s.bytes !== null ? copyBytes(s.bytes) : s.text !== null ? utf8Encode(s.text) : new Uint8ArrayC(0);
    });
  }
  clone() {
    var s = responseState(this);
    if (s.used) throw new TypeErrorC('Response.clone: the body has already been read');
    return makeResponse({ text: s.text, bytes: s.bytes }, { status: s.status, statusText: s.statusText, headers: new Headers(s.headers), url: s.url, redirected: s.redirected, type: s.type });
  }
  get [SymbolToStringTag]() {
    return 'Response';
  }
  static json(data, init) {
    var text = I.JSONstringify(data);
    if (text === undefined) throw new TypeErrorC('Response.json: the value cannot be serialized to JSON');
    var o = init === undefined || init === null ? {} : init;
    var headers = new Headers(o.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new Response(text, { status: o.status, statusText: o.statusText, headers: headers });
  }
  static error() {
    return makeResponse({ text: null, bytes: null }, { status: 0, statusText: '', headers: new Headers(), url: '', redirected: false, type: 'error' });
  }
  static redirect(url, status) {
    var code = status === undefined ? 302 : NumberC(status);
    if (code !== 301 && code !== 302 && code !== 303 && code !== 307 && code !== 308) throw new I.RangeErrorC('Response.redirect: invalid status ' + StringC(status));
    var headers = new Headers();
    headers.set('location', StringC(url));
    return makeResponse({ text: null, bytes: null }, { status: code, statusText: '', headers: headers, url: '', redirected: false, type: 'default' });
  }
}

// ---- fetch ----

function abortError(signal) {
  var reason;
  try {
    reason = signal.reason;
  } catch (_) {}
  if (reason !== undefined) return reason;
  var DE = G.DOMException;
  if (typeof DE === 'function') {
    try {
      return new DE('This operation was aborted', 'AbortError');
    } catch (_) {}
  }
  var e = new ErrorC('This operation was aborted');
  e.name = 'AbortError';
  return e;
}

function urlOf(input) {
  if (typeof input === 'string') return input;
  if (input !== null && typeof input === 'object') {
    if (typeof input.href === 'string') return input.href;
    if (typeof input.url === 'string') return input.url;
  }
  return StringC(input);
}

function pairsText(pairs) {
  var parts = [];
  for (var i = 0; i < pairs.length; i++) arrayPush(parts, '[' + jsonString(pairs[i][0]) + ',' + jsonString(pairs[i][1]) + ']');
  return '[' + arrayJoin(parts, ',') + ']';
}

// The request's fields as bridge text (built from text: a patched toJSON cannot rewrite it).
function requestFields(input, init) {
  var o = init === undefined || init === null ? {} : init;
  if (typeof o !== 'object') throw new TypeErrorC('fetch(url, init): init must be an object');
  var fromRequest = input !== null && typeof input === 'object' && typeof input.url === 'string' && typeof input.href !== 'string' ? input : null;
  var method = o.method !== undefined ? StringC(o.method) : fromRequest && typeof fromRequest.method === 'string' ? fromRequest.method : 'GET';
  var headers = new Headers(o.headers !== undefined ? o.headers : fromRequest ? fromRequest.headers : undefined);
  var body = bodyOf(o.body);
  if (body.type !== null && !headers.has('content-type')) headers.set('content-type', body.type);
  var fields = ',"url":' + jsonString(urlOf(input)) + ',"method":' + jsonString(method) + ',"headers":' + pairsText(headerList(headers));
  if (body.text !== null) fields += ',"body":' + jsonString(body.text) + ',"bodyEncoding":"text"';
  else if (body.bytes !== null) fields += ',"body":"' + base64Encode(body.bytes) + '","bodyEncoding":"base64"';
  if (o.redirect !== undefined) fields += ',"redirect":' + jsonString(o.redirect);
  var signal = o.signal === undefined || o.signal === null ? null : o.signal;
  if (signal !== null && typeof signal !== 'object') throw new TypeErrorC('fetch(url, init): init.signal must be an AbortSignal');
  return { fields: fields, signal: signal };
}

function responseFromHost(d) {
  if (d === null || typeof d !== 'object') throw new TypeErrorC('fetch(): the host sent no response');
  var headers = new Headers();
  var list = headerList(headers);
  var raw = ArrayIsArray(d.headers) ? d.headers : [];
  for (var i = 0; i < raw.length; i++) if (ArrayIsArray(raw[i]) && typeof raw[i][0] === 'string' && typeof raw[i][1] === 'string') arrayPush(list, [raw[i][0], raw[i][1]]);
  var body = typeof d.body !== 'string' ? { text: null, bytes: null } : d.bodyEncoding === 'base64' ? { text: null, bytes: base64Decode(d.body) } : { text: d.body, bytes: null };
  return makeResponse(body, {
    status: typeof d.status === 'number' ? d.status : 0,
    statusText: typeof d.statusText === 'string' ? d.statusText : '',
    headers: headers,
    url: typeof d.url === 'string' ? d.url : '',
    redirected: d.redirected === true,
    type: 'basic',
  });
}

function fetchError(data, requestId) {
  var d = data !== null && typeof data === 'object' ? data : {};
  var e = new TypeErrorC(typeof d.message === 'string' ? d.message : 'fetch failed');
  e.code = typeof d.code === 'string' ? d.code : 'NETWORK_ERROR';
  I.markToolError(e, requestId);
  return e;
}

function fetch(input, init) {
  return new PromiseC(function (resolve, reject) {
    var req;
    try {
      req = requestFields(input, init);
    } catch (e) {
      reject(e);
      return;
    }
    var signal = req.signal;
    if (signal !== null && signal.aborted === true) {
      reject(abortError(signal));
      return;
    }
    var settled = false;
    var onAbort = null;
    var cleanup = function () {
      if (onAbort !== null) {
        try {
          signal.removeEventListener('abort', onAbort);
        } catch (_) {}
      }
    };
    var id = I.rawRequest('fetch', req.fields, function (ok, data, requestId) {
      if (settled) return;
      settled = true;
      cleanup();
      if (!ok) {
        reject(fetchError(data, requestId));
        return;
      }
      try {
        resolve(responseFromHost(data));
      } catch (e) {
        reject(e);
      }
    });
    if (signal !== null && typeof signal.addEventListener === 'function') {
      onAbort = function () {
        if (settled) return;
        settled = true;
        I.cancelRequest(id);
        cleanup();
        reject(abortError(signal));
      };
      signal.addEventListener('abort', onAbort);
    }
  });
}

ObjectFreeze(Headers.prototype);
ObjectFreeze(Headers);
ObjectFreeze(Response.prototype);
ObjectFreeze(Response);
ObjectDefineProperty(fetch, 'name', { value: 'fetch' });
return { fetch: ObjectFreeze(fetch), Headers: Headers, Response: Response };
