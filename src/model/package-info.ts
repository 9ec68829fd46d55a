/**
 * This package's name and version, read from its package.json: what toolexec tells the MCP
 * servers it connects to (`clientInfo`) and the clients it serves (`serverInfo`). Read, not
 * written down, so a release cannot announce the previous version.
 */
import { createRequire } from 'node:module';

// `src/model/` and `dist/model/` are both two levels below the package root.
const pkg = createRequire(import.meta.url)('../../package.json') as { name: string; version: string };

/** `toolexec`. */
export const PACKAGE_NAME: string = pkg.name;
/** The installed package's version, e.g. `0.1.0`. */
export const PACKAGE_VERSION: string = pkg.version;
