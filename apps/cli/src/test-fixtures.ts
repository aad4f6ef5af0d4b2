import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Test helpers over the reference fixtures that tools/reference/make_fixtures.py wrote from the
 * PyTorch model: a PyTorch PyramidNet-20 (alpha 12) with its state_dict under 'weights.'.
 */
const fixtures = fileURLToPath(new URL('../../../packages/pyramidnet/test/fixtures/', import.meta.url));

/** Files torch.save wrote (tools/reference/make_torch_files.py) from the weights of cifar-basic-8-a12-odd. */
export const torchFixture = (name: string) => `${fixtures}torch/${name}`;

interface Safetensors {
  head: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  data: Buffer;
}

/** A safetensors file's header (without __metadata__) and data section. */
export function parseSafetensors(bytes: Buffer): Safetensors {
  const n = Number(bytes.readBigUInt64LE(0));
  const head = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  delete head.__metadata__;
  return { head, data: bytes.subarray(8 + n) };
}

/** The fixture's PyTorch state_dict as a safetensors file of its own, as `torch.save` users export it. */
export function referenceStateDict(fixture = 'cifar-basic-20-a12'): Buffer {
  const { head, data } = parseSafetensors(readFileSync(`${fixtures}${fixture}.safetensors`));
  const out: Record<string, unknown> = {};
  const parts: Buffer[] = [];
  let offset = 0;
  for (const name of Object.keys(head).filter((k) => k.startsWith('weights.')).sort()) {
    const [a, b] = head[name].data_offsets;
    out[name.slice('weights.'.length)] = { dtype: head[name].dtype, shape: head[name].shape, data_offsets: [offset, offset + b - a] };
    parts.push(data.subarray(a, b));
    offset += b - a;
  }
  const json = Buffer.from(JSON.stringify(out));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, ...parts]);
}

/** Each tensor of a safetensors file as (dtype, shape, base64 bytes), by name: equal when the tensors are. */
export function tensorsOf(file: Buffer): Record<string, [string, string, string]> {
  const { head, data } = parseSafetensors(file);
  return Object.fromEntries(Object.keys(head).sort().map((k) => [k, [head[k].dtype, head[k].shape.join('x'), data.subarray(head[k].data_offsets[0], head[k].data_offsets[1]).toString('base64')]]));
}
