export * from './errors.js';
export * from './tool.js';
export * from './tool-id.js';
export * from './backend.js';
export * from './redact.js';
