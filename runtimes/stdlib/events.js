// toolexec standard library: Event, CustomEvent, EventTarget (DOM Standard, without a tree:
// every dispatch is at its target), AbortController and AbortSignal (with abort, timeout, any,
// throwIfAborted, reason). Errors thrown by listeners end the execution, as an uncaught
// exception ends a Node process.
'use strict';
var DOMException = I.load('domexception').DOMException;
var StringC = String;
var TypeErrorC = TypeError;
var events = new WeakMap();
var targets = new WeakMap();

function argError(message) {
  var e = new TypeErrorC(message);
  e.code = 'ERR_INVALID_ARG_TYPE';
  return e;
}
function ev(self) {
  var d = events.get(self);
  if (d === undefined) throw argError('Value of "this" must be of type Event');
  return d;
}

class Event {
  constructor(type, init) {
    if (arguments.length === 0) {
      var e = new TypeErrorC('The "type" argument must be specified');
      e.code = 'ERR_MISSING_ARGS';
      throw e;
    }
    var o = init === undefined || init === null ? {} : init;
    events.set(this, {
      type: StringC(type), bubbles: !!o.bubbles, cancelable: !!o.cancelable, composed: !!o.composed,
      canceled: false, stop: false, stopNow: false, target: null, current: null, dispatching: false, passive: false,
      trusted: false, timeStamp: I.load('timers').performance.now(),
    });
  }
  get type() { return ev(this).type; }
  get bubbles() { return ev(this).bubbles; }
  get cancelable() { return ev(this).cancelable; }
  get composed() { return ev(this).composed; }
  get defaultPrevented() { var d = ev(this); return d.cancelable && d.canceled; }
  get returnValue() { var d = ev(this); return !(d.cancelable && d.canceled); }
  get target() { return ev(this).target; }
  get currentTarget() { return ev(this).current; }
  get srcElement() { return ev(this).target; }
  get eventPhase() { return ev(this).dispatching ? 2 : 0; }
  get isTrusted() { return ev(this).trusted; }
  get timeStamp() { return ev(this).timeStamp; }
  get cancelBubble() { return ev(this).stop; }
  set cancelBubble(v) { if (v) ev(this).stop = true; }
  composedPath() { var d = ev(this); return d.dispatching ? [d.current] : []; }
  preventDefault() { var d = ev(this); if (d.cancelable && !d.passive) d.canceled = true; }
  stopPropagation() { ev(this).stop = true; }
  stopImmediatePropagation() { var d = ev(this); d.stop = true; d.stopNow = true; }
}
for (var [name, value] of [['NONE', 0], ['CAPTURING_PHASE', 1], ['AT_TARGET', 2], ['BUBBLING_PHASE', 3]]) {
  I.ObjectDefineProperty(Event, name, { value: value, enumerable: true });
  I.ObjectDefineProperty(Event.prototype, name, { value: value, enumerable: true });
}
I.ObjectDefineProperty(Event.prototype, Symbol.toStringTag, { value: 'Event', configurable: true });

var details = new WeakMap();
class CustomEvent extends Event {
  constructor(type, init) {
    if (arguments.length === 0) super();
    else super(type, init);
    details.set(this, init !== null && init !== undefined && init.detail !== undefined ? init.detail : null);
  }
  get detail() { return details.get(this); }
}
I.ObjectDefineProperty(CustomEvent.prototype, Symbol.toStringTag, { value: 'CustomEvent', configurable: true });

function listenersOf(self) {
  var l = targets.get(self);
  if (l === undefined) throw argError('Value of "this" must be of type EventTarget');
  return l;
}
function flatten(options) {
  if (typeof options === 'boolean') return { capture: options, once: false, passive: false, signal: undefined };
  if (options === null || options === undefined || typeof options !== 'object') return { capture: false, once: false, passive: false, signal: undefined };
  return { capture: !!options.capture, once: !!options.once, passive: !!options.passive, signal: options.signal };
}

class EventTarget {
  constructor() {
    targets.set(this, new Map());
  }
  addEventListener(type, listener, options) {
    var all = listenersOf(this);
    if (listener === null || listener === undefined) return;
    if (typeof listener !== 'function' && typeof listener !== 'object') throw argError('The "listener" argument must be an instance of EventListener.');
    var o = flatten(options);
    if (o.signal !== undefined && !isSignal(o.signal)) throw argError('The "options.signal" property must be an instance of AbortSignal.');
    if (o.signal !== undefined && o.signal.aborted) return;
    var key = StringC(type);
    var list = all.get(key);
    if (list === undefined) all.set(key, (list = []));
    for (var i = 0; i < list.length; i++) if (list[i].listener === listener && list[i].capture === o.capture) return;
    var entry = { listener: listener, capture: o.capture, once: o.once, passive: o.passive, removed: false };
    list.push(entry);
    if (o.signal !== undefined) {
      var self = this;
      o.signal.addEventListener('abort', function () { self.removeEventListener(key, listener, { capture: o.capture }); });
    }
  }
  removeEventListener(type, listener, options) {
    var all = listenersOf(this);
    var list = all.get(StringC(type));
    if (list === undefined) return;
    var capture = flatten(options).capture;
    for (var i = 0; i < list.length; i++) {
      if (list[i].listener === listener && list[i].capture === capture) {
        list[i].removed = true;
        list.splice(i, 1);
        return;
      }
    }
  }
  dispatchEvent(event) {
    var all = listenersOf(this);
    if (!(event instanceof Event)) throw argError('The "event" argument must be an instance of Event. Received ' + (event === null ? 'null' : typeof event));
    var d = ev(event);
    if (d.dispatching) throw new DOMException('The event is already being dispatched', 'InvalidStateError');
    d.dispatching = true;
    d.target = this;
    d.current = this;
    var list = all.get(d.type);
    var snapshot = list === undefined ? [] : list.slice();
    for (var i = 0; i < snapshot.length && !d.stopNow; i++) {
      var entry = snapshot[i];
      if (entry.removed) continue;
      if (entry.once) this.removeEventListener(d.type, entry.listener, { capture: entry.capture });
      d.passive = entry.passive;
      try {
        var l = entry.listener;
        if (typeof l === 'function') I.apply(l, this, [event]);
        else if (l !== null && typeof l.handleEvent === 'function') l.handleEvent(event);
      } catch (e) {
        I.uncaught(e);
      }
      d.passive = false;
    }
    d.dispatching = false;
    d.current = null;
    return !(d.cancelable && d.canceled);
  }
}
I.ObjectDefineProperty(EventTarget.prototype, Symbol.toStringTag, { value: 'EventTarget', configurable: true });

