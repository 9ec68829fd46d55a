// toolexec standard library: ECMA-402 Intl for QuickJS, which has none. Every answer is ICU's,
// from the far side's V8 (the same Node the other runtimes run), through the synchronous
// services: the guest sends locales, options and arguments as JSON text, and builds what comes
// back (strings, numbers, plain arrays and objects) in its own realm. The host keeps recent
// formatters by their (constructor, locales, options) key, so a formatter used in a loop is
// made once. Only loaded where the engine has no Intl of its own.
'use strict';
var TypeErrorC = TypeError;
var RangeErrorC = RangeError;
var StringC = String;
var NumberC = Number;
var JSONparse = I.JSONparse;
var JSONstringify = I.JSONstringify;
var service = I.service;
var define = I.ObjectDefineProperty;
var getTime = I.uncurry(Date.prototype.getTime);
var numberValue = I.uncurry(Number.prototype.valueOf);
var bigintValue = typeof BigInt === 'function' ? I.uncurry(BigInt.prototype.valueOf) : undefined;
var nativeUpper = I.uncurry(String.prototype.toUpperCase);
var nativeLower = I.uncurry(String.prototype.toLowerCase);

var KEYS = {
  Collator: 'usage localeMatcher collation numeric caseFirst sensitivity ignorePunctuation',
  DateTimeFormat: 'localeMatcher calendar numberingSystem hour12 hourCycle timeZone weekday era year month day dayPeriod hour minute second fractionalSecondDigits timeZoneName formatMatcher dateStyle timeStyle',
  NumberFormat: 'localeMatcher numberingSystem style currency currencyDisplay currencySign unit unitDisplay notation minimumIntegerDigits minimumFractionDigits maximumFractionDigits minimumSignificantDigits maximumSignificantDigits roundingPriority roundingIncrement roundingMode trailingZeroDisplay compactDisplay useGrouping signDisplay',
  PluralRules: 'localeMatcher type minimumIntegerDigits minimumFractionDigits maximumFractionDigits minimumSignificantDigits maximumSignificantDigits roundingPriority roundingIncrement roundingMode trailingZeroDisplay',
  RelativeTimeFormat: 'localeMatcher numberingSystem style numeric',
  ListFormat: 'localeMatcher type style',
  Segmenter: 'localeMatcher granularity',
  DisplayNames: 'localeMatcher style type fallback languageDisplay',
  Locale: 'calendar caseFirst collation hourCycle language numberingSystem numeric region script',
};
for (var kk in KEYS) KEYS[kk] = KEYS[kk].split(' ');

var locales = new WeakMap();
function localeTag(v) {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && locales.has(v)) return locales.get(v).toString;
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) throw new TypeErrorC('Language ID should be string or object.');
  return StringC(v);
}
function localesOf(l) {
  if (l === undefined) return null;
  if (typeof l === 'string' || (l !== null && typeof l === 'object' && locales.has(l))) return [localeTag(l)];
  if (l === null) throw new TypeErrorC('Cannot convert undefined or null to object');
  var o = Object(l);
  var n = NumberC(o.length) >>> 0;
  var out = [];
  for (var i = 0; i < n; i++) if (i in o) out.push(localeTag(o[i]));
  return out;
}
function optionsOf(o, kind) {
  if (o === undefined) return null;
  if (o === null) throw new TypeErrorC('Cannot convert undefined or null to object');
  var keys = KEYS[kind];
  var out = {};
  for (var i = 0; i < keys.length; i++) {
    var v = o[keys[i]];
    if (v === undefined) continue;
    if (typeof v === 'symbol') throw new TypeErrorC('Cannot convert a Symbol value to a string');
    out[keys[i]] = v !== null && (typeof v === 'object' || typeof v === 'function') ? StringC(v) : v;
  }
  return out;
}
// Numbers go as text, so that NaN, Infinity and -0 survive JSON; `b` marks a BigInt, `s` a decimal string.
function num(x) {
  if (typeof x === 'bigint') return 'b' + StringC(x);
  if (typeof x === 'string') return 's' + x;
  var n = NumberC(x);
  return n === 0 && 1 / n < 0 ? '-0' : StringC(n);
}
function time(d) {
  var t = d === undefined ? I.now() : d instanceof I.DateC ? getTime(d) : NumberC(d);
  if (t !== t || t === Infinity || t === -Infinity) throw new RangeErrorC('Invalid time value');
  return t;
}

