// toolexec standard library: DOMException (WebIDL), the error the web APIs throw
// (AbortError, TimeoutError, DataCloneError, InvalidCharacterError, ...), as in Node.
'use strict';
var CODES = {
  IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5, NoModificationAllowedError: 7,
  NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11, SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14,
  InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
  QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
};
var state = new WeakMap();
var StringC = String;
function data(self) {
  var d = state.get(self);
  if (d === undefined) throw new TypeError('Value of "this" must be of type DOMException');
  return d;
}
class DOMException extends Error {
  constructor(message, options) {
    super();
    var name = 'Error';
    var cause;
    var hasCause = false;
    if (options !== null && typeof options === 'object') {
      if ('cause' in options) {
        hasCause = true;
        cause = options.cause;
      }
      if (options.name !== undefined) name = StringC(options.name);
    } else if (options !== undefined) name = StringC(options);
    state.set(this, { message: message === undefined ? '' : StringC(message), name: name });
    // The stack's first line names the exception, as V8 writes it.
    try {
      var stack = this.stack;
      if (typeof stack === 'string') {
        var nl = stack.indexOf('\n');
        I.ObjectDefineProperty(this, 'stack', { value: name + ': ' + state.get(this).message + (nl === -1 ? (stack.indexOf('    at ') === 0 ? '\n' + stack : '') : stack.slice(nl)), writable: true, configurable: true });
      }
    } catch (_) {}
    if (hasCause) I.ObjectDefineProperty(this, 'cause', { value: cause, writable: true, configurable: true });
  }
  get name() {
    return data(this).name;
  }
  get message() {
    return data(this).message;
  }
  get code() {
    var c = CODES[data(this).name];
    return typeof c === 'number' ? c : 0;
  }
}
var names = Object.keys(CODES);
for (var i = 0; i < names.length; i++) {
  var constant = names[i].replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase().replace(/_ERROR$/, '_ERR');
  var desc = { value: CODES[names[i]], enumerable: true };
  I.ObjectDefineProperty(DOMException, constant, desc);
  I.ObjectDefineProperty(DOMException.prototype, constant, desc);
}
I.ObjectDefineProperty(DOMException.prototype, Symbol.toStringTag, { value: 'DOMException', configurable: true });
return { DOMException: DOMException };
