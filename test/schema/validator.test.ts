import { describe, expect, test } from 'vitest';
import { AjvSchemaValidator, defaultValidator, detectDraft, formatIssues } from '../../src/schema/validator.js';
import type { ValidationResult } from '../../src/schema/types.js';
import type { JsonSchema } from '../../src/model/json.js';

const DRAFT7 = 'http://json-schema.org/draft-07/schema#';
const D2020 = 'https://json-schema.org/draft/2020-12/schema';

function invalid(r: ValidationResult) {
  if (r.valid) throw new Error('expected an invalid result');
  return r;
}

describe('dialects', () => {
  test('draft-07: array-form items is a tuple and additionalItems applies', () => {
    const v = new AjvSchemaValidator();
    const schema = { $schema: DRAFT7, type: 'array', items: [{ type: 'string' }, { type: 'number' }], additionalItems: false };
    expect(v.validate(schema, ['a', 1]).valid).toBe(true);
    const r = invalid(v.validate(schema, [1, 'a']));
    expect(r.issues.map((i) => i.path)).toEqual(['/0', '/1']);
    expect(invalid(v.validate(schema, ['a', 1, true])).issues[0]!.keyword).toBe('additionalItems');
  });

  test('draft-07 without "#", and over https, is still draft-07', () => {
    const v = new AjvSchemaValidator();
    for (const uri of ['http://json-schema.org/draft-07/schema', 'https://json-schema.org/draft-07/schema#']) {
      expect(v.validate({ $schema: uri, items: [{ type: 'string' }] }, [1]).valid).toBe(false);
    }
  });

  test('draft-07: definitions and dependencies are enforced', () => {
    const schema = {
      $schema: DRAFT7,
      definitions: { pos: { type: 'integer', minimum: 0 } },
      properties: { n: { $ref: '#/definitions/pos' } },
      dependencies: { a: ['b'] },
    };
    expect(defaultValidator.validate(schema, { n: -1 }).valid).toBe(false);
    const r = invalid(defaultValidator.validate(schema, { a: 1 }));
    expect(r.issues[0]!.path).toBe('/b');
    expect(r.message).toContain('/ must have property "b" when property "a" is present');
  });

  test('2020-12 is the default: prefixItems, items after prefixItems, $defs, dependentRequired', () => {
    const v = new AjvSchemaValidator();
    const schema = { type: 'array', prefixItems: [{ type: 'string' }], items: { type: 'integer' } };
    expect(v.validate(schema, ['a', 1, 2]).valid).toBe(true);
    expect(invalid(v.validate(schema, [1])).issues[0]!.path).toBe('/0');
    expect(invalid(v.validate(schema, ['a', 'b'])).issues[0]!.path).toBe('/1');
    // With $schema spelled out as well.
    expect(v.validate({ $schema: D2020, $defs: { s: { type: 'string' } }, $ref: '#/$defs/s' }, 3).valid).toBe(false);
    expect(v.validate({ dependentRequired: { a: ['b'] } }, { a: 1 }).valid).toBe(false);
  });

  test('2020-12 ignores the draft-07 array form of items (it is not a 2020-12 keyword form)', () => {
    // In 2020-12, `items` must be a schema: the array form is a schema error, not a tuple.
    expect(() => new AjvSchemaValidator().compile({ items: [{ type: 'string' }] })).toThrow(/Invalid JSON Schema/);
  });

  test('2019-09 when $schema says so', () => {
    const v = new AjvSchemaValidator();
    const schema = { $schema: 'https://json-schema.org/draft/2019-09/schema', type: 'object', unevaluatedProperties: false, properties: { a: {} } };
    expect(v.validate(schema, { a: 1 }).valid).toBe(true);
    const r = invalid(v.validate(schema, { a: 1, b: 2 }));
    expect(r.issues[0]).toMatchObject({ path: '/b', keyword: 'unevaluatedProperties' });
  });

  test('draft-06 and draft-04 schemas compile (draft-04 boolean exclusiveMaximum is honoured)', () => {
    const v = new AjvSchemaValidator();
    expect(v.validate({ $schema: 'http://json-schema.org/draft-06/schema#', type: 'integer', exclusiveMinimum: 0 }, 0).valid).toBe(false);
    const d4 = { $schema: 'http://json-schema.org/draft-04/schema#', id: 'urn:example:limits', type: 'number', maximum: 5, exclusiveMaximum: true };
    expect(v.validate(d4, 4.9).valid).toBe(true);
    expect(v.validate(d4, 5).valid).toBe(false);
    const notExclusive = { $schema: 'http://json-schema.org/draft-04/schema#', type: 'number', maximum: 5, exclusiveMaximum: false };
    expect(v.validate(notExclusive, 5).valid).toBe(true);
    // A property named "id" and data keywords are left alone.
    const withIdProp = { $schema: 'http://json-schema.org/draft-04/schema#', properties: { id: { type: 'string' } }, enum: [{ exclusiveMaximum: true }, { id: 1 }] };
    expect(v.validate(withIdProp, { id: 1 }).valid).toBe(false);
    expect(v.validate(withIdProp, { exclusiveMaximum: true }).valid).toBe(true);
  });

  test('an unknown $schema falls back to the default dialect instead of failing', () => {
    const v = new AjvSchemaValidator();
    expect(v.validate({ $schema: 'https://example.com/my-meta', type: 'string' }, 1).valid).toBe(false);
  });

  test('defaultDraft option switches the dialect for schemas without $schema', () => {
    const v = new AjvSchemaValidator({ defaultDraft: 'draft-07' });
    expect(v.validate({ items: [{ type: 'string' }] }, [1]).valid).toBe(false);
    expect(() => new AjvSchemaValidator({ defaultDraft: 'draft-03' as never })).toThrow(/defaultDraft/);
  });

  test('detectDraft', () => {
    expect(detectDraft({ $schema: DRAFT7 })).toBe('draft-07');
    expect(detectDraft({ $schema: D2020 })).toBe('2020-12');
    expect(detectDraft({ $schema: 'https://json-schema.org/draft/2019-09/schema' })).toBe('2019-09');
    expect(detectDraft({ $schema: 'http://json-schema.org/draft-04/schema#' })).toBe('draft-04');
    expect(detectDraft({})).toBeUndefined();
    expect(detectDraft(true)).toBeUndefined();
  });
});

