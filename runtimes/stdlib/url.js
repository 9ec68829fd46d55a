// toolexec standard library: URL and URLSearchParams. Parsing and every setter are Node's own
// WHATWG URL parser (Ada) on the far side, reached through the synchronous services with text
// in and a JSON record out: results are Node's by construction, IDNA included, and the guest
// carries no parser. A URL object here holds only the record, in the guest's realm.
'use strict';
var TypeErrorC = TypeError;
var StringC = String;
var JSONparse = I.JSONparse;
var JSONstringify = I.JSONstringify;
var service = I.service;
var records = new WeakMap();
var paramsOf = new WeakMap();
var lists = new WeakMap();
var owners = new WeakMap();
var FIELDS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];

// USVString conversion: lone surrogates become U+FFFD, as WebIDL does before Node sees them.
function usv(v) {
  var s = StringC(v);
  if (typeof s.toWellFormed === 'function') return s.toWellFormed();
  return /[\uD800-\uDFFF]/.test(s) ? s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/g, function (m, before) { return before === undefined ? '\uFFFD' : before + '\uFFFD'; }) : s;
}
function invalid(input, base) {
  var e = new TypeErrorC('Invalid URL');
  e.code = 'ERR_INVALID_URL';
  e.input = input;
  if (base !== undefined) e.base = base;
  return e;
}
function parse(input, base) {
  var text = base === undefined ? service('url', input) : service('url', input, base);
  return text === 'null' ? null : JSONparse(text);
}
function rec(self) {
  var r = records.get(self);
  if (r === undefined) throw new TypeErrorC('Value of "this" must be of type URL');
  return r;
}
function setter(name) {
  return function (value) {
    var r = rec(this);
    var next = JSONparse(service('urlset', r[0], name, usv(value)));
    records.set(this, next);
    if (name === 'href' || name === 'search') syncParams(this, next[9]);
  };
}
function syncParams(url, search) {
  var p = paramsOf.get(url);
  if (p !== undefined) lists.set(p, search === '' ? [] : JSONparse(service('qsparse', search)));
}

class URL {
  constructor(url, base) {
    if (arguments.length === 0) {
      var m = new TypeErrorC('The "url" argument must be specified');
      m.code = 'ERR_MISSING_ARGS';
      throw m;
    }
    var input = usv(url);
    var b = base === undefined ? undefined : usv(base);
    var r = parse(input, b);
    if (r === null) throw invalid(input, b);
    records.set(this, r);
  }
  static canParse(url, base) {
    return parse(usv(url), base === undefined ? undefined : usv(base)) !== null;
  }
  static parse(url, base) {
    try {
      return new URL(url, base);
    } catch (_) {
      return null;
    }
  }
  get searchParams() {
    var p = paramsOf.get(this);
    if (p === undefined) {
      p = new URLSearchParams(rec(this)[9]);
      paramsOf.set(this, p);
      owners.set(p, this);
    }
    return p;
  }
  toString() {
    return rec(this)[0];
  }
  toJSON() {
    return rec(this)[0];
  }
}
for (var i = 0; i < FIELDS.length; i++) {
  (function (index, name) {
    var desc = { get: function () { return rec(this)[index]; }, enumerable: true, configurable: true };
    if (name !== 'origin') desc.set = setter(name);
    I.ObjectDefineProperty(URL.prototype, name, desc);
  })(i, FIELDS[i]);
}
I.ObjectDefineProperty(URL.prototype, Symbol.toStringTag, { value: 'URL', configurable: true });

function list(self) {
  var l = lists.get(self);
  if (l === undefined) throw new TypeErrorC('Value of "this" must be of type URLSearchParams');
  return l;
}
// A change to the list updates the URL it came from (its query), as the spec's update steps do.
function update(self) {
  var url = owners.get(self);
  if (url === undefined) return;
  var text = service('qsstring', JSONstringify(lists.get(self)));
  var r = records.get(url);
  records.set(url, JSONparse(service('urlset', r[0], 'search', text)));
}

