// toolexec guest prelude. Runs INSIDE every sandbox (QuickJS, isolated-vm, Docker agent),
// before the user's code, as a classic ES2020 script with no imports.
//
// It builds the script globals (`run`, `tools`, `searchTools`, `describeTool`, `console`) on
// one synchronous host primitive, `__toolexec_send(text)`, and defines
// `__toolexec_receive(text)` for host replies (see src/runtime/types.ts for the protocol).
// The runtime deletes both globals right after this script, so user code reaches the host
// only through the functions defined here, and only JSON text ever crosses.
//
// Nothing here is a security boundary: the host parses and checks every message, enforces
// every limit and never hands out a reference. The defensive style (intrinsics captured up
// front, frozen globals) exists so that a script which patches `JSON`, `Promise`, `Map` or
// `Object.prototype` breaks only itself, never the protocol the prelude speaks.
(function () {
  'use strict';

  var G = globalThis;
  var hostSend = G.__toolexec_send;
  if (typeof hostSend !== 'function') throw new Error('toolexec prelude: __toolexec_send is missing');
  // The far side's synchronous services (runtimes/services.js): the standard library's sources,
  // URL parsing, Intl for QuickJS, a monotonic clock. Strings in, a string out.
  var hostCall = typeof G.__toolexec_call === 'function' ? G.__toolexec_call : undefined;
  delete G.__toolexec_call;

  // ---- intrinsics, captured before user code can touch them ----
  var FnProto = Function.prototype;
  var uncurry = FnProto.bind.bind(FnProto.call);
  var apply = Reflect.apply;
  var JSONparse = JSON.parse;
  var JSONstringify = JSON.stringify;
  var PromiseC = Promise;
  var promiseThen = uncurry(PromiseC.prototype.then);
  var MapC = Map;
  var mapGet = uncurry(MapC.prototype.get);
  var mapSet = uncurry(MapC.prototype.set);
  var mapHas = uncurry(MapC.prototype.has);
  var mapDelete = uncurry(MapC.prototype.delete);
  var mapForEach = uncurry(MapC.prototype.forEach);
  var mapSize = uncurry(Object.getOwnPropertyDescriptor(MapC.prototype, 'size').get);
  var SetC = Set;
  var setForEach = uncurry(SetC.prototype.forEach);
  var setSize = uncurry(Object.getOwnPropertyDescriptor(SetC.prototype, 'size').get);
  var WeakMapC = WeakMap;
  var weakMapSet = uncurry(WeakMapC.prototype.set);
  var weakMapGet = uncurry(WeakMapC.prototype.get);
  var weakMapHas = uncurry(WeakMapC.prototype.has);
  var ObjectCreate = Object.create;
  var ErrorC = Error;
  var TypeErrorC = TypeError;
  var ProxyC = Proxy;
  var FunctionC = Function;
  var StringC = String;
  var NumberC = Number;
  var ArrayIsArray = Array.isArray;
  var arrayPush = uncurry(Array.prototype.push);
  var arrayJoin = uncurry(Array.prototype.join);
  var stringSlice = uncurry(String.prototype.slice);
  var stringReplace = uncurry(String.prototype.replace);
  var stringIndexOf = uncurry(String.prototype.indexOf);
  var regexpTest = uncurry(RegExp.prototype.test);
  var dateToISOString = uncurry(Date.prototype.toISOString);
  var dateGetTime = uncurry(Date.prototype.getTime);
  var regexpToString = uncurry(RegExp.prototype.toString);
  var symbolToString = uncurry(Symbol.prototype.toString);
  var fnToString = uncurry(FnProto.toString);
  var ObjectKeys = Object.keys;
  var ObjectFreeze = Object.freeze;
  var ObjectDefineProperty = Object.defineProperty;
  var ObjectGetPrototypeOf = Object.getPrototypeOf;
  var ObjectSetPrototypeOf = Object.setPrototypeOf;
  var ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  var ObjectProto = Object.prototype;
  var hasOwn = uncurry(ObjectProto.hasOwnProperty);
  var objectToString = uncurry(ObjectProto.toString);
  var MathFloor = Math.floor;
  var DateC = Date;
  var dateNow = Date.now;
  var RegExpC = RegExp;
  var RangeErrorC = RangeError;
  var SyntaxErrorC = SyntaxError;
  var ArrayProto = Array.prototype;
  var isFiniteF = isFinite;

  // A direct call: `hostSend` is a local the script cannot reach, and Reflect.apply with an
  // arguments array cost QuickJS an allocation and a native call more per message.
  var send = function (text) {
    hostSend(text);
  };

  // Not offered anywhere: in isolated-vm a timed Atomics.waitAsync aborts the sandbox process, and
  // QuickJS has none; the same sandbox in every runtime.
  if (typeof Atomics === 'object' && Atomics !== null) delete Atomics.waitAsync;

  // Envelopes are built from text, never by JSON.stringify of an object literal: an
  // `Object.prototype.toJSON` the script defines must not be able to rewrite what the prelude
  // tells the host. (JSON.stringify of a primitive never consults toJSON.)
  function jsonString(value) {
    return JSONstringify(StringC(value));
  }

  // ---- JSON in and out ----

  // A value JSON cannot carry faithfully is refused with the path of the part and what to do,
  // never sent as a silent `{}`. The usual value (plain objects and arrays of JSON values) takes
  // the fast path; anything else (a class instance, a Map, a function, a NaN, a cycle) is looked
  // at again by runtimes/stdlib/json.js, which names the part, so that code is compiled only then.
  var opaqueProtos = new WeakMapC();
  var STOP = {};
  var fastReplacer = function (key, v) {
    var t = typeof v;
    if (t === 'object' && v !== null) {
      var proto = ObjectGetPrototypeOf(v);
      if (proto !== ObjectProto && proto !== ArrayProto && proto !== null) throw STOP;
    } else if (t === 'function' || t === 'symbol' || t === 'bigint' || (t === 'number' && !isFiniteF(v))) throw STOP;
    return v;
  };

  // `whatName`, when given, ends `what`: the text is built only on the slow path (every tool
  // call passes its arguments through here, and QuickJS pays for each string it builds).
  function toJsonText(value, what, root, notes, whatName) {
    try {
      return JSONstringify(value, fastReplacer);
    } catch (_) {
      return load('json').toJsonText(value, whatName === undefined ? what : what + whatName, root, notes);
    }
  }

  function errorMessageOf(e) {
    try {
      if (e !== null && typeof e === 'object' && typeof e.message === 'string') return e.message;
      return StringC(e);
    } catch (_) {
      return 'unknown error';
    }
  }

  // ---- requests to the host ----

  var nextId = 1;
  var pending = new MapC();
  // Tool errors the host sent, with the id of the request they answer: when one ends the script,
  // the host is told which call it was, and decides from its own ledger what failed and how.
  var toolErrors = new WeakMapC();

  // The resolving functions of the promise `request` is making: one executor for every request
  // instead of a closure each. A closure that captured the request's variables cost QuickJS
  // more than the rest of the request (its variables move to the heap, and its garbage is
  // left to the cycle collector).
  var madeResolve;
  var madeReject;
  function capture(resolve, reject) {
    madeResolve = resolve;
    madeReject = reject;
  }

  function rejected(e) {
    var p = new PromiseC(capture);
    madeReject(e);
    madeResolve = madeReject = undefined;
    return p;
  }

  // `extra` is the JSON text after the op (`,"toolId":...`). A tracked request's entry is its
  // tool call's record too (`observed`, read by the warnings).
  function request(op, extra, toolId, site, tracked) {
    var p = new PromiseC(capture);
    var id = nextId++;
    var entry = { resolve: madeResolve, reject: madeReject, toolId: toolId, site: site, id: id, observed: false };
    madeResolve = madeReject = undefined;
    mapSet(pending, id, entry);
    try {
      send('{"id":' + id + ',"op":"' + op + '"' + extra + '}');
    } catch (e) {
      mapDelete(pending, id);
      entry.reject(e);
      return p;
    }
    if (tracked === true) {
      ObjectSetPrototypeOf(p, ToolCallProto);
      weakMapSet(toolCallRecords, p, entry);
      arrayPush(toolCalls, entry);
    }
    return p;
  }

  // run() returns a native Promise whose prototype reads `constructor` through a getter, only so
  // that the prelude sees when the script consumes it: `await`, `Promise.resolve`, `Promise.all`
  // and `then` all read it (PromiseResolve and SpeciesConstructor). A call whose promise nobody
  // ever looked at is named in the result's warnings. The getter answers %Promise%, so `await`
  // takes the native fast path (a subclass costs a thenable job and a `then` call per await:
  // measured, about a quarter of a QuickJS tool call), and derived promises are plain ones.
  var toolCallRecords = new WeakMapC();
  var toolCalls = [];
  var ToolCallProto = ObjectCreate(PromiseC.prototype, {
    constructor: {
      get: function constructor() {
        var call = weakMapGet(toolCallRecords, this);
        if (call !== undefined) call.observed = true;
        return PromiseC;
      },
      enumerable: false,
      configurable: false,
    },
  });
  ObjectFreeze(ToolCallProto);

  // ---- timers: bridge requests answered by the host after `ms` (its clock, within timeoutMs) ----
  var MAX_TIMERS = 1000;
  var timerCount = 0;
  // `kind`: 'timeout' (named in the warnings when still pending at the end), 'interval', 'internal'.
  function timerRequest(ms, fire, kind) {
    if (timerCount >= MAX_TIMERS) {
      throw new RangeErrorC('too many timers pending at once (the most is ' + MAX_TIMERS + '): clear the ones you no longer need, or await them in turn');
    }
    var id = nextId++;
    timerCount++;
    // `due` on the guest's clock orders the callbacks (below), whatever order the host's answers take.
    mapSet(pending, id, { timer: fire, id: id, kind: kind, due: clockNow() + (ms > 0 ? ms : 0), ready: false });
    send('{"id":' + id + ',"op":"timer","ms":' + StringC(ms) + '}');
    return id;
  }
  // Callbacks run in the order of their due time, then of their creation, as in Node: a host
  // under load (or a Docker attach stream) may deliver the answer for a 0 ms timer after one for
  // a 40 ms timer set before it. A ready timer waits while an unanswered one is due before it;
  // the next ready one runs after the microtasks of the last (a microtask of our own, queued
  // after the callback's), as Node drains microtasks between timer callbacks.
  var draining = false;
  function timerReady(entry) {
    entry.ready = true;
    if (!draining) drainTimers();
  }
  function drainTimers() {
    draining = false;
    if (finished) return;
    var first;
    var more = false;
    mapForEach(pending, function (e) {
      if (e.timer === undefined) return;
      if (first === undefined || e.due < first.due || (e.due === first.due && e.id < first.id)) {
        if (first !== undefined && first.ready) more = true;
        first = e;
      } else if (e.ready) more = true;
    });
    if (first === undefined || !first.ready) return;
    mapDelete(pending, first.id);
    timerCount--;
    try {
      first.timer();
    } catch (e) {
      uncaught(e);
    }
    if (more && !finished) {
      draining = true;
      promiseThen(new PromiseC(function (r) {
        r();
      }), drainTimers);
    }
  }
  function timerCancel(id) {
    if (!mapHas(pending, id) || mapGet(pending, id).timer === undefined) return;
    mapDelete(pending, id);
    timerCount--;
    send('{"op":"untimer","id":' + StringC(id) + '}');
  }

  // ---- the clock: real, or in a durable execution the host's time carried by every reply ----
  var durable = false;
  var clock = 0;
  var timeOrigin = 0;
  var seed;
  function clockNow() {
    return durable ? clock : dateNow();
  }

  // An exception nobody catches in a callback the sandbox runs itself (a timer, a microtask, an
  // event listener) ends the execution with it, as an uncaught exception ends a Node process.
  function uncaught(e) {
    finishError(e);
  }

  // QuickJS builds an Error's stack when an Error that has none is thrown through a frame: a
  // tool error without one, rejected into the script, gets the stack of the `await` that
  // receives it, which is the line that made the call (where V8's async stack traces point too).
  // So QuickJS needs no call site captured per call (a `new Error()` in run() cost about a
  // tenth of a QuickJS tool call). V8 builds stacks only at construction: there run() keeps
  // capturing the site. Until it is thrown, such an error's stack is its header alone (what a
  // `.catch` handler sees), from the getter of its prototype.
  var LAZY_SITE = typeof ErrorC.captureStackTrace !== 'function';
  var ToolErrorProto = ObjectCreate(ErrorC.prototype, {
    stack: {
      get: function stack() {
        return 'ToolError: ' + errorMessageOf(this);
      },
      set: function stack(v) {
        ObjectDefineProperty(this, 'stack', { value: v, writable: true, enumerable: false, configurable: true });
      },
      enumerable: false,
      configurable: false,
    },
  });
  ObjectFreeze(ToolErrorProto);

  // Rebuilds a host error as a fresh guest Error from data: nothing host-side is reachable.
  function guestError(data, toolId, site, requestId) {
    var d = data !== null && typeof data === 'object' ? data : {};
    var code = typeof d.code === 'string' ? d.code : 'EXECUTION';
    var message = typeof d.message === 'string' ? d.message : 'tool call failed';
    var e = new ErrorC(message);
    e.name = 'ToolError';
    e.code = code;
    var tid = typeof d.toolId === 'string' ? d.toolId : toolId;
    if (tid !== undefined) e.toolId = tid;
    if (typeof d.retryable === 'boolean') e.retryable = d.retryable;
    if (ArrayIsArray(d.issues)) e.issues = d.issues;
    // The error is built when the reply arrives, where no user frame is on the stack; the
    // call site captured by run() says which line of the script made the failing call.
    if (site !== undefined) {
      try {
        var frames = StringC(site.stack);
        var firstFrame = stringIndexOf(frames, '    at ');
        e.stack = 'ToolError: ' + message + '\n' + (firstFrame === -1 ? frames : stringSlice(frames, firstFrame));
      } catch (_) {}
    } else if (LAZY_SITE) {
      delete e.stack;
      ObjectSetPrototypeOf(e, ToolErrorProto);
    }
    weakMapSet(toolErrors, e, requestId);
    return e;
  }

  function receive(text) {
    var msg;
    try {
      msg = JSONparse(StringC(text));
    } catch (_) {
      return;
    }
    if (msg === null || typeof msg !== 'object') return;
    // A success comes as `[id, value]` (`[id]` for no value; src/runtime/bridge.ts): an array of
    // two parses in QuickJS for about 1 µs less than the envelope of three named fields, and
    // every tool call takes this path.
    if (ArrayIsArray(msg)) return settle(msg[0], true, msg[1]);
    if (durable && typeof msg.t === 'number' && msg.t > clock) clock = msg.t;
    // ---- durable executions (host side: src/code/durable.ts): "tell me when you are idle" ----
    // Every runtime calls receive only once the guest has run all it could, so answering here
    // tells the host that every request the replies before this probe caused has been sent.
    if (typeof msg.probe === 'number') {
      send('{"op":"idle","n":' + NumberC(msg.probe) + '}');
      return;
    }
    settle(msg.id, msg.ok === true, msg.ok === true ? msg.value : msg.error);
  }

  function settle(id, ok, payload) {
    // Every entry is an object: one lookup instead of has, then get.
    var entry = mapGet(pending, id);
    if (entry === undefined) return;
    mapDelete(pending, id);
    if (entry.timer !== undefined) {
      // Back in until it runs: drainTimers takes it out (timerCancel may still clear it).
      mapSet(pending, id, entry);
      timerReady(entry);
      return;
    }
    if (entry.raw !== undefined) return entry.raw(ok, payload, id);
    if (ok) entry.resolve(payload);
    else entry.reject(guestError(payload, entry.toolId, entry.site, entry.id));
  }

  // A tool ID that is not a string goes as JSON `null` or a number, so the host can say what it is.
  function toolIdText(toolId) {
    var t = typeof toolId;
    return t === 'string' || t === 'number' || t === 'boolean' ? JSONstringify(toolId) : 'null';
  }

  function run(toolId, args) {
    var name = typeof toolId === 'string' ? toolId : StringC(toolId);
    return runRequest(name, toolIdText(toolId), args, LAZY_SITE ? undefined : new ErrorC());
  }

  // `idText` is the tool ID's JSON: a `tools.ns.tool` function computes it once (in QuickJS the
  // `JSON.stringify` of the ID was about 0.5 µs of every call).
  function runRequest(name, idText, args, site) {
    var extra;
    try {
      extra = ',"toolId":' + idText + ',"args":' + toJsonText(args === undefined ? {} : args, 'the arguments of ', 'args', undefined, name);
    } catch (e) {
      // Arguments that JSON cannot carry reject the call, as a failed call would, instead of throwing.
      return rejected(e);
    }
    return request('run', extra, name, site, true);
  }

  function searchTools(query, limit) {
    var extra = ',"query":' + jsonString(query === undefined ? '' : query);
    if (limit !== undefined) extra += ',"limit":' + JSONstringify(NumberC(limit));
    return request('search', extra, undefined);
  }

  function describeTool(toolId) {
    return request('describe', ',"toolId":' + toolIdText(toolId), undefined);
  }

  // ---- no modules: `require(...)` and `import(...)` say so, the same way in every runtime ----
  // (Preparation renames the `import` of `import(...)` to `$__imp`, which has the same length.)

  var MODULES_HINT = 'a script has no modules. Reach tools with `await run("namespace:tool", args)` or `tools.<namespace>.<tool>(args)`, and `return` the result';

  function modulesError(how, specifier) {
    var name;
    try {
      name = typeof specifier === 'string' ? JSONstringify(stringSlice(specifier, 0, 200)) : '...';
    } catch (_) {
      name = '...';
    }
    return new ErrorC(how + '(' + name + ') is not available in the sandbox: ' + MODULES_HINT);
  }

  function require(specifier) {
    throw modulesError('require', specifier);
  }

  function dynamicImport(specifier) {
    return rejected(modulesError('import', specifier));
  }

  // ---- tools.<namespace>.<name>(args) ----
  // Names are passed through as written; the host maps JavaScript-safe spellings
  // (`tools.my_ns.get_item` for `my-ns:get.item`) back to real IDs and answers TOOL_NOT_FOUND
  // for anything else.

  var toolFns = new MapC();
  var namespaces = new MapC();

  function toolFunction(id) {
    var known = mapGet(toolFns, id);
    if (known !== undefined) return known;
    var idText = toolIdText(id);
    var fn = function (args) {
      return runRequest(id, idText, args, LAZY_SITE ? undefined : new ErrorC());
    };
    ObjectDefineProperty(fn, 'name', { value: id });
    ObjectFreeze(fn);
    mapSet(toolFns, id, fn);
    return fn;
  }

  function readOnlyTraps(get, call) {
    var no = function () {
      return false;
    };
    return {
      get: get,
      apply: call,
      set: no,
      defineProperty: no,
      deleteProperty: no,
      setPrototypeOf: no,
      has: function (t, key) {
        return typeof key === 'string';
      },
    };
  }

  function namespaceProxy(ns) {
    var known = mapGet(namespaces, ns);
    if (known !== undefined) return known;
    // This namespace's tool functions by name: `tools.ns.tool` then builds no `ns:tool` string per call.
    var fns = new MapC();
    // The target is callable so that `tools.bare_tool(args)` works for tools without a namespace.
    var proxy = new ProxyC(
      function () {},
      readOnlyTraps(
        function (t, key) {
          // `then` must stay undefined, or `await tools.github` would call a tool.
          if (typeof key !== 'string' || key === 'then') return undefined;
          var f = mapGet(fns, key);
          if (f === undefined) {
            f = toolFunction(ns + ':' + key);
            mapSet(fns, key, f);
          }
          return f;
        },
        function (t, self, argList) {
          return run(ns, argList[0]);
        },
      ),
    );
    mapSet(namespaces, ns, proxy);
    return proxy;
  }

  var tools = new ProxyC(
    {},
    readOnlyTraps(function (t, key) {
      if (typeof key !== 'string' || key === 'then') return undefined;
      return namespaceProxy(key);
    }, undefined),
  );

  // ---- console: Node-like formatting, captured as `log` messages ----

  // The formatter is compiled on first use, from source text: QuickJS compiles a whole script
  // eagerly, and this part alone doubled what every execution paid for the prelude. Scripts that
  // log only strings never compile it.
  var FORMATTER_SOURCE = `
  var stringSlice = I.stringSlice, stringReplace = I.stringReplace, regexpTest = I.regexpTest, ObjectGetPrototypeOf = I.ObjectGetPrototypeOf, ObjectGetOwnPropertyDescriptor = I.ObjectGetOwnPropertyDescriptor, fnToString = I.fnToString, ErrorC = I.ErrorC, objectToString = I.objectToString, StringC = I.StringC, stringIndexOf = I.stringIndexOf, symbolToString = I.symbolToString, DateC = I.DateC, dateGetTime = I.dateGetTime, dateToISOString = I.dateToISOString, RegExpC = I.RegExpC, regexpToString = I.regexpToString, PromiseC = I.PromiseC, MapC = I.MapC, mapForEach = I.mapForEach, mapSize = I.mapSize, arrayPush = I.arrayPush, arrayJoin = I.arrayJoin, SetC = I.SetC, setForEach = I.setForEach, setSize = I.setSize, ArrayIsArray = I.ArrayIsArray, hasOwn = I.hasOwn, ObjectKeys = I.ObjectKeys, NumberC = I.NumberC, MathFloor = I.MathFloor, JSONstringify = I.JSONstringify, isError = I.isError;

  var MAX_DEPTH = 2;
  var MAX_ITEMS = 100;
  var MAX_STRING = 10000;
  var IDENT_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

  function quote(s) {
    if (s.length > MAX_STRING) s = stringSlice(s, 0, MAX_STRING) + '... ' + (s.length - MAX_STRING) + ' more characters';
    return "'" + stringReplace(stringReplace(s, /\\\\/g, '\\\\\\\\'), /'/g, "\\\\'") + "'";
  }

  function keyText(k) {
    return regexpTest(IDENT_RE, k) ? k : quote(k);
  }

  function constructorName(o) {
    try {
      var proto = ObjectGetPrototypeOf(o);
      if (proto === null) return null;
      if (proto === ToolCallProto) return 'Promise';
      var d = ObjectGetOwnPropertyDescriptor(proto, 'constructor');
      var c = d && d.value;
      return typeof c === 'function' && typeof c.name === 'string' ? c.name : '';
    } catch (_) {
      return '';
    }
  }

  function inspectFunction(f) {
    var name = '';
    try {
      name = typeof f.name === 'string' ? f.name : '';
    } catch (_) {}
    var src = '';
    try {
      src = fnToString(f);
    } catch (_) {}
    if (stringSlice(src, 0, 6) === 'class ' || stringSlice(src, 0, 6) === 'class{') return '[class ' + (name || '(anonymous)') + ']';
    return '[Function: ' + (name || '(anonymous)') + ']';
  }

  function inspectError(e) {
    var stack;
    try {
      stack = e.stack;
    } catch (_) {}
    var head;
    try {
      head = StringC(e.name) + ': ' + StringC(e.message);
    } catch (_) {
      head = 'Error';
    }
    if (typeof stack === 'string' && stack.length > 0) {
      // V8 stacks start with the head line; QuickJS stacks hold only frames.
      return stringIndexOf(stack, head) === 0 ? stack : head + '\\n' + stack;
    }
    return head;
  }

  function inspect(v, depth, seen) {
    var t = typeof v;
    if (t === 'string') return depth === 0 ? v : quote(v);
    if (t === 'number') return v === 0 && 1 / v < 0 ? '-0' : StringC(v);
    if (t === 'bigint') return StringC(v) + 'n';
    if (t === 'boolean' || t === 'undefined') return StringC(v);
    if (t === 'symbol') return symbolToString(v);
    if (t === 'function') return inspectFunction(v);
    if (v === null) return 'null';
    for (var i = 0; i < seen.length; i++) if (seen[i] === v) return '[Circular]';
    try {
      if (isError(v)) return inspectError(v);
      if (v instanceof DateC) return isNaN(dateGetTime(v)) ? 'Invalid Date' : dateToISOString(v);
      if (v instanceof RegExpC) return regexpToString(v);
      if (v instanceof PromiseC) return 'Promise {}';
      var nextSeen = seen.concat([v]);
      if (v instanceof MapC) {
        if (depth > MAX_DEPTH) return '[Map]';
        var mparts = [];
        mapForEach(v, function (val, key) {
          if (mparts.length < MAX_ITEMS) arrayPush(mparts, inspect(key, depth + 1, nextSeen) + ' => ' + inspect(val, depth + 1, nextSeen));
        });
        return 'Map(' + mapSize(v) + ') ' + (mparts.length ? '{ ' + arrayJoin(mparts, ', ') + ' }' : '{}');
      }
      if (v instanceof SetC) {
        if (depth > MAX_DEPTH) return '[Set]';
        var sparts = [];
        setForEach(v, function (val) {
          if (sparts.length < MAX_ITEMS) arrayPush(sparts, inspect(val, depth + 1, nextSeen));
        });
        return 'Set(' + setSize(v) + ') ' + (sparts.length ? '{ ' + arrayJoin(sparts, ', ') + ' }' : '{}');
      }
      if (ArrayIsArray(v)) {
        if (depth > MAX_DEPTH) return '[Array]';
        var n = v.length;
        if (n === 0) return '[]';
        var aparts = [];
        for (var j = 0; j < n && j < MAX_ITEMS; j++) arrayPush(aparts, hasOwn(v, j) ? inspect(v[j], depth + 1, nextSeen) : '<empty>');
        if (n > MAX_ITEMS) arrayPush(aparts, '... ' + (n - MAX_ITEMS) + ' more items');
        return '[ ' + arrayJoin(aparts, ', ') + ' ]';
      }
      var cname = constructorName(v);
      var prefix = cname === null ? '[Object: null prototype] ' : cname === 'Object' || cname === '' ? '' : cname + ' ';
      if (depth > MAX_DEPTH) return '[' + (cname || 'Object') + ']';
      var keys = ObjectKeys(v);
      if (keys.length === 0) return prefix + '{}';
      var oparts = [];
      for (var k = 0; k < keys.length && k < MAX_ITEMS; k++) {
        arrayPush(oparts, keyText(keys[k]) + ': ' + inspect(v[keys[k]], depth + 1, nextSeen));
      }
      if (keys.length > MAX_ITEMS) arrayPush(oparts, '... ' + (keys.length - MAX_ITEMS) + ' more properties');
      return prefix + '{ ' + arrayJoin(oparts, ', ') + ' }';
    } catch (_) {
      return '[object that threw while being inspected]';
    }
  }

  function formatArgs(args) {
    var parts = [];
    var start = 0;
    if (typeof args[0] === 'string' && stringIndexOf(args[0], '%') !== -1 && args.length > 1) {
      var fmt = args[0];
      var next = 1;
      var out = '';
      for (var i = 0; i < fmt.length; i++) {
        var c = fmt[i];
        if (c !== '%' || i + 1 >= fmt.length) {
          out += c;
          continue;
        }
        var s = fmt[i + 1];
        if (s === '%') {
          out += '%';
          i++;
        } else if (next < args.length && (s === 's' || s === 'd' || s === 'i' || s === 'f' || s === 'j' || s === 'o' || s === 'O' || s === 'c')) {
          var a = args[next++];
          if (s === 's') out += typeof a === 'string' ? a : inspect(a, 1, []);
          else if (s === 'd' || s === 'i') out += typeof a === 'object' && a !== null ? 'NaN' : StringC(s === 'i' ? MathFloor(NumberC(a)) : NumberC(a));
          else if (s === 'f') out += StringC(NumberC(a));
          else if (s === 'j') {
            try {
              out += JSONstringify(a);
            } catch (_) {
              out += '[Circular]';
            }
          } else if (s === 'c') {
            // CSS has no meaning here.
          } else out += inspect(a, 1, []);
          i++;
        } else out += c;
      }
      arrayPush(parts, out);
      start = next;
    }
    for (var j = start; j < args.length; j++) arrayPush(parts, inspect(args[j], 0, []));
    return arrayJoin(parts, ' ');
  }

  return { inspect: inspect, formatArgs: formatArgs };
  `;
  var formatter;
  function getFormatter() {
    if (!formatter) {
      formatter = FunctionC('I', FORMATTER_SOURCE)({
        stringSlice: stringSlice, stringReplace: stringReplace, regexpTest: regexpTest, ObjectGetPrototypeOf: ObjectGetPrototypeOf, ObjectGetOwnPropertyDescriptor: ObjectGetOwnPropertyDescriptor, fnToString: fnToString, ErrorC: ErrorC, objectToString: objectToString, StringC: StringC, stringIndexOf: stringIndexOf, symbolToString: symbolToString, DateC: DateC, dateGetTime: dateGetTime, dateToISOString: dateToISOString, RegExpC: RegExpC, regexpToString: regexpToString, PromiseC: PromiseC, MapC: MapC, mapForEach: mapForEach, mapSize: mapSize, arrayPush: arrayPush, arrayJoin: arrayJoin, SetC: SetC, setForEach: setForEach, setSize: setSize, ArrayIsArray: ArrayIsArray, hasOwn: hasOwn, ObjectKeys: ObjectKeys, NumberC: NumberC, MathFloor: MathFloor, JSONstringify: JSONstringify, isError: isError,
      });
    }
    return formatter;
  }

  function isError(v) {
    if (v instanceof ErrorC) return true;
    try {
      return objectToString(v) === '[object Error]';
    } catch (_) {
      return false;
    }
  }

  function logger(level) {
    var fn = function () {
      var args = [];
      for (var i = 0; i < arguments.length; i++) arrayPush(args, arguments[i]);
      var text;
      var plain = true;
      for (var j = 0; j < args.length; j++) if (typeof args[j] !== 'string') plain = false;
      if (plain && (args.length < 2 || stringIndexOf(args[0], '%') === -1)) text = arrayJoin(args, ' ');
      else {
        try {
          text = getFormatter().formatArgs(args);
        } catch (_) {
          text = '[unprintable]';
        }
      }
      send('{"op":"log","level":"' + level + '","message":' + jsonString(text) + '}');
    };
    ObjectDefineProperty(fn, 'name', { value: level });
    return ObjectFreeze(fn);
  }

  var consoleObject = ObjectFreeze({
    log: logger('log'),
    info: logger('info'),
    warn: logger('warn'),
    error: logger('error'),
    debug: logger('debug'),
  });

  // ---- completion ----

  var finished = false;

  // What the host words into the result's warnings: the ids of tool calls whose promise the
  // script never consumed, how many setTimeout callbacks never ran, where a NaN or Infinity was
  // sent as null. Sent once, just before `done`; the host checks the ids against its ledger.
  function sendNotes(notes) {
    var ids = [];
    for (var i = 0; i < toolCalls.length; i++) if (!toolCalls[i].observed) arrayPush(ids, toolCalls[i].id);
    var timeouts = 0;
    mapForEach(pending, function (entry) {
      if (entry.kind === 'timeout') timeouts++;
    });
    var nonFinite = notes !== undefined && notes.nonFinite !== undefined;
    if (ids.length === 0 && timeouts === 0 && !nonFinite) return;
    send('{"op":"notes","unawaited":[' + arrayJoin(ids, ',') + '],"timeouts":' + timeouts + (nonFinite ? ',"nonFinite":' + jsonString(notes.nonFinite) : '') + '}');
  }

  function finishValue(value) {
    if (finished) return;
    var text;
    var notes = { nonFinite: undefined };
    try {
      text = toJsonText(value, 'the result', 'value', notes);
    } catch (e) {
      finished = true;
      sendNotes(undefined);
      send('{"op":"done","ok":false,"error":{"code":"NOT_SERIALIZABLE","name":"TypeError","message":' + jsonString(errorMessageOf(e)) + '}}');
      return;
    }
    finished = true;
    sendNotes(notes);
    send(text === undefined ? '{"op":"done","ok":true}' : '{"op":"done","ok":true,"value":' + text + '}');
  }

  // A null-prototype object: nothing the script put on Object.prototype (toJSON) reaches it.
  function describeThrown(e) {
    var out = ObjectCreate(null);
    out.code = 'RUNTIME_ERROR';
    out.name = 'Error';
    out.message = '';
    if (e !== null && (typeof e === 'object' || typeof e === 'function') && isError(e)) {
      try {
        out.name = StringC(e.name);
      } catch (_) {}
      out.message = errorMessageOf(e);
      try {
        if (typeof e.stack === 'string') {
          // QuickJS's stacks are frames alone; V8's start with the error's header: report V8's form.
          var st = e.stack;
          if (stringSlice(st, 0, 7) === '    at ') st = out.name + (out.message === '' ? '' : ': ' + out.message) + '\n' + st;
          out.stack = stringSlice(st, 0, 20000);
        }
      } catch (_) {}
      if (weakMapHas(toolErrors, e)) {
        out.code = 'TOOL_ERROR';
        out.callId = weakMapGet(toolErrors, e);
      } else if (e.code === 'NOT_SERIALIZABLE') {
        out.code = 'NOT_SERIALIZABLE';
      }
    } else {
      out.name = 'Uncaught';
      out.message = getFormatter().inspect(e, 1, []);
    }
    return out;
  }

  function finishError(e) {
    if (finished) return;
    finished = true;
    var described;
    try {
      described = describeThrown(e);
    } catch (_) {
      described = ObjectCreate(null);
      described.code = 'RUNTIME_ERROR';
      described.name = 'Error';
      described.message = 'the script threw a value that could not be described';
    }
    var text;
    try {
      text = JSONstringify(described);
    } catch (_) {
      text = '{"code":"RUNTIME_ERROR","name":"Error","message":"the script threw a value that could not be described"}';
    }
    try {
      sendNotes(undefined);
    } catch (_) {}
    send('{"op":"done","ok":false,"error":' + text + '}');
  }

  // The executor's wrapper calls this exactly once with the user's program as an async
  // function; it removes itself first, so user code can neither call it nor forge `done`.
  // `flags` bit 1 says the execution has an input: it is fetched from the host as data (JSON,
  // parsed here) and becomes the `input` global before the program starts. Bit 2 grants `fetch`
  // (egress). `env` is the execution's environment from
  // the host: `seed` (64 hex digits for the guest's CSPRNG), `now` (the host's epoch ms at the
  // start), `durable` (the clock and Math.random then come from the journal).
  function start(main, flags, env) {
    delete G.__toolexec_start;
    if (env !== null && typeof env === 'object') {
      if (typeof env.seed === 'string') seed = env.seed;
      if (typeof env.now === 'number') timeOrigin = env.now;
      durable = env.durable === true;
    }
    if (timeOrigin === 0) timeOrigin = dateNow();
    clock = timeOrigin;
    if (durable) {
      try {
        load('durable');
      } catch (e) {
        finishError(e);
        return;
      }
    }
    if ((flags & 2) === 2) grantFetch();
    if ((flags & 1) !== 1) {
      begin(main);
      return;
    }
    promiseThen(
      request('input', '', undefined),
      function (value) {
        define('input', value, false);
        begin(main);
      },
      finishError,
    );
  }

  function begin(main) {
    var p;
    try {
      p = main();
    } catch (e) {
      finishError(e);
      return;
    }
    promiseThen(p, finishValue, finishError);
  }

  // ---- the standard library, installed lazily ----
  // Each global below is an accessor until a script first touches it; then its library's source
  // (runtimes/stdlib/<lib>.js, from the far side's services) is compiled here, in the guest, and
  // the global becomes a plain writable, configurable data property, as web globals are. A
  // script that touches none of them compiles none of them (QuickJS compiles every byte it is
  // given, ENGINES.md). What the libraries need of the prelude is `internals`.

  function service(op, a, b, c) {
    if (hostCall === undefined) throw new ErrorC('this sandbox has no host services (' + op + ')');
    // Direct calls, as in `send`; the host function sees only the arguments given.
    var r = c !== undefined ? hostCall(op, a, b, c) : b !== undefined ? hostCall(op, a, b) : a !== undefined ? hostCall(op, a) : hostCall(op);
    if (typeof r !== 'string') throw new ErrorC('the host service ' + op + ' answered nothing');
    if (r.length > 0 && r[0] === '!') {
      var d = JSONparse(stringSlice(r, 1));
      var C = d.name === 'TypeError' ? TypeErrorC : d.name === 'RangeError' ? RangeErrorC : d.name === 'SyntaxError' ? SyntaxErrorC : ErrorC;
      throw new C(StringC(d.message));
    }
    return r;
  }

  var libs = ObjectCreate(null);
  var internals;
  function load(name) {
    var lib = libs[name];
    if (lib === undefined) {
      lib = FunctionC('I', service('lib', name))(internals);
      libs[name] = lib;
    }
    return lib;
  }

  function lazy(target, name, lib, key) {
    var getter = function () {
      var value = load(lib)[key];
      var d = ObjectGetOwnPropertyDescriptor(target, name);
      if (d !== undefined && d.get === getter) ObjectDefineProperty(target, name, { value: value, writable: true, enumerable: false, configurable: true });
      return value;
    };
    ObjectDefineProperty(target, name, {
      get: getter,
      set: function (v) {
        ObjectDefineProperty(this, name, { value: v, writable: true, enumerable: this !== target, configurable: true });
      },
      enumerable: false,
      configurable: true,
    });
  }

  // lib: global global ...; the Intl line only where the engine has none (QuickJS).
  var LAZY = 'timers setTimeout clearTimeout setInterval clearInterval queueMicrotask performance;domexception DOMException;events Event EventTarget CustomEvent AbortController AbortSignal;encoding TextEncoder TextDecoder;base64 atob btoa;crypto crypto;clone structuredClone;url URL URLSearchParams';
  var groups = LAZY.split(';');
  for (var gi = 0; gi < groups.length; gi++) {
    var names = groups[gi].split(' ');
    for (var ni = 1; ni < names.length; ni++) lazy(G, names[ni], names[0], names[ni]);
  }
  if (typeof Intl === 'undefined' && hostCall !== undefined) {
    lazy(G, 'Intl', 'intl', 'Intl');
    var LOCALE = 'String localeCompare toLocaleUpperCase toLocaleLowerCase;Number toLocaleString;BigInt toLocaleString;Date toLocaleString toLocaleDateString toLocaleTimeString;Array toLocaleString';
    var lgroups = LOCALE.split(';');
    for (var li = 0; li < lgroups.length; li++) {
      var lnames = lgroups[li].split(' ');
      if (typeof G[lnames[0]] !== 'function') continue;
      for (var lj = 1; lj < lnames.length; lj++) lazy(G[lnames[0]].prototype, lnames[lj], 'intl', lnames[0] + '.' + lnames[lj]);
    }
  }

  internals = {
    G: G,
    load: load,
    service: service,
    timerRequest: timerRequest,
    timerCancel: timerCancel,
    uncaught: uncaught,
    now: clockNow,
    timeOrigin: function () {
      return timeOrigin;
    },
    seed: function () {
      return seed;
    },
    durable: function () {
      return durable;
    },
    setClock: function (t) {
      clock = t;
    },
    opaque: function (proto, what) {
      weakMapSet(opaqueProtos, proto, what);
    },
    opaqueProtos: opaqueProtos,
    toolCallRecords: toolCallRecords,
    errorMessageOf: errorMessageOf,
    isError: isError,
    promiseThen: promiseThen,
    PromiseC: PromiseC,
    apply: apply,
    uncurry: uncurry,
    JSONparse: JSONparse,
    JSONstringify: JSONstringify,
    ObjectDefineProperty: ObjectDefineProperty,
    ObjectFreeze: ObjectFreeze,
    ObjectCreate: ObjectCreate,
    DateC: DateC,
    dateNow: dateNow,
  };

  // ---- fetch: only under an egress policy (flag bit 2 of __toolexec_start) ----
  // The implementation is runtimes/stdlib/fetch.js, compiled on the first use of `fetch`,
  // `Headers` or `Response`, which only an execution with egress defines: no other execution
  // compiles it, and one with egress that never fetches pays nothing for it either.

  var fetchLib;
  // Taken at the first use, from a realm the script may have changed by then: a script that
  // replaced Uint8Array or Symbol.iterator breaks only its own fetch.
  function fetchIntrinsics() {
    return {
      TypeErrorC: TypeErrorC, ErrorC: ErrorC, RangeErrorC: RangeError, PromiseC: PromiseC, StringC: StringC, NumberC: NumberC, ArrayIsArray: ArrayIsArray, JSONparse: JSONparse, JSONstringify: JSONstringify, jsonString: jsonString, arrayPush: arrayPush, arrayJoin: arrayJoin, stringSlice: stringSlice, stringReplace: stringReplace, regexpTest: regexpTest, ObjectKeys: ObjectKeys, ObjectCreate: ObjectCreate, ObjectDefineProperty: ObjectDefineProperty, ObjectFreeze: ObjectFreeze, WeakMapC: WeakMapC, weakMapGet: weakMapGet, weakMapSet: weakMapSet, weakMapHas: weakMapHas, objectToString: objectToString,
      Uint8ArrayC: Uint8Array, ArrayBufferC: ArrayBuffer, isView: ArrayBuffer.isView, SymbolIterator: Symbol.iterator, SymbolToStringTag: Symbol.toStringTag, fromCharCode: String.fromCharCode, charCodeAt: uncurry(String.prototype.charCodeAt), toLowerCase: uncurry(String.prototype.toLowerCase), G: G,
      // A request whose reply goes to `handler(ok, valueOrError, id)`; returns its id.
      rawRequest: function (op, fields, handler) {
        var id = nextId++;
        mapSet(pending, id, { raw: handler, id: id });
        send('{"id":' + id + ',"op":"' + op + '"' + fields + '}');
        return id;
      },
      // The script gave up on a request: its reply is ignored, and the host stops the work.
      cancelRequest: function (id) {
        if (!mapHas(pending, id)) return;
        mapDelete(pending, id);
        send('{"op":"abort","target":' + id + '}');
      },
      markToolError: function (e, id) {
        weakMapSet(toolErrors, e, id);
      },
    };
  }

  function getFetchLib() {
    if (!fetchLib) fetchLib = FunctionC('I', service('lib', 'fetch'))(fetchIntrinsics());
    return fetchLib;
  }

  function grantFetch() {
    if (hostCall === undefined) return;
    var names = ['fetch', 'Headers', 'Response'];
    for (var i = 0; i < names.length; i++) {
      (function (name) {
        ObjectDefineProperty(G, name, {
          get: function () {
            var value = getFetchLib()[name];
            define(name, value, true);
            return value;
          },
          enumerable: false,
          configurable: true,
        });
      })(names[i]);
    }
  }

  // ---- publish ----

  function define(name, value, configurable) {
    ObjectDefineProperty(G, name, { value: value, writable: false, enumerable: false, configurable: configurable });
  }

  define('run', ObjectFreeze(run), false);
  define('tools', tools, false);
  define('searchTools', ObjectFreeze(searchTools), false);
  define('describeTool', ObjectFreeze(describeTool), false);
  define('console', consoleObject, false);
  define('require', ObjectFreeze(require), false);
  define('$__imp', ObjectFreeze(dynamicImport), false);
  define('__toolexec_receive', ObjectFreeze(receive), true);
  define('__toolexec_start', ObjectFreeze(start), true);
})();
