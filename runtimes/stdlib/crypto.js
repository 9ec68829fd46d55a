// toolexec standard library: crypto.getRandomValues and crypto.randomUUID from a ChaCha20
// keystream (RFC 8439 block function, nonce 0) keyed with the execution's seed: 32 bytes of
// the host's entropy (crypto.randomBytes) chosen per execution. The same seed gives the same
// values, which is what a durable execution's replay needs (the seed is in its journal).
// Tested against Node's own chacha20 cipher (OpenSSL).
'use strict';
var DOMException = I.load('domexception').DOMException;
var seed = I.seed();
var key = new Uint32Array(8);
var state = new Uint32Array(16);
var block = new Uint32Array(16);
var bytes = new Uint8Array(block.buffer);
var used = 64;
var counter = 0;
var ok = typeof seed === 'string' && /^[0-9a-f]{64}$/.test(seed);
if (ok) for (var i = 0; i < 8; i++) key[i] = parseInt(seed.slice(i * 8 + 6, i * 8 + 8) + seed.slice(i * 8 + 4, i * 8 + 6) + seed.slice(i * 8 + 2, i * 8 + 4) + seed.slice(i * 8, i * 8 + 2), 16);

function quarter(x, a, b, c, d) {
  x[a] = (x[a] + x[b]) | 0; x[d] ^= x[a]; x[d] = (x[d] << 16) | (x[d] >>> 16);
  x[c] = (x[c] + x[d]) | 0; x[b] ^= x[c]; x[b] = (x[b] << 12) | (x[b] >>> 20);
  x[a] = (x[a] + x[b]) | 0; x[d] ^= x[a]; x[d] = (x[d] << 8) | (x[d] >>> 24);
  x[c] = (x[c] + x[d]) | 0; x[b] ^= x[c]; x[b] = (x[b] << 7) | (x[b] >>> 25);
}
function refill() {
  state[0] = 0x61707865; state[1] = 0x3320646e; state[2] = 0x79622d32; state[3] = 0x6b206574;
  for (var k = 0; k < 8; k++) state[4 + k] = key[k];
  state[12] = counter >>> 0;
  state[13] = (counter / 4294967296) >>> 0;
  state[14] = 0; state[15] = 0;
  counter++;
  block.set(state);
  for (var r = 0; r < 10; r++) {
    quarter(block, 0, 4, 8, 12); quarter(block, 1, 5, 9, 13); quarter(block, 2, 6, 10, 14); quarter(block, 3, 7, 11, 15);
    quarter(block, 0, 5, 10, 15); quarter(block, 1, 6, 11, 12); quarter(block, 2, 7, 8, 13); quarter(block, 3, 4, 9, 14);
  }
  for (var m = 0; m < 16; m++) block[m] = (block[m] + state[m]) | 0;
  used = 0;
}
// The keystream's bytes are little-endian words: the platform's order on every engine we run.
function fill(target) {
  if (!ok) throw new Error('this execution has no random seed from the host (crypto is not available)');
  for (var j = 0; j < target.length; j++) {
    if (used === 64) refill();
    target[j] = bytes[used++];
  }
  return target;
}

var INTEGER = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'];
var tagOf = I.uncurry(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get);

function getRandomValues(array) {
  var tag = array !== null && typeof array === 'object' ? tagOf(array) : undefined;
  if (tag === undefined || INTEGER.indexOf(tag) === -1) throw new DOMException('The data argument must be an integer-type TypedArray', 'TypeMismatchError');
  if (array.byteLength > 65536) throw new DOMException('The requested length exceeds 65,536 bytes', 'QuotaExceededError');
  fill(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return array;
}

var HEX = '0123456789abcdef';
function randomUUID() {
  var b = fill(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  var s = '';
  for (var k = 0; k < 16; k++) {
    if (k === 4 || k === 6 || k === 8 || k === 10) s += '-';
    s += HEX[b[k] >> 4] + HEX[b[k] & 15];
  }
  return s;
}

// A double in [0, 1) from 53 bits of the stream (Math.random in durable executions).
var two = new Uint32Array(2);
var twoBytes = new Uint8Array(two.buffer);
function random() {
  fill(twoBytes);
  return ((two[0] >>> 5) * 67108864 + (two[1] >>> 6)) / 9007199254740992;
}

function Crypto() {
  throw new TypeError('Illegal constructor');
}
var crypto = I.ObjectCreate(Crypto.prototype);
I.ObjectDefineProperty(Crypto.prototype, Symbol.toStringTag, { value: 'Crypto', configurable: true });
I.ObjectDefineProperty(crypto, 'getRandomValues', { value: getRandomValues, writable: true, configurable: true, enumerable: true });
I.ObjectDefineProperty(crypto, 'randomUUID', { value: randomUUID, writable: true, configurable: true, enumerable: true });
return { crypto: crypto, random: random, keystream: fill };
