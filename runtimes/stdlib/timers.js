// toolexec standard library: timers, queueMicrotask and performance (the body of a function of
// `I`, the prelude's internals; compiled in the guest the first time a script touches one of
// these globals). Timers are bridge requests: the host answers each after its `ms` on its own
// clock, within the execution's timeoutMs, and clears them all when the execution ends.
'use strict';
var TIMEOUT_MAX = 2147483647;
var TypeErrorC = TypeError;
var StringC = String;
var NumberC = Number;
var apply = I.apply;
// handle -> { fn, args, repeat, request } for the timers the script can still clear.
var timers = new Map();
var mapGet = I.uncurry(Map.prototype.get);
var mapSet = I.uncurry(Map.prototype.set);
var mapDelete = I.uncurry(Map.prototype.delete);

// Node's words for a callback that is not a function.
function received(v) {
  if (v === null || v === undefined) return 'Received ' + v;
  var t = typeof v;
  if (t === 'function') return 'Received function ' + (v.name || '<anonymous>');
  if (t === 'object') {
    var c = v.constructor;
    return c && c.name ? 'Received an instance of ' + c.name : 'Received ' + StringC(v);
  }
  var shown = t === 'string' ? "'" + (v.length > 28 ? v.slice(0, 25) + '...' : v) + "'" : t === 'bigint' ? StringC(v) + 'n' : t === 'symbol' ? v.toString() : StringC(v);
  return 'Received type ' + t + ' (' + shown + ')';
}
function checkCallback(fn) {
  if (typeof fn !== 'function') {
    var e = new TypeErrorC('The "callback" argument must be of type function. ' + received(fn));
    e.code = 'ERR_INVALID_ARG_TYPE';
    throw e;
  }
}
// As Node: a delay that is not a number from 1 to 2^31-1 becomes 1.
function delay(ms) {
  var n = NumberC(ms);
  return n >= 1 && n <= TIMEOUT_MAX ? n : 1;
}
function slice(args, from) {
  var out = [];
  for (var i = from; i < args.length; i++) out.push(args[i]);
  return out;
}

function arm(t) {
  t.request = I.timerRequest(t.ms, function () {
    if (!t.repeat) mapDelete(timers, t.handle);
    apply(t.fn, undefined, t.args);
    // setInterval re-arms after its callback, unless the callback cleared it.
    if (t.repeat && mapGet(timers, t.handle) === t) arm(t);
  }, t.repeat ? 'interval' : 'timeout');
}

// The first request's id is the handle; an interval's later requests keep it.
function schedule(fn, ms, args, repeat) {
  checkCallback(fn);
  var t = { fn: fn, args: args, ms: delay(ms), repeat: repeat, request: 0, handle: 0 };
  arm(t);
  t.handle = t.request;
  mapSet(timers, t.handle, t);
  return t.handle;
}

function setTimeout(fn, ms) {
  return schedule(fn, ms, slice(arguments, 2), false);
}
function setInterval(fn, ms) {
  return schedule(fn, ms, slice(arguments, 2), true);
}
function clear(handle) {
  var n = typeof handle === 'number' ? handle : typeof handle === 'string' ? NumberC(handle) : NaN;
  var t = mapGet(timers, n);
  if (t === undefined) return;
  mapDelete(timers, n);
  I.timerCancel(t.request);
}
function clearTimeout(handle) {
  clear(handle);
}
function clearInterval(handle) {
  clear(handle);
}

var resolved = I.PromiseC.resolve();
function queueMicrotask(fn) {
  checkCallback(fn);
  I.promiseThen(resolved, function () {
    try {
      fn();
    } catch (e) {
      I.uncaught(e);
    }
  });
}

// performance.now(): the time since the execution started, monotonic and sub-millisecond from
// the far side's clock; in a durable execution the guest's clock (the host's time of the last reply).
// The monotonic clock is anchored to the wall clock once, at first use, so that 0 is the start.
var monoStart = I.durable() ? 0 : NumberC(I.service('now')) - (I.dateNow() - I.timeOrigin());
var performance = {};
I.ObjectDefineProperty(performance, 'now', {
  value: function now() {
    if (I.durable()) return I.now() - I.timeOrigin();
    return NumberC(I.service('now')) - monoStart;
  },
  writable: true,
  configurable: true,
  enumerable: true,
});
I.ObjectDefineProperty(performance, 'timeOrigin', { get: function () { return I.timeOrigin(); }, enumerable: true, configurable: true });
I.ObjectDefineProperty(performance, 'toJSON', {
  value: function toJSON() {
    return { timeOrigin: I.timeOrigin() };
  },
  writable: true,
  configurable: true,
});

return {
  setTimeout: setTimeout,
  setInterval: setInterval,
  clearTimeout: clearTimeout,
  clearInterval: clearInterval,
  queueMicrotask: queueMicrotask,
  performance: performance,
  // for other libraries (AbortSignal.timeout): a timer that is no script's own
  internalTimer: function (ms, fn) {
    return I.timerRequest(delay(ms), fn, 'internal');
  },
};
