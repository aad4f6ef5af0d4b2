// A worker thread that decodes and transforms images for the image-folder loaders.
import { parentPort } from 'node:worker_threads';
import type { DecodeRequest, DecodeResult } from './pool';
import { processImage } from './process';

parentPort?.on('message', (request: DecodeRequest) => {
  const results: DecodeResult[] = request.items.map(({ bytes, source, uniforms }) => {
    try {
      return { data: processImage(bytes, source, request.channels, request.transform, uniforms) };
    } catch (error) {
      return { error: (error as Error).message };
    }
  });
  parentPort!.postMessage({ id: request.id, results }, results.flatMap((r) => ('data' in r ? [r.data.buffer as ArrayBuffer] : [])));
});
