// The executor conformance suite on the Docker runtime (real engine). Skips with a printed
// reason when Docker is unavailable; docker-runtime.test.ts fails instead under
// TOOLEXEC_REQUIRE_DOCKER=1.
import { describe } from 'vitest';
import { defineConformanceSuite } from '../../code/conformance.js';
import { probeDocker } from './helpers.js';

const probe = await probeDocker();
if (!probe.available) console.warn(`[docker conformance] skipped: ${probe.reason}`);

describe.skipIf(!probe.available)('docker', () => {
  // Containers take hundreds of milliseconds to start: hostile cases get ten times the time.
  defineConformanceSuite('docker', { timeScale: 10, runtimeOptions: { minIdle: 2 } });
});
