// toolexec standard library: atob and btoa (HTML's forgiving-base64), with Node's errors.
'use strict';
var DOMException = I.load('domexception').DOMException;
var TypeErrorC = TypeError;
var StringC = String;
var A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
var INDEX = {};
for (var i = 0; i < 64; i++) INDEX[A[i]] = i;
var fromCharCode = String.fromCharCode;

function missing(name) {
  var e = new TypeErrorC('The "' + name + '" argument must be specified');
  e.code = 'ERR_MISSING_ARGS';
  return e;
}

function btoa(data) {
  if (arguments.length === 0) throw missing('input');
  var s = StringC(data);
  var out = '';
  for (var j = 0; j < s.length; j++) if (s.charCodeAt(j) > 255) throw new DOMException('Invalid character', 'InvalidCharacterError');
  for (var k = 0; k < s.length; k += 3) {
    var a = s.charCodeAt(k);
    var b = k + 1 < s.length ? s.charCodeAt(k + 1) : -1;
    var c = k + 2 < s.length ? s.charCodeAt(k + 2) : -1;
    out += A[a >> 2] + A[((a & 3) << 4) | (b < 0 ? 0 : b >> 4)] + (b < 0 ? '=' : A[((b & 15) << 2) | (c < 0 ? 0 : c >> 6)]) + (c < 0 ? '=' : A[c & 63]);
  }
  return out;
}

function atob(data) {
  if (arguments.length === 0) throw missing('input');
  var raw = StringC(data);
  var invalidChar = function () {
    return new DOMException('Invalid character', 'InvalidCharacterError');
  };
  // Node's checks, in Node's order (its messages differ by the kind of fault).
  var equals = 0;
  var s = '';
  for (var n = 0; n < raw.length; n++) {
    var ch = raw[n];
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\f' || ch === '\r') continue;
    if (ch === '=') equals++;
    else if (INDEX[ch] === undefined || equals) throw invalidChar();
    else s += ch;
  }
  if (equals > 2) throw invalidChar();
  if (s.length % 4 === 1) throw new DOMException('The string to be decoded is not correctly encoded.', 'InvalidCharacterError');
  if (equals > 0 && (s.length + equals) % 4 !== 0) throw invalidChar();
  var codes = [];
  var buffer = 0;
  var bits = 0;
  for (var k = 0; k < s.length; k++) {
    buffer = (buffer << 6) | INDEX[s[k]];
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      codes.push((buffer >> bits) & 255);
    }
  }
  var out = '';
  for (var m = 0; m < codes.length; m += 4096) out += I.apply(fromCharCode, undefined, codes.slice(m, m + 4096));
  return out;
}
return { atob: atob, btoa: btoa };
