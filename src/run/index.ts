export * from './runner.js';
export * from './templates.js';
export type * from './types.js';