describe('schemas from the wild', () => {
  test('missing "type" but describing an object', () => {
    const schema = { properties: { q: { type: 'string' } }, required: ['q'] };
    expect(defaultValidator.validate(schema, { q: 'x' }).valid).toBe(true);
    expect(invalid(defaultValidator.validate(schema, {})).issues[0]!.path).toBe('/q');
  });

  test('unknown keywords and unknown formats are tolerated', () => {
    const schema = { type: 'object', 'x-ui': { widget: 'text' }, properties: { a: { type: 'string', format: 'my-format', example: 1 } } };
    expect(defaultValidator.validate(schema, { a: 'anything' }).valid).toBe(true);
  });

  test('boolean schemas', () => {
    expect(defaultValidator.validate(true, 42).valid).toBe(true);
    const r = invalid(defaultValidator.validate(false, 42));
    expect(r.issues[0]!.keyword).toBe('false schema');
    expect(defaultValidator.compile(true)).toBe(defaultValidator.compile(true));
  });

  test('regex patterns that are only valid without the u flag (Python-style escapes) still work', () => {
    const schema = { type: 'string', pattern: '^[a-z\\#\\ ]+$' };
    expect(defaultValidator.validate(schema, 'ab #').valid).toBe(true);
    expect(invalid(defaultValidator.validate(schema, 'AB')).issues[0]!.keyword).toBe('pattern');
    // Unicode-aware patterns keep the u flag.
    expect(defaultValidator.validate({ type: 'string', pattern: '^\\p{L}+$' }, 'héllo').valid).toBe(true);
    expect(() => defaultValidator.compile({ type: 'string', pattern: '([' })).toThrow(/Invalid JSON Schema: Invalid regular expression/);
  });

  test('a required property that only exists on Object.prototype is still missing', () => {
    expect(defaultValidator.validate({ required: ['constructor'] }, {}).valid).toBe(false);
  });

  test('two schemas may declare the same $id with different content', () => {
    const v = new AjvSchemaValidator();
    expect(v.validate({ $id: 'https://example.com/args', type: 'string' }, 'x').valid).toBe(true);
    expect(v.validate({ $id: 'https://example.com/args', type: 'number' }, 'x').valid).toBe(false);
  });

  test('a schema can $ref itself by its own $id', () => {
    const schema = {
      $id: 'https://example.com/tree',
      type: 'object',
      properties: { children: { type: 'array', items: { $ref: 'https://example.com/tree' } }, v: { type: 'number' } },
    };
    const v = new AjvSchemaValidator();
    expect(v.validate(schema, { children: [{ v: 1, children: [] }] }).valid).toBe(true);
    expect(invalid(v.validate(schema, { children: [{ v: 'x' }] })).issues[0]!.path).toBe('/children/0/v');
  });

  test('invalid schemas throw an Error naming the problem', () => {
    expect(() => defaultValidator.compile({ type: 'strng' })).toThrow(/^Invalid JSON Schema: schema\/type must be/);
    expect(() => defaultValidator.compile([] as never)).toThrow(/expected an object or a boolean, got an array/);
    expect(() => defaultValidator.compile(null as never)).toThrow(/got null/);
    expect(() => defaultValidator.compile({ minimum: 'one' })).toThrow(/minimum/);
  });
});

