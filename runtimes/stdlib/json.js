// toolexec standard library: the slow path of the prelude's JSON for values the fast path did
// not take (anything but plain objects and arrays of JSON values). It serialises the value the
// way JSON.stringify does, and refuses what JSON cannot carry faithfully with the path of the
// part and what to do: functions, symbols and BigInts (JSON.stringify would drop or refuse
// them), promises, Maps, Sets, typed arrays, errors, iterators, cycles. Paths are parent links,
// turned into text only for the message, so deep values cost no strings.
'use strict';
var uncurry = I.uncurry;
var ObjectProto = Object.prototype;
var ArrayProto = Array.prototype;
var getProto = Object.getPrototypeOf;
var MapC = Map;
var SetC = Set;
var WeakMapC = WeakMap;
var PromiseC = I.PromiseC;
var RegExpC = RegExp;
var StringC = String;
var mapGet = uncurry(MapC.prototype.get);
var mapSet = uncurry(MapC.prototype.set);
var mapHas = uncurry(MapC.prototype.has);
var weakMapHas = uncurry(WeakMapC.prototype.has);
var weakMapGet = uncurry(WeakMapC.prototype.get);
var objectToString = uncurry(ObjectProto.toString);
var regexpTest = uncurry(RegExp.prototype.test);
var JSONstringify = I.JSONstringify;
var ArrayIsArray = Array.isArray;
var isFiniteF = isFinite;
var IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
var typedArrayTag = uncurry(Object.getOwnPropertyDescriptor(getProto(Uint8Array.prototype), Symbol.toStringTag).get);
var opaqueProtos = I.opaqueProtos;
var toolCallRecords = I.toolCallRecords;
var NotJson = function (message) {
  this.message = message;
};

function pathText(node) {
  var parts = [];
  for (var n = node; n !== null; n = n.parent) parts.push(n.key);
  var out = '';
  for (var i = parts.length - 1; i >= 0; i--) out += parts[i];
  return out.length > 300 ? out.slice(0, 140) + '...' + out.slice(out.length - 140) : out;
}

function keyPart(key, holderIsArray) {
  if (holderIsArray) return '[' + key + ']';
  return regexpTest(IDENT, key) ? '.' + key : '[' + JSONstringify(StringC(key).slice(0, 100)) + ']';
}

function ctorName(v) {
  try {
    var c = getProto(v).constructor;
    return typeof c === 'function' && typeof c.name === 'string' && c.name ? c.name : 'Object';
  } catch (_) {
    return 'Object';
  }
}

// Why `v` (an object that is neither a plain object nor an array) cannot go as JSON, or ''.
function unfaithful(v, proto) {
  if (v instanceof PromiseC) return 'a Promise' + (weakMapHas(toolCallRecords, v) ? ' (of the tool call ' + JSONstringify(weakMapGet(toolCallRecords, v).toolId) + ')' : '') + ': did you forget await?';
  if (v instanceof MapC) return 'a Map, which JSON would send as {}: convert it with Object.fromEntries(map) or [...map]';
  if (v instanceof SetC) return 'a Set, which JSON would send as {}: convert it with [...set]';
  if (v instanceof WeakMapC || (typeof WeakSet === 'function' && v instanceof WeakSet) || (typeof WeakRef === 'function' && v instanceof WeakRef)) return 'a ' + ctorName(v) + ', which JSON cannot carry';
  if (v instanceof RegExpC) return 'a RegExp, which JSON would send as {}: return String(regexp) or its .source';
  if (I.isError(v)) {
    var head = 'Error';
    try {
      head = StringC(v.name) + ': ' + StringC(v.message).slice(0, 200);
    } catch (_) {}
    return 'an Error (' + head + '), which JSON would send as {}: return its message, or { name, message }';
  }
  if (typedArrayTag(v) !== undefined || v instanceof ArrayBuffer || v instanceof DataView) return 'a ' + ctorName(v) + ', which JSON would not send as bytes: convert it with Array.from(...)';
  var tag = objectToString(v);
  if (tag.indexOf('Iterator]') !== -1 || tag.indexOf('Generator]') !== -1) return 'an iterator, which JSON would send as {}: spread it into an array with [...iterator]';
  for (var p = proto; p !== null && p !== ObjectProto; p = getProto(p)) {
    if (weakMapHas(opaqueProtos, p)) return weakMapGet(opaqueProtos, p);
  }
  return '';
}

// JSON text of `value`, or a NOT_SERIALIZABLE TypeError naming the first part JSON cannot carry.
// `notes.nonFinite` gets the path of the first NaN or Infinity (JSON sends them as null).
function toJsonText(value, what, root, notes) {
  var nodes = new MapC();
  var rootNode = { parent: null, key: root, depth: 0 };
  var at = function (parent, holder, key) {
    return parent === undefined ? rootNode : { parent: parent, key: keyPart(key, ArrayIsArray(holder)) };
  };
  var replacer = function (key, v) {
    var holder = this;
    var parent = mapHas(nodes, holder) ? mapGet(nodes, holder) : undefined;
    var t = typeof v;
    if (t === 'object' && v !== null) {
      var node = at(parent, holder, key);
      if (mapHas(nodes, v)) {
        // Seen before: a cycle when it is an ancestor of this position, else a shared part (fine).
        for (var a = parent; a !== undefined && a !== null; a = a.parent) {
          if (a === mapGet(nodes, v)) throw new NotJson(pathText(node) + ' is a cycle back to ' + pathText(a) + ': JSON cannot carry a value that contains itself');
        }
      }
      var proto = getProto(v);
      if (proto !== ObjectProto && proto !== ArrayProto && proto !== null) {
        var why = unfaithful(v, proto);
        if (why !== '') throw new NotJson(pathText(node) + ' is ' + why);
      }
      mapSet(nodes, v, node);
    } else if (t === 'function' || t === 'symbol' || t === 'bigint') {
      var hint = t === 'function' ? 'a function: functions cannot leave the sandbox' : t === 'symbol' ? 'a symbol, which JSON cannot carry' : 'a BigInt, which JSON cannot carry: convert it with Number(n) or String(n)';
      throw new NotJson(pathText(at(parent, holder, key)) + ' is ' + hint);
    } else if (t === 'number' && notes !== undefined && notes.nonFinite === undefined && !isFiniteF(v)) {
      notes.nonFinite = pathText(at(parent, holder, key)) + ' is ' + StringC(v);
    }
    return v;
  };
  try {
    return JSONstringify(value, replacer);
  } catch (e) {
    var err = new TypeError(what + ' is not JSON-serializable: ' + (e instanceof NotJson ? e.message : I.errorMessageOf(e)));
    err.code = 'NOT_SERIALIZABLE';
    throw err;
  }
}
return { toJsonText: toJsonText };