class URLSearchParams {
  constructor(init) {
    var l = [];
    if (init === undefined || init === null) {
      // empty
    } else if (typeof init === 'object' || typeof init === 'function') {
      if (typeof init[Symbol.iterator] === 'function') {
        for (var pair of init) {
          var p = [];
          if (pair === null || (typeof pair !== 'object' && typeof pair !== 'function') || typeof pair[Symbol.iterator] !== 'function') {
            var e = new TypeErrorC('Each query pair must be an iterable [name, value] tuple');
            e.code = 'ERR_INVALID_TUPLE';
            throw e;
          }
          for (var x of pair) p.push(usv(x));
          if (p.length !== 2) {
            var e2 = new TypeErrorC('Each query pair must be an iterable [name, value] tuple');
            e2.code = 'ERR_INVALID_TUPLE';
            throw e2;
          }
          l.push(p);
        }
      } else {
        var ks = Reflect.ownKeys(init);
        for (var k = 0; k < ks.length; k++) {
          var d = Object.getOwnPropertyDescriptor(init, ks[k]);
          if (typeof ks[k] === 'string' && d !== undefined && d.enumerable) l.push([usv(ks[k]), usv(init[ks[k]])]);
        }
      }
    } else {
      var s = usv(init);
      if (s[0] === '?') s = s.slice(1);
      if (s !== '') l = JSONparse(service('qsparse', s));
    }
    lists.set(this, l);
  }
  get size() {
    return list(this).length;
  }
  append(name, value) {
    list(this).push([usv(name), usv(value)]);
    update(this);
  }
  delete(name, value) {
    var l = list(this);
    var n = usv(name);
    var v = value === undefined ? undefined : usv(value);
    lists.set(this, l.filter(function (p) { return !(p[0] === n && (v === undefined || p[1] === v)); }));
    update(this);
  }
  get(name) {
    var n = usv(name);
    var l = list(this);
    for (var j = 0; j < l.length; j++) if (l[j][0] === n) return l[j][1];
    return null;
  }
  getAll(name) {
    var n = usv(name);
    return list(this).filter(function (p) { return p[0] === n; }).map(function (p) { return p[1]; });
  }
  has(name, value) {
    var n = usv(name);
    var v = value === undefined ? undefined : usv(value);
    return list(this).some(function (p) { return p[0] === n && (v === undefined || p[1] === v); });
  }
  set(name, value) {
    var n = usv(name);
    var l = list(this);
    var out = [];
    var done = false;
    for (var j = 0; j < l.length; j++) {
      if (l[j][0] !== n) out.push(l[j]);
      else if (!done) {
        out.push([n, usv(value)]);
        done = true;
      }
    }
    if (!done) out.push([n, usv(value)]);
    lists.set(this, out);
    update(this);
  }
  sort() {
    // Stable, by UTF-16 code units of the names.
    var l = list(this).map(function (p, idx) { return [p, idx]; });
    l.sort(function (a, b) { return a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : a[1] - b[1]; });
    lists.set(this, l.map(function (x) { return x[0]; }));
    update(this);
  }
  forEach(callback, thisArg) {
    if (typeof callback !== 'function') {
      var e = new TypeErrorC('The "callback" argument must be of type function. Received ' + (callback === null ? 'null' : typeof callback));
      e.code = 'ERR_INVALID_ARG_TYPE';
      throw e;
    }
    var l = list(this);
    for (var j = 0; j < l.length; j++) I.apply(callback, thisArg, [l[j][1], l[j][0], this]);
  }
  *entries() {
    var l = list(this);
    for (var j = 0; j < l.length; j++) yield [l[j][0], l[j][1]];
  }
  *keys() {
    var l = list(this);
    for (var j = 0; j < l.length; j++) yield l[j][0];
  }
  *values() {
    var l = list(this);
    for (var j = 0; j < l.length; j++) yield l[j][1];
  }
  toString() {
    var l = list(this);
    return l.length === 0 ? '' : service('qsstring', JSONstringify(l));
  }
}
URLSearchParams.prototype[Symbol.iterator] = URLSearchParams.prototype.entries;
I.ObjectDefineProperty(URLSearchParams.prototype, Symbol.toStringTag, { value: 'URLSearchParams', configurable: true });
I.opaque(URLSearchParams.prototype, 'a URLSearchParams, which JSON would send as {}: return params.toString() or Object.fromEntries(params)');

return { URL: URL, URLSearchParams: URLSearchParams };
