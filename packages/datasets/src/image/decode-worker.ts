// A worker thread that decodes and transforms images for the image-folder loaders.
import { parentPort } from 'node:worker_threads';
import type { DecodeRequest } from './pool';
import { processAll } from './process';

parentPort?.on('message', async (request: DecodeRequest) => {
  const results = await processAll(request.items, request.channels, request.transform);
  parentPort!.postMessage({ id: request.id, results }, results.flatMap((r) => ('data' in r ? [r.data.buffer as ArrayBuffer] : [])));
});
