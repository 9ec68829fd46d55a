// toolexec standard library: TextEncoder (UTF-8) and TextDecoder (UTF-8, UTF-16LE/BE and
// windows-1252, with fatal, ignoreBOM and stream) after the Encoding Standard, with Node's
// error messages. Written here: fast-text-encoding decodes UTF-8 only, without fatal or stream.
'use strict';
var TypeErrorC = TypeError;
var StringC = String;
var fromCharCode = String.fromCharCode;
var apply = I.apply;
var CHUNK = 4096;

function codes(units, n) {
  // String.fromCharCode over chunks: one call per 4096 code units.
  var out = '';
  for (var i = 0; i < n; i += CHUNK) out += apply(fromCharCode, undefined, units.slice(i, Math.min(n, i + CHUNK)));
  return out;
}

function encodeUtf8(s) {
  var str = StringC(s);
  var n = str.length;
  var bytes = new Uint8Array(n * 3);
  var w = 0;
  for (var i = 0; i < n; i++) {
    var c = str.charCodeAt(i);
    if (c < 0x80) bytes[w++] = c;
    else if (c < 0x800) {
      bytes[w++] = 0xc0 | (c >> 6);
      bytes[w++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        var d = i + 1 < n ? str.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          var cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          bytes[w++] = 0xf0 | (cp >> 18);
          bytes[w++] = 0x80 | ((cp >> 12) & 63);
          bytes[w++] = 0x80 | ((cp >> 6) & 63);
          bytes[w++] = 0x80 | (cp & 63);
          continue;
        }
        c = 0xfffd;
      }
      bytes[w++] = 0xe0 | (c >> 12);
      bytes[w++] = 0x80 | ((c >> 6) & 63);
      bytes[w++] = 0x80 | (c & 63);
    }
  }
  return bytes.slice(0, w);
}

class TextEncoder {
  get encoding() {
    return 'utf-8';
  }
  encode(input) {
    return encodeUtf8(input === undefined ? '' : input);
  }
  encodeInto(source, destination) {
    if (!(destination instanceof Uint8Array)) {
      var e = new TypeErrorC('The "dest" argument must be an instance of Uint8Array.');
      e.code = 'ERR_INVALID_ARG_TYPE';
      throw e;
    }
    var str = StringC(source);
    var read = 0;
    var written = 0;
    var cap = destination.length;
    for (var i = 0; i < str.length; i++) {
      var c = str.charCodeAt(i);
      var units = 1;
      var cp = c;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
        var d = str.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          units = 2;
        }
      }
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      var size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (written + size > cap) break;
      if (size === 1) destination[written] = cp;
      else if (size === 2) {
        destination[written] = 0xc0 | (cp >> 6);
        destination[written + 1] = 0x80 | (cp & 63);
      } else if (size === 3) {
        destination[written] = 0xe0 | (cp >> 12);
        destination[written + 1] = 0x80 | ((cp >> 6) & 63);
        destination[written + 2] = 0x80 | (cp & 63);
      } else {
        destination[written] = 0xf0 | (cp >> 18);
        destination[written + 1] = 0x80 | ((cp >> 12) & 63);
        destination[written + 2] = 0x80 | ((cp >> 6) & 63);
        destination[written + 3] = 0x80 | (cp & 63);
      }
      written += size;
      read += units;
      i += units - 1;
    }
    return { read: read, written: written };
  }
}
I.ObjectDefineProperty(TextEncoder.prototype, Symbol.toStringTag, { value: 'TextEncoder', configurable: true });

var LABELS = {
  'utf-8': ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8'],
  'utf-16le': ['csunicode', 'iso-10646-ucs-2', 'ucs-2', 'unicode', 'unicodefeff', 'utf-16', 'utf-16le'],
  'utf-16be': ['unicodefffe', 'utf-16be'],
  'windows-1252': ['ansi_x3.4-1968', 'ascii', 'cp1252', 'cp819', 'csisolatin1', 'ibm819', 'iso-8859-1', 'iso-ir-100', 'iso8859-1', 'iso88591', 'iso_8859-1', 'iso_8859-1:1987', 'l1', 'latin1', 'us-ascii', 'windows-1252', 'x-cp1252'],
};
var BY_LABEL = {};
for (var enc in LABELS) for (var li = 0; li < LABELS[enc].length; li++) BY_LABEL[LABELS[enc][li]] = enc;
// windows-1252 bytes 0x80-0x9F.
var W1252 = [0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178];

var decoders = new WeakMap();
function dec(self) {
  var d = decoders.get(self);
  if (d === undefined) throw new TypeErrorC('Value of "this" must be of type TextDecoder');
  return d;
}
function invalid(d) {
  var e = new TypeErrorC('The encoded data was not valid for encoding ' + d.encoding);
  e.code = 'ERR_ENCODING_INVALID_ENCODED_DATA';
  throw e;
}
function bytesOf(input) {
  if (input === undefined) return new Uint8Array(0);
  if (input instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && input instanceof SharedArrayBuffer)) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  var e = new TypeErrorC('The "input" argument must be an instance of ArrayBuffer or ArrayBufferView.' + (input === null ? ' Received null' : ' Received type ' + typeof input + (typeof input === 'object' ? '' : ' (' + StringC(input) + ')')));
  e.code = 'ERR_INVALID_ARG_TYPE';
  throw e;
}

