// The tool version recorded in stream metadata and printed by --version.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const toolVersion: string = pkg.version;