describe('external $ref is refused', () => {
  test.each([
    ['an http URL', 'http://example.com/schemas/user.json', /external \$ref "http:\/\/example\.com\/schemas\/user\.json" is not supported/],
    ['another document', 'other.json#/definitions/a', /external \$ref "other\.json#\/definitions\/a" is not supported/],
    ['a relative URL under an $id', 'user.json', /external \$ref "https:\/\/example\.com\/root\/user\.json" is not supported/],
  ])('%s', (_label, ref, message) => {
    const schema: JsonSchema = ref === 'user.json' ? { $id: 'https://example.com/root/main.json', $ref: ref } : { properties: { a: { $ref: ref } } };
    expect(() => new AjvSchemaValidator().compile(schema)).toThrow(message);
  });

  test('a dangling local $ref names itself too', () => {
    expect(() => defaultValidator.compile({ $ref: '#/$defs/missing' })).toThrow(/\$ref "#\/\$defs\/missing" points to nothing in this schema/);
  });

  test('nothing is fetched: compile is synchronous and the refusal does not poison the cache', () => {
    const v = new AjvSchemaValidator();
    const bad = { $ref: 'https://example.com/x.json' };
    expect(() => v.compile(bad)).toThrow();
    expect(() => v.compile(bad)).toThrow();
    expect(v.stats.compiles).toBe(0);
  });

  test('remotes given to the constructor can be referenced', () => {
    const v = new AjvSchemaValidator({ remotes: { 'https://example.com/int.json': { type: 'integer' } } });
    const schema = { properties: { n: { $ref: 'https://example.com/int.json' } } };
    expect(v.validate(schema, { n: 1 }).valid).toBe(true);
    expect(invalid(v.validate(schema, { n: 1.5 })).issues[0]!.path).toBe('/n');
  });
});

describe('formats', () => {
  const schema = {
    type: 'object',
    properties: {
      email: { type: 'string', format: 'email' },
      when: { type: 'string', format: 'date-time' },
      id: { type: 'string', format: 'uuid' },
      site: { type: 'string', format: 'uri' },
      ip: { type: 'string', format: 'ipv4' },
    },
  };
  test('valid values pass', () => {
    const ok = { email: 'a@b.co', when: '2024-01-02T03:04:05Z', id: '123e4567-e89b-12d3-a456-426614174000', site: 'https://x.org/a', ip: '10.0.0.1' };
    expect(defaultValidator.validate(schema, ok).valid).toBe(true);
  });
  test.each([
    ['email', 'not-an-email'],
    ['when', 'yesterday'],
    ['id', 'nope'],
    ['site', 'not a uri'],
    ['ip', '300.1.1.1'],
  ])('%s is checked', (field, value) => {
    const r = invalid(defaultValidator.validate(schema, { [field]: value }));
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]).toMatchObject({ path: `/${field}`, keyword: 'format' });
    expect(r.message).toMatch(new RegExp(`^/${field} must match format "`));
  });
  test('validateFormats: false turns format assertion off', () => {
    expect(new AjvSchemaValidator({ validateFormats: false }).validate(schema, { email: 'nope' }).valid).toBe(true);
  });
  test('formats apply under draft-07 too', () => {
    expect(defaultValidator.validate({ $schema: DRAFT7, format: 'email' }, 'nope').valid).toBe(false);
  });
});

