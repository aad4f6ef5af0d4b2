// Side effects only. tfjs-core's Node entry registers neither its gradients nor its chained ops
// (x.add(y)); these modules are bundled into this package at build time (see tsup.config.ts) and
// register into the one engine through tfjs's process-wide registries.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
