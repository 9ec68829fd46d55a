// toolexec standard library, durable executions only: the clock and Math.random come from what
// a replay can reproduce. `Date` (no arguments) and `Date.now()` read the guest's clock, which
// starts at the execution's `env.now` and moves only to the `t` (host epoch ms) of each reply
// the host sends; Math.random draws from the same seeded ChaCha20 stream as crypto. Loaded
// before the script starts, and only when `env.durable` is true.
'use strict';
var NativeDate = I.DateC;
var construct = Reflect.construct;
var now = I.now;
function Date(a, b, c, d, e, f, g) {
  if (new.target === undefined) return new NativeDate(now()).toString();
  var n = arguments.length;
  if (n === 0) return construct(NativeDate, [now()], new.target);
  return construct(NativeDate, Array.prototype.slice.call(arguments), new.target);
}
I.ObjectDefineProperty(Date, 'prototype', { value: NativeDate.prototype, writable: false });
I.ObjectDefineProperty(NativeDate.prototype, 'constructor', { value: Date, writable: true, configurable: true });
I.ObjectDefineProperty(Date, 'now', { value: function now_() { return now(); }, writable: true, configurable: true });
I.ObjectDefineProperty(Date.now, 'name', { value: 'now' });
Date.parse = NativeDate.parse;
Date.UTC = NativeDate.UTC;
I.ObjectDefineProperty(I.G, 'Date', { value: Date, writable: true, configurable: true, enumerable: false });

// The crypto library (and its ChaCha20 stream) loads on the first draw, not for every durable
// execution: the sequence is the same whichever of Math.random and crypto draws first.
var random;
I.ObjectDefineProperty(Math, 'random', {
  value: function random_() {
    if (random === undefined) random = I.load('crypto').random;
    return random();
  },
  writable: true,
  configurable: true,
});
I.ObjectDefineProperty(Math.random, 'name', { value: 'random' });

// A native Intl.DateTimeFormat formats "now" from the engine's own clock when given no date.
// Only a native Intl (a data property) needs this: the sandbox's own (QuickJS, an accessor until
// first use, which reading it here would trigger) already reads the guest's clock.
var intl = Object.getOwnPropertyDescriptor(I.G, 'Intl');
var NativeIntl = intl !== undefined && 'value' in intl ? intl.value : undefined;
if (typeof NativeIntl === 'object' && NativeIntl !== null && typeof NativeIntl.DateTimeFormat === 'function') {
  var proto = NativeIntl.DateTimeFormat.prototype;
  var formatGet = Object.getOwnPropertyDescriptor(proto, 'format').get;
  var toParts = proto.formatToParts;
  I.ObjectDefineProperty(proto, 'format', {
    get: function () {
      var f = I.apply(formatGet, this, []);
      return function (d) { return f(d === undefined ? now() : d); };
    },
    configurable: true,
  });
  proto.formatToParts = function formatToParts(d) {
    return I.apply(toParts, this, [d === undefined ? now() : d]);
  };
}
return {};
