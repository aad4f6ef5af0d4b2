// The `pyramid` command with the WebGPU plugin built in, bundled into one file for GPU machines that
// have neither Node packages nor a registry (see prepare.sh). The plugin is registered here rather
// than found by name, so that the bundle holds a single tfjs engine.
import { run } from '@pyramid/cli';
import { registerBackendPlugin } from '@pyramid/core';
import { backendPlugin } from '@pyramid/backend-webgpu';

registerBackendPlugin(backendPlugin);
run(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
});
