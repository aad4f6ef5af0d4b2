// A worker thread that decodes (and resizes) images for loadImageFolder.
import { parentPort } from 'node:worker_threads';
import { decodeImage } from './decode';
import { resizeBilinear } from './resize';

export interface DecodeRequest {
  id: number;
  items: { bytes: Uint8Array; source: string }[];
  height: number;
  width: number;
  channels: 1 | 3;
}

export type DecodeResult = { data: Uint8Array } | { error: string };

parentPort?.on('message', (request: DecodeRequest) => {
  const results: DecodeResult[] = request.items.map(({ bytes, source }) => {
    try {
      const image = resizeBilinear(decodeImage(bytes, source, request.channels), request.height, request.width);
      return { data: image.data };
    } catch (error) {
      return { error: (error as Error).message };
    }
  });
  parentPort!.postMessage({ id: request.id, results }, results.flatMap((r) => ('data' in r ? [r.data.buffer as ArrayBuffer] : [])));
});
