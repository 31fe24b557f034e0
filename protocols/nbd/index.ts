// Public surface of the NBD protocol module: the server, its export catalog contract and limits.
export { NbdServer, nbdUri, type NbdEndpoint, type NbdListening, type NbdServerOptions } from './server.js';
export type { NbdExport, NbdExportCatalog, NbdExportEntry } from './exports.js';
export { defaultNbdLimits, type NbdLimits } from './limits.js';
