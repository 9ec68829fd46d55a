// toolexec standard library: structuredClone, the HTML structured clone algorithm in the
// guest's realm (V8's serializer rules and messages: functions, symbols, promises, weak
// collections and other platform objects are a DataCloneError; class instances become plain
// objects; cycles and shared parts are kept).
'use strict';
var DOMException = I.load('domexception').DOMException;
var ObjectProto = Object.prototype;
var getProto = Object.getPrototypeOf;
var keys = Object.keys;
var toString = I.uncurry(ObjectProto.toString);
var fnToString = I.uncurry(Function.prototype.toString);
var symToString = I.uncurry(Symbol.prototype.toString);
var tagOf = I.uncurry(Object.getOwnPropertyDescriptor(getProto(Uint8Array.prototype), Symbol.toStringTag).get);
var bufferSlice = I.uncurry(ArrayBuffer.prototype.slice);
var dateTime = I.uncurry(Date.prototype.getTime);
var mapForEach = I.uncurry(Map.prototype.forEach);
var setForEach = I.uncurry(Set.prototype.forEach);
var numberValue = I.uncurry(Number.prototype.valueOf);
var stringValue = I.uncurry(String.prototype.valueOf);
var booleanValue = I.uncurry(Boolean.prototype.valueOf);
var bigintValue = typeof BigInt === 'function' ? I.uncurry(BigInt.prototype.valueOf) : undefined;
var ERRORS = { Error: Error, EvalError: EvalError, RangeError: RangeError, ReferenceError: ReferenceError, SyntaxError: SyntaxError, TypeError: TypeError, URIError: URIError };

function fail(text) {
  return new DOMException(text + ' could not be cloned.', 'DataCloneError');
}
function nameOf(v) {
  try {
    var c = getProto(v) && getProto(v).constructor;
    return typeof c === 'function' && c.name ? c.name : 'Object';
  } catch (_) {
    return 'Object';
  }
}

function structuredClone(value, options) {
  if (arguments.length === 0) {
    var e = new TypeError('The value argument must be specified');
    e.code = 'ERR_MISSING_ARGS';
    throw e;
  }
  if (options !== undefined && options !== null && options.transfer !== undefined) {
    var list = [];
    for (var t of options.transfer) list.push(t);
    if (list.length > 0) throw new DOMException('transferring is not supported in the sandbox', 'DataCloneError');
  }
  var memory = new Map();

  function copy(v) {
    var type = typeof v;
    if (type === 'function') throw fail(fnToString(v));
    if (type === 'symbol') throw fail(symToString(v));
    if (v === null || type !== 'object') return v;
    if (memory.has(v)) return memory.get(v);
    var tag = toString(v);
    var out;
    if (Array.isArray(v)) {
      out = new Array(v.length);
      memory.set(v, out);
      var ks = keys(v);
      for (var i = 0; i < ks.length; i++) out[ks[i]] = copy(v[ks[i]]);
      return out;
    }
    var typed = tagOf(v);
    if (typed !== undefined) {
      var buf = copy(v.buffer);
      out = new v.constructor(buf, v.byteOffset, v.length);
      memory.set(v, out);
      return out;
    }
    switch (tag) {
      case '[object Date]':
        out = new I.DateC(dateTime(v));
        break;
      case '[object RegExp]':
        out = new RegExp(v.source, v.flags);
        break;
      case '[object ArrayBuffer]':
        out = bufferSlice(v, 0);
        break;
      case '[object DataView]':
        out = new DataView(copy(v.buffer), v.byteOffset, v.byteLength);
        break;
      case '[object Number]':
        out = Object(numberValue(v));
        break;
      case '[object String]':
        out = Object(stringValue(v));
        break;
      case '[object Boolean]':
        out = Object(booleanValue(v));
        break;
      case '[object BigInt]':
        out = Object(bigintValue(v));
        break;
      case '[object Map]':
        out = new Map();
        memory.set(v, out);
        var entries = [];
        mapForEach(v, function (val, key) { entries.push(key, val); });
        for (var m = 0; m < entries.length; m += 2) out.set(copy(entries[m]), copy(entries[m + 1]));
        return out;
      case '[object Set]':
        out = new Set();
        memory.set(v, out);
        var items = [];
        setForEach(v, function (val) { items.push(val); });
        for (var s = 0; s < items.length; s++) out.add(copy(items[s]));
        return out;
      case '[object Error]': {
        var name = 'Error';
        try {
          var n = v.name;
          if (typeof n === 'string' && ERRORS[n] !== undefined) name = n;
        } catch (_) {}
        out = ObjectCreateError(name);
        memory.set(v, out);
        var msg = Object.getOwnPropertyDescriptor(v, 'message');
        if (msg !== undefined) out.message = String(v.message);
        var stack = v.stack;
        if (typeof stack === 'string') I.ObjectDefineProperty(out, 'stack', { value: stack, writable: true, configurable: true });
        if (Object.getOwnPropertyDescriptor(v, 'cause') !== undefined) I.ObjectDefineProperty(out, 'cause', { value: copy(v.cause), writable: true, configurable: true });
        return out;
      }
      default: {
        var proto = getProto(v);
        // Plain objects and class instances are copied as plain objects; anything with an
        // internal slot JSON-like copying would lose (promises, weak collections, platform
        // objects) is refused, as V8 does.
        if (tag !== '[object Object]' || v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet || (typeof WeakRef === 'function' && v instanceof WeakRef) || (proto !== null && proto !== ObjectProto && isPlatform(proto))) {
          throw fail('#<' + nameOf(v) + '>');
        }
        out = {};
        memory.set(v, out);
        var ok = keys(v);
        for (var k = 0; k < ok.length; k++) out[ok[k]] = copy(v[ok[k]]);
        return out;
      }
    }
    memory.set(v, out);
    return out;
  }
  return copy(value);
}
function ObjectCreateError(name) {
  var e = new ERRORS[name]();
  return e;
}
// The standard library's own classes (URL, Event, TextEncoder...) are platform objects: not cloneable.
var platform = [];
function isPlatform(proto) {
  var G = I.G;
  if (platform.length === 0) {
    for (var n of ['Event', 'EventTarget', 'AbortController', 'TextEncoder', 'TextDecoder', 'URL', 'URLSearchParams']) {
      var d = Object.getOwnPropertyDescriptor(G, n);
      if (d !== undefined && d.value !== undefined && d.value !== null && typeof d.value === 'function') platform.push(d.value.prototype);
    }
  }
  for (var p = proto; p !== null && p !== ObjectProto; p = getProto(p)) if (platform.indexOf(p) !== -1) return true;
  return false;
}
return { structuredClone: structuredClone };