var states = new WeakMap();
function st(self, kind) {
  var s = states.get(self);
  if (s === undefined || s.kind !== kind) throw new TypeErrorC('Method Intl.' + kind + '.prototype called on incompatible receiver ' + (self === null || typeof self !== 'object' ? StringC(self) : '#<Object>'));
  return s;
}
function init(self, kind, l, o) {
  var key = JSONstringify([kind, localesOf(l), optionsOf(o, kind)]);
  var resolved = service('intl', key, 'resolvedOptions');
  states.set(self, { kind: kind, key: key, resolved: resolved, bound: undefined });
}
function call(self, kind, method, args) {
  return JSONparse(service('intl', st(self, kind).key, method, JSONstringify(args)));
}
function needNew(kind) {
  throw new TypeErrorC("Constructor Intl." + kind + " requires 'new'");
}
function common(C, kind) {
  define(C.prototype, 'resolvedOptions', {
    value: function resolvedOptions() {
      return JSONparse(st(this, kind).resolved);
    },
    writable: true,
    configurable: true,
  });
  define(C, 'supportedLocalesOf', {
    value: function supportedLocalesOf(l, o) {
      return JSONparse(service('intlstatic', 'supportedLocalesOf', JSONstringify([kind, localesOf(l), o === undefined ? null : optionsOf(o, kind)])));
    },
    writable: true,
    configurable: true,
  });
  define(C.prototype, Symbol.toStringTag, { value: 'Intl.' + kind, configurable: true });
  I.opaque(C.prototype, 'an Intl.' + kind + ', which JSON would send as {}');
}
function boundGetter(C, kind, name, make) {
  define(C.prototype, name, {
    get: function () {
      var s = st(this, kind);
      if (s.bound === undefined) s.bound = make(this);
      return s.bound;
    },
    configurable: true,
  });
}

function DateTimeFormat(l, o) {
  if (!new.target) return new DateTimeFormat(l, o);
  init(this, 'DateTimeFormat', l, o);
}
common(DateTimeFormat, 'DateTimeFormat');
boundGetter(DateTimeFormat, 'DateTimeFormat', 'format', function (self) {
  return function (d) {
    return call(self, 'DateTimeFormat', 'format', [time(d)]);
  };
});
DateTimeFormat.prototype.formatToParts = function formatToParts(d) {
  return call(this, 'DateTimeFormat', 'formatToParts', [time(d)]);
};
DateTimeFormat.prototype.formatRange = function formatRange(a, b) {
  return call(this, 'DateTimeFormat', 'formatRange', [time(a), time(b)]);
};
DateTimeFormat.prototype.formatRangeToParts = function formatRangeToParts(a, b) {
  return call(this, 'DateTimeFormat', 'formatRangeToParts', [time(a), time(b)]);
};

function NumberFormat(l, o) {
  if (!new.target) return new NumberFormat(l, o);
  init(this, 'NumberFormat', l, o);
}
common(NumberFormat, 'NumberFormat');
boundGetter(NumberFormat, 'NumberFormat', 'format', function (self) {
  return function (x) {
    return call(self, 'NumberFormat', 'format', [num(x)]);
  };
});
NumberFormat.prototype.formatToParts = function formatToParts(x) {
  return call(this, 'NumberFormat', 'formatToParts', [num(x)]);
};
NumberFormat.prototype.formatRange = function formatRange(a, b) {
  return call(this, 'NumberFormat', 'formatRange', [num(a), num(b)]);
};
NumberFormat.prototype.formatRangeToParts = function formatRangeToParts(a, b) {
  return call(this, 'NumberFormat', 'formatRangeToParts', [num(a), num(b)]);
};

function Collator(l, o) {
  if (!new.target) return new Collator(l, o);
  init(this, 'Collator', l, o);
}
common(Collator, 'Collator');
boundGetter(Collator, 'Collator', 'compare', function (self) {
  var key = st(self, 'Collator').key;
  return function (a, b) {
    return NumberC(service('intlcmp', key, StringC(a), StringC(b)));
  };
});

