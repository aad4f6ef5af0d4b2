import { readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const nodeModules = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** The file an `import` of a @pyramid package (or one of its entries) loads. */
function resolvePyramid(specifier: string): string {
  const [scope, name, ...rest] = specifier.split('/');
  const manifest = require.resolve(`${scope}/${name}/package.json`);
  const entry = rest.length ? `./${rest.join('/')}` : '.';
  const target = JSON.parse(readFileSync(manifest, 'utf8')).exports[entry].import.default;
  return resolve(dirname(manifest), target);
}

/**
 * Every module a built file imports when it loads (static imports and re-exports, followed
 * through this project's packages; imports inside functions load only when called), with the
 * chain that reaches it.
 */
function loadTimeImports(entry: string): [string, string[]][] {
  const reached: [string, string[]][] = [];
  const visited = new Set<string>();
  const visit = (file: string, chain: string[]) => {
    if (visited.has(file)) return;
    visited.add(file);
    const code = readFileSync(file, 'utf8');
    for (const [, specifier] of code.matchAll(/^(?:import|export)\b[^'"]*?['"]([^'"]+)['"];?$/gm)) {
      const path = [...chain, specifier];
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier), chain);
      else if (specifier.startsWith('@pyramid/')) visit(resolvePyramid(specifier), path);
      if (!specifier.startsWith('.')) reached.push([specifier, path]);
    }
  };
  visit(entry, []);
  return reached;
}

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const nodeOnly = (entry: string) => loadTimeImports(join(dist, entry)).filter(([m]) => nodeModules.has(m)).map(([, chain]) => chain.join(' -> '));

describe('package entries', () => {
  it('the main entry loads no Node module, so browsers can use it', () => {
    expect(nodeOnly('index.js')).toEqual([]);
  });

  it('the Node entry is where the file system is', () => {
    expect(nodeOnly('node.js')).toContain('fs');
    expect(nodeOnly('node.js')).toContain('@pyramid/pyramidnet/node -> fs/promises');
  });
});
