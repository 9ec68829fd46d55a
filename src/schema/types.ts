/**
 * The validation interface the rest of toolexec sees. ajv is the implementation
 * (`src/schema/validator.ts`); nothing outside this folder imports ajv.
 */
import type { ValidationIssue } from '../model/errors.js';
import type { JsonSchema } from '../model/json.js';

export type ValidationResult = { valid: true } | { valid: false; issues: ValidationIssue[]; message: string };

/** A compiled check for one schema. */
export type CompiledValidator = (value: unknown) => ValidationResult;

export interface SchemaValidator {
  /**
   * Compiles (or fetches from the cache) the validator for a schema. Throws a plain Error
   * naming the problem when the schema itself is invalid or refers to an external `$ref`.
   */
  compile(schema: JsonSchema): CompiledValidator;
  /** Convenience: compile + run. */
  validate(schema: JsonSchema, value: unknown): ValidationResult;
}