describe('issues and messages', () => {
  const schema = {
    type: 'object',
    properties: {
      items: { type: 'array', items: { type: 'object', properties: { count: { type: 'integer', minimum: 1 } } } },
      mode: { enum: ['fast', 'slow'] },
      kind: { const: 'x' },
      'a/b~c': { type: 'string' },
      b: {},
    },
    required: ['b'],
    additionalProperties: false,
  };

  test('a nested failure names its JSON pointer, keyword and bound', () => {
    const r = invalid(defaultValidator.validate(schema, { b: 1, items: [{ count: 1 }, { count: 2 }, { count: 0 }] }));
    expect(r.issues).toEqual([
      {
        path: '/items/2/count',
        keyword: 'minimum',
        message: 'must be >= 1',
        schemaPath: '/properties/items/items/properties/count/minimum',
        params: { comparison: '>=', limit: 1 },
      },
    ]);
    expect(r.message).toBe('/items/2/count must be >= 1 (minimum)');
  });

  test('required: the path includes the missing property; the sentence names it at its parent', () => {
    const r = invalid(defaultValidator.validate(schema, {}));
    expect(r.issues[0]).toMatchObject({ path: '/b', keyword: 'required', params: { missingProperty: 'b' } });
    expect(r.message).toBe('/ must have required property "b" (required)');
    const nested = invalid(defaultValidator.validate({ properties: { user: { required: ['name'] } } }, { user: {} }));
    expect(nested.issues[0]!.path).toBe('/user/name');
    expect(nested.message).toBe('/user must have required property "name" (required)');
  });

  test('additionalProperties names the extra property', () => {
    const r = invalid(defaultValidator.validate(schema, { b: 1, extra: true }));
    expect(r.issues[0]).toMatchObject({ path: '/extra', keyword: 'additionalProperties', params: { additionalProperty: 'extra' } });
    expect(r.message).toBe('/ must NOT have additional property "extra" (additionalProperties)');
  });

  test('enum and const list what is allowed', () => {
    expect(invalid(defaultValidator.validate(schema, { b: 1, mode: 'medium' })).message).toBe('/mode must be one of "fast", "slow" (enum)');
    expect(invalid(defaultValidator.validate(schema, { b: 1, kind: 'y' })).message).toBe('/kind must be equal to "x" (const)');
  });

  test('type errors name the expected type', () => {
    expect(invalid(defaultValidator.validate(schema, { b: 1, items: 'no' })).message).toBe('/items must be array (type)');
    expect(invalid(defaultValidator.validate({ type: 'object' }, 3)).message).toBe('/ must be object (type)');
  });

  test('property names with / and ~ are escaped in pointers', () => {
    const r = invalid(defaultValidator.validate(schema, { b: 1, 'a/b~c': 5 }));
    expect(r.issues[0]!.path).toBe('/a~1b~0c');
  });

  test('all errors are reported, up to maxIssues, and the rest counted', () => {
    const v = new AjvSchemaValidator({ maxIssues: 2 });
    const s = { type: 'array', items: { type: 'string' } };
    const r = invalid(v.validate(s, [1, 2, 3, 4, 5]));
    expect(r.issues.map((i) => i.path)).toEqual(['/0', '/1']);
    expect(r.message).toBe('/0 must be string (type); /1 must be string (type); and 3 more');
    expect(invalid(defaultValidator.validate(s, [1, 2, 3])).issues).toHaveLength(3);
  });

  test('formatIssues words rebuilt issues the same way', () => {
    const r = invalid(defaultValidator.validate(schema, { extra: 1 }));
    expect(formatIssues(r.issues)).toBe(r.message);
    expect(formatIssues([])).toBe('value is invalid');
  });

  test('a valid result is the shared { valid: true }', () => {
    const check = defaultValidator.compile({ type: 'number' });
    expect(check(1)).toEqual({ valid: true });
    expect(check(1)).toBe(check(2));
  });

  test('rejects bad options', () => {
    expect(() => new AjvSchemaValidator({ cacheSize: 0 })).toThrow(/cacheSize/);
    expect(() => new AjvSchemaValidator({ maxIssues: 0 })).toThrow(/maxIssues/);
  });
});

describe('compile cache', () => {
  test('same object: one compile, identity hits afterwards', () => {
    const v = new AjvSchemaValidator();
    const schema = { type: 'object', properties: { a: { type: 'number' } } };
    const f = v.compile(schema);
    expect(v.compile(schema)).toBe(f);
    v.validate(schema, { a: 1 });
    expect(v.stats).toMatchObject({ compiles: 1, identityHits: 2, textHits: 0, size: 1 });
  });

  test('equal content from another object (keys in another order) shares the compile', () => {
    const v = new AjvSchemaValidator();
    const a = v.compile({ type: 'object', required: ['x'], properties: { x: { type: 'string', minLength: 1 } } });
    const b = v.compile(JSON.parse('{"properties":{"x":{"minLength":1,"type":"string"}},"required":["x"],"type":"object"}'));
    expect(b).toBe(a);
    expect(v.stats).toMatchObject({ compiles: 1, textHits: 1 });
  });

  test('the same content under two dialects compiles twice', () => {
    const v = new AjvSchemaValidator();
    const a = v.compile({ items: { type: 'string' } });
    const b = v.compile({ $schema: DRAFT7, items: { type: 'string' } });
    expect(a).not.toBe(b);
    expect(v.stats.compiles).toBe(2);
  });

  test('the text cache is bounded (least recently used goes first)', () => {
    const v = new AjvSchemaValidator({ cacheSize: 2 });
    const s1 = () => ({ type: 'string', minLength: 1 });
    v.compile(s1());
    v.compile({ type: 'string', minLength: 2 });
    v.compile(s1()); // touch s1
    v.compile({ type: 'string', minLength: 3 }); // evicts minLength 2
    expect(v.stats.size).toBe(2);
    const before = v.stats.compiles;
    v.compile(s1());
    expect(v.stats.compiles).toBe(before);
    v.compile({ type: 'string', minLength: 2 });
    expect(v.stats.compiles).toBe(before + 1);
  });
});
