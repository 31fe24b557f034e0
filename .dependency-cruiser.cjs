// The layers of diskarc, lowest first (docs/architecture.md): a module may import its own layer
// and the layers below it, never one above. `npm test` runs this check (test/architecture).
const layers = [
  ['native', '^native/'],
  ['base', '^src/(binary|block|storage)/|^src/(errors|version|format-bytes)\\.ts$'],
  ['archive', '^src/archive/'],
  ['catalog', '^src/catalog/'],
  ['fs', '^fs/'],
  ['protocols', '^protocols/'],
  ['server', '^server/'],
  ['cli', '^src/cli/'],
  ['app', '^src/(demo|sample-disk)\\.ts$'],
];

module.exports = {
  forbidden: layers.slice(0, -1).map(([name, path], i) => ({
    name: `${name}-imports-upward`,
    severity: 'error',
    comment: `${name} may not import from ${layers.slice(i + 1).map(([n]) => n).join(', ')}`,
    from: { path },
    to: { dependencyTypesNot: ['core'], path: layers.slice(i + 1).map(([, p]) => `(${p})`).join('|') },
  })),
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|test|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    // TypeScript 7 has no JS compiler API for dependency-cruiser; swc parses TS, type imports too.
    parser: 'swc',
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
