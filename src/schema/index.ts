/**
 * Schema layer: the `SchemaValidator` contract and its ajv implementation.
 */
export type * from './types.js';
export {
  AjvSchemaValidator,
  defaultValidator,
  detectDraft,
  formatIssues,
  SCHEMA_DRAFT_URIS,
  DEFAULT_SCHEMA_CACHE_SIZE,
  DEFAULT_MAX_ISSUES,
} from './validator.js';
export type { AjvSchemaValidatorOptions, SchemaCacheStats, SchemaDraft } from './validator.js';
