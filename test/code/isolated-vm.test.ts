import { defineConformanceSuite } from './conformance.js';

// The isolated-vm runtime runs its isolates in sandbox processes started with
// --no-node-snapshot, so this test process needs no special Node flags.
defineConformanceSuite('isolated-vm');