function PluralRules(l, o) {
  if (!new.target) needNew('PluralRules');
  init(this, 'PluralRules', l, o);
}
common(PluralRules, 'PluralRules');
PluralRules.prototype.select = function select(n) {
  return call(this, 'PluralRules', 'select', [num(NumberC(n))]);
};
PluralRules.prototype.selectRange = function selectRange(a, b) {
  return call(this, 'PluralRules', 'selectRange', [num(NumberC(a)), num(NumberC(b))]);
};

function RelativeTimeFormat(l, o) {
  if (!new.target) needNew('RelativeTimeFormat');
  init(this, 'RelativeTimeFormat', l, o);
}
common(RelativeTimeFormat, 'RelativeTimeFormat');
RelativeTimeFormat.prototype.format = function format(v, unit) {
  return call(this, 'RelativeTimeFormat', 'format', [num(NumberC(v)), StringC(unit)]);
};
RelativeTimeFormat.prototype.formatToParts = function formatToParts(v, unit) {
  return call(this, 'RelativeTimeFormat', 'formatToParts', [num(NumberC(v)), StringC(unit)]);
};

function listOf(list) {
  var out = [];
  if (list === undefined) return out;
  for (var x of list) {
    if (typeof x !== 'string') throw new TypeErrorC('Iterable yielded ' + (typeof x === 'symbol' ? 'Symbol()' : StringC(x)) + ' which is not a string');
    out.push(x);
  }
  return out;
}
function ListFormat(l, o) {
  if (!new.target) needNew('ListFormat');
  init(this, 'ListFormat', l, o);
}
common(ListFormat, 'ListFormat');
ListFormat.prototype.format = function format(list) {
  return call(this, 'ListFormat', 'format', [listOf(list)]);
};
ListFormat.prototype.formatToParts = function formatToParts(list) {
  return call(this, 'ListFormat', 'formatToParts', [listOf(list)]);
};

function DisplayNames(l, o) {
  if (!new.target) needNew('DisplayNames');
  init(this, 'DisplayNames', l, o);
}
common(DisplayNames, 'DisplayNames');
DisplayNames.prototype.of = function of(code) {
  return call(this, 'DisplayNames', 'of', [StringC(code)]);
};

// Segments: the host sends the boundaries; the guest slices its own string.
function segmentData(input, marks, i, word) {
  var start = marks[i];
  var end = i + 2 < marks.length ? marks[i + 2] : input.length;
  var out = { segment: input.slice(start, end), index: start, input: input };
  if (word) out.isWordLike = marks[i + 1] === 1;
  return out;
}
var segmentsData = new WeakMap();
function Segments(input, marks, word) {
  segmentsData.set(this, { input: input, marks: marks, word: word });
}
Segments.prototype.containing = function containing(index) {
  var d = segmentsData.get(this);
  var n = index === undefined ? 0 : Math.trunc(NumberC(index)) || 0;
  if (n < 0 || n >= d.input.length) return undefined;
  for (var i = d.marks.length - 2; i >= 0; i -= 2) if (d.marks[i] <= n) return segmentData(d.input, d.marks, i, d.word);
  return undefined;
};
Segments.prototype[Symbol.iterator] = function* () {
  var d = segmentsData.get(this);
  for (var i = 0; i < d.marks.length; i += 2) yield segmentData(d.input, d.marks, i, d.word);
};
function Segmenter(l, o) {
  if (!new.target) needNew('Segmenter');
  init(this, 'Segmenter', l, o);
}
common(Segmenter, 'Segmenter');
Segmenter.prototype.segment = function segment(text) {
  var s = st(this, 'Segmenter');
  var input = StringC(text);
  var marks = JSONparse(service('intl', s.key, 'segment', JSONstringify([input])));
  return new Segments(input, marks, JSONparse(s.resolved).granularity === 'word');
};

function Locale(tag, o) {
  if (!new.target) needNew('Locale');
  if (typeof tag !== 'string' && !(tag !== null && typeof tag === 'object')) throw new TypeErrorC('First argument to Intl.Locale constructor can\'t be empty or missing');
  var key = JSONstringify(['Locale', localeTag(tag), optionsOf(o, 'Locale') || {}]);
  locales.set(this, JSONparse(service('intl', key, 'locale')));
}
['baseName', 'calendar', 'caseFirst', 'collation', 'hourCycle', 'language', 'numberingSystem', 'numeric', 'region', 'script'].forEach(function (name) {
  define(Locale.prototype, name, {
    get: function () {
      var r = locales.get(this);
      if (r === undefined) throw new TypeErrorC('Method Intl.Locale.prototype.' + name + ' called on incompatible receiver');
      return r[name];
    },
    configurable: true,
  });
});
Locale.prototype.toString = function toString() {
  return locales.get(this).toString;
};
Locale.prototype.maximize = function maximize() {
  return new Locale(locales.get(this).maximize);
};
Locale.prototype.minimize = function minimize() {
  return new Locale(locales.get(this).minimize);
};
define(Locale.prototype, Symbol.toStringTag, { value: 'Intl.Locale', configurable: true });

