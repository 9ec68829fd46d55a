import { defineConformanceSuite } from './conformance.js';

defineConformanceSuite('quickjs');
