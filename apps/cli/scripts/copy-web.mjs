// Copies the built web page (apps/web/dist) into this package's dist/web, which `pyramid serve`
// serves: the page ships inside @pyramid/cli.
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const from = join(import.meta.dirname, '..', '..', 'web', 'dist');
const to = join(import.meta.dirname, '..', 'dist', 'web');
if (!existsSync(join(from, 'index.html'))) {
  console.error(`copy-web: ${from} has no index.html; build @pyramid/web first`);
  process.exit(1);
}
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
