// The addon; @pyramid/core loads it through this file and checks its contract.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const binary = join(__dirname, 'dist', 'pyramid-cpu.node');
if (!existsSync(binary)) {
  // Say so plainly: a bare "Cannot find module" would read as if the whole package were missing.
  throw new Error(`${binary} is missing: this copy of @pyramid/cpu-linux-x64-gnu was not built (from the workspace: apt-get install g++ libdnnl-dev, then npm run build)`);
}
module.exports = require(binary);
