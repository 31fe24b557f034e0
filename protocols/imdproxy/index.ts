// Public surface of the IMDPROXY range-proxy module (ImDisk / Arsenal Image Mounter "proxy"
// devices): the server, what a listener exports, and the limits.
export { ProxyServer, proxyAddress, type ProxyEndpoint, type ProxyListening } from './server.js';
export type { ProxyExport } from './session.js';
export { defaultProxyLimits, type ProxyLimits } from './limits.js';