// UTF-8 after the Encoding Standard's decoder (maximal subparts become one U+FFFD each).
function utf8(d, bytes, stream) {
  var units = [];
  var i = 0;
  var n = bytes.length;
  var need = d.need;
  var cp = d.cp;
  var lower = d.lower;
  var upper = d.upper;
  var seen = d.seen;
  for (; i < n; i++) {
    var b = bytes[i];
    if (need === 0) {
      if (b < 0x80) units.push(b);
      else if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; seen = 1; }
      else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
        need = 2; cp = b & 0xf; seen = 1;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
        need = 3; cp = b & 0x7; seen = 1;
      } else {
        if (d.fatal) invalid(d);
        units.push(0xfffd);
      }
      continue;
    }
    if (b < lower || b > upper) {
      need = 0; cp = 0; lower = 0x80; upper = 0xbf;
      if (d.fatal) invalid(d);
      units.push(0xfffd);
      i--;
      continue;
    }
    lower = 0x80; upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    seen++;
    if (--need === 0) {
      if (cp >= 0x10000) { cp -= 0x10000; units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff)); }
      else units.push(cp);
      cp = 0;
    }
  }
  if (need !== 0 && !stream) {
    need = 0; cp = 0; lower = 0x80; upper = 0xbf;
    if (d.fatal) invalid(d);
    units.push(0xfffd);
  }
  d.need = need; d.cp = cp; d.lower = lower; d.upper = upper; d.seen = seen;
  return units;
}

function utf16(d, bytes, stream, big) {
  var units = [];
  var all = bytes;
  if (d.pendingByte !== -1) {
    all = new Uint8Array(bytes.length + 1);
    all[0] = d.pendingByte;
    all.set(bytes, 1);
    d.pendingByte = -1;
  }
  var n = all.length - (all.length % 2);
  for (var i = 0; i < n; i += 2) {
    var u = big ? (all[i] << 8) | all[i + 1] : all[i] | (all[i + 1] << 8);
    if (d.lead !== 0) {
      var lead = d.lead;
      d.lead = 0;
      if (u >= 0xdc00 && u <= 0xdfff) { units.push(lead, u); continue; }
      if (d.fatal) invalid(d);
      units.push(0xfffd);
    }
    if (u >= 0xd800 && u <= 0xdbff) { d.lead = u; continue; }
    if (u >= 0xdc00 && u <= 0xdfff) { if (d.fatal) invalid(d); units.push(0xfffd); continue; }
    units.push(u);
  }
  if (all.length % 2) d.pendingByte = all[all.length - 1];
  if (!stream && (d.lead !== 0 || d.pendingByte !== -1)) {
    d.lead = 0;
    d.pendingByte = -1;
    if (d.fatal) invalid(d);
    units.push(0xfffd);
  }
  return units;
}

class TextDecoder {
  constructor(label, options) {
    var l = label === undefined ? 'utf-8' : StringC(label).trim().toLowerCase();
    var encoding = BY_LABEL[l];
    if (encoding === undefined) {
      var e = new RangeError('The "' + (label === undefined ? 'utf-8' : StringC(label)) + '" encoding is not supported');
      e.code = 'ERR_ENCODING_NOT_SUPPORTED';
      throw e;
    }
    var o = options === undefined || options === null ? {} : options;
    decoders.set(this, { encoding: encoding, fatal: !!o.fatal, ignoreBOM: !!o.ignoreBOM, bomSeen: false, need: 0, cp: 0, lower: 0x80, upper: 0xbf, seen: 0, lead: 0, pendingByte: -1 });
  }
  get encoding() { return dec(this).encoding; }
  get fatal() { return dec(this).fatal; }
  get ignoreBOM() { return dec(this).ignoreBOM; }
  decode(input, options) {
    var d = dec(this);
    var bytes = bytesOf(input);
    var stream = options !== undefined && options !== null && !!options.stream;
    var units;
    if (d.encoding === 'utf-8') units = utf8(d, bytes, stream);
    else if (d.encoding === 'windows-1252') {
      units = new Array(bytes.length);
      for (var i = 0; i < bytes.length; i++) { var b = bytes[i]; units[i] = b >= 0x80 && b <= 0x9f ? W1252[b - 0x80] : b; }
    } else units = utf16(d, bytes, stream, d.encoding === 'utf-16be');
    var start = 0;
    if (!d.ignoreBOM && !d.bomSeen && units.length > 0) {
      if (d.encoding !== 'windows-1252') {
        d.bomSeen = true;
        if (units[0] === 0xfeff) start = 1;
      }
    }
    var text = codes(start === 0 ? units : units.slice(1), units.length - start);
    if (!stream) d.bomSeen = false;
    return text;
  }
}
I.ObjectDefineProperty(TextDecoder.prototype, Symbol.toStringTag, { value: 'TextDecoder', configurable: true });
I.opaque(TextEncoder.prototype, 'a TextEncoder, which JSON would send as {}');
I.opaque(TextDecoder.prototype, 'a TextDecoder, which JSON would send as {}');

return { TextEncoder: TextEncoder, TextDecoder: TextDecoder, encodeUtf8: encodeUtf8 };