// ---- AbortSignal and AbortController ----
var signals = new WeakMap();
var constructing = false;
function isSignal(v) {
  return v !== null && typeof v === 'object' && signals.has(v);
}
function sig(self) {
  var s = signals.get(self);
  if (s === undefined) throw argError('Value of "this" must be of type AbortSignal');
  return s;
}
function newSignal() {
  constructing = true;
  try {
    return new AbortSignal();
  } finally {
    constructing = false;
  }
}
function abortSignal(signal, reason) {
  var s = sig(signal);
  if (s.aborted) return;
  s.aborted = true;
  s.reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
  var e = new Event('abort');
  events.get(e).trusted = true;
  signal.dispatchEvent(e);
  var deps = s.dependents;
  s.dependents = [];
  for (var i = 0; i < deps.length; i++) abortSignal(deps[i], s.reason);
}

class AbortSignal extends EventTarget {
  constructor() {
    if (!constructing) {
      var e = new TypeErrorC('Illegal constructor');
      e.code = 'ERR_ILLEGAL_CONSTRUCTOR';
      throw e;
    }
    super();
    signals.set(this, { aborted: false, reason: undefined, onabort: null, dependents: [] });
  }
  get aborted() { return sig(this).aborted; }
  get reason() { return sig(this).reason; }
  throwIfAborted() {
    var s = sig(this);
    if (s.aborted) throw s.reason;
  }
  get onabort() { return sig(this).onabort; }
  set onabort(fn) {
    var s = sig(this);
    if (s.onabort !== null) this.removeEventListener('abort', s.handler);
    s.onabort = typeof fn === 'function' || (fn !== null && typeof fn === 'object') ? fn : null;
    if (s.onabort !== null) {
      var self = this;
      s.handler = function (event) {
        var h = s.onabort;
        if (typeof h === 'function') I.apply(h, self, [event]);
      };
      this.addEventListener('abort', s.handler);
    }
  }
  static abort(reason) {
    var s = newSignal();
    abortSignal(s, reason);
    return s;
  }
  static timeout(ms) {
    var n = Number(ms);
    if (!(n >= 0 && n <= 9007199254740991) || typeof ms !== 'number') {
      var e = new (typeof ms === 'number' ? RangeError : TypeErrorC)('The "delay" argument must be ' + (typeof ms === 'number' ? '>= 0 && <= 4294967295' : 'of type number') + '. Received ' + (typeof ms === 'number' ? StringC(ms) : typeof ms));
      e.code = typeof ms === 'number' ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE';
      throw e;
    }
    var s = newSignal();
    // Like Node's, this timer keeps nothing waiting: it is not the script's own.
    I.load('timers').internalTimer(n, function () {
      abortSignal(s, new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    });
    return s;
  }
  static any(list) {
    var s = newSignal();
    var all = [];
    for (var x of list) {
      if (!isSignal(x)) throw argError('The "signals[' + all.length + ']" argument must be an instance of AbortSignal.');
      all.push(x);
    }
    for (var i = 0; i < all.length; i++) {
      if (all[i].aborted) {
        abortSignal(s, all[i].reason);
        return s;
      }
    }
    for (var j = 0; j < all.length; j++) sig(all[j]).dependents.push(s);
    return s;
  }
}
I.ObjectDefineProperty(AbortSignal.prototype, Symbol.toStringTag, { value: 'AbortSignal', configurable: true });

var controllers = new WeakMap();
class AbortController {
  constructor() {
    controllers.set(this, newSignal());
  }
  get signal() {
    var s = controllers.get(this);
    if (s === undefined) throw argError('Value of "this" must be of type AbortController');
    return s;
  }
  abort(reason) {
    abortSignal(this.signal, reason);
  }
}
I.ObjectDefineProperty(AbortController.prototype, Symbol.toStringTag, { value: 'AbortController', configurable: true });
I.opaque(Event.prototype, 'an Event, which JSON would send as {}');
I.opaque(EventTarget.prototype, 'an EventTarget, which JSON would send as {}');
I.opaque(AbortController.prototype, 'an AbortController, which JSON would send as {}');

return { Event: Event, CustomEvent: CustomEvent, EventTarget: EventTarget, AbortSignal: AbortSignal, AbortController: AbortController };