var Intl = {};
var ctors = { Collator: Collator, DateTimeFormat: DateTimeFormat, DisplayNames: DisplayNames, ListFormat: ListFormat, Locale: Locale, NumberFormat: NumberFormat, PluralRules: PluralRules, RelativeTimeFormat: RelativeTimeFormat, Segmenter: Segmenter };
for (var name in ctors) {
  define(ctors[name], 'name', { value: name });
  define(Intl, name, { value: ctors[name], writable: true, configurable: true });
}
define(Intl, 'getCanonicalLocales', {
  value: function getCanonicalLocales(l) {
    return JSONparse(service('intlstatic', 'getCanonicalLocales', JSONstringify(localesOf(l) || [])));
  },
  writable: true,
  configurable: true,
});
define(Intl, 'supportedValuesOf', {
  value: function supportedValuesOf(key) {
    return JSONparse(service('intlstatic', 'supportedValuesOf', StringC(key)));
  },
  writable: true,
  configurable: true,
});
define(Intl, Symbol.toStringTag, { value: 'Intl', configurable: true });

// The locale-sensitive methods of the built-ins, replacing QuickJS's locale-blind ones.
function localeCall(method, self, l, o, kind, other) {
  return service('locale', method, self, JSONstringify([localesOf(l), optionsOf(o, kind), other === undefined ? null : other]));
}
function coercible(self, name) {
  if (self === null || self === undefined) throw new TypeErrorC('String.prototype.' + name + ' called on null or undefined');
  return StringC(self);
}
function methods(table) {
  for (var n in table) define(table[n], 'name', { value: n.split('.')[1] });
  return table;
}
var out = methods({
  'String.localeCompare': function (that, l, o) {
    return NumberC(localeCall('localeCompare', coercible(this, 'localeCompare'), l, o, 'Collator', StringC(that)));
  },
  'String.toLocaleUpperCase': function (l) {
    var s = coercible(this, 'toLocaleUpperCase');
    return l === undefined ? nativeUpper(s) : JSONparse(localeCall('toLocaleUpperCase', s, l, undefined, 'Collator'));
  },
  'String.toLocaleLowerCase': function (l) {
    var s = coercible(this, 'toLocaleLowerCase');
    return l === undefined ? nativeLower(s) : JSONparse(localeCall('toLocaleLowerCase', s, l, undefined, 'Collator'));
  },
  'Number.toLocaleString': function (l, o) {
    return JSONparse(localeCall('number', num(numberValue(this)), l, o, 'NumberFormat'));
  },
  'BigInt.toLocaleString': function (l, o) {
    return JSONparse(localeCall('number', 'b' + StringC(bigintValue(this)), l, o, 'NumberFormat'));
  },
  'Date.toLocaleString': function (l, o) {
    var t = getTime(this);
    return t !== t ? 'Invalid Date' : JSONparse(localeCall('toLocaleString', StringC(t), l, o, 'DateTimeFormat'));
  },
  'Date.toLocaleDateString': function (l, o) {
    var t = getTime(this);
    return t !== t ? 'Invalid Date' : JSONparse(localeCall('toLocaleDateString', StringC(t), l, o, 'DateTimeFormat'));
  },
  'Date.toLocaleTimeString': function (l, o) {
    var t = getTime(this);
    return t !== t ? 'Invalid Date' : JSONparse(localeCall('toLocaleTimeString', StringC(t), l, o, 'DateTimeFormat'));
  },
  'Array.toLocaleString': function (l, o) {
    var a = Object(this);
    var n = NumberC(a.length) >>> 0;
    var parts = [];
    for (var i = 0; i < n; i++) {
      var x = a[i];
      parts.push(x === null || x === undefined ? '' : StringC(x.toLocaleString(l, o)));
    }
    return parts.join(',');
  },
});
out.Intl = Intl;
return out;
