"""What the fixture scripts share: a minimal safetensors reader and writer, independent of the
project's TypeScript ones, and the reference PyramidNet loaded from a checkout of
dyhan0920/PyramidNet-PyTorch."""

import json
import struct
import sys

import torch

DTYPES = {'F32': torch.float32, 'F64': torch.float64, 'F16': torch.float16, 'BF16': torch.bfloat16, 'I64': torch.int64}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    """Every tensor of a safetensors file by name (its metadata left out)."""
    with open(path, 'rb') as f:
        blob = f.read()
    (length,) = struct.unpack('<Q', blob[:8])
    header = json.loads(blob[8:8 + length])
    data = blob[8 + length:]
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        begin, end = info['data_offsets']
        out[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=DTYPES[info['dtype']]).reshape(info['shape']).clone()
    return out


def reference_weights(path):
    """The reference state_dict a fixture stores under 'weights.'."""
    return {k[len('weights.'):]: v for k, v in read_safetensors(path).items() if k.startswith('weights.')}


def write_safetensors(path, tensors, metadata=None):
    """Tensors in name order, the header padded to 8 bytes; metadata first when given."""
    header, blobs, offset = ({'__metadata__': metadata} if metadata is not None else {}), [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))


def load_reference(checkout, zeros=torch.FloatTensor):
    """The reference's PyramidNet class. It allocates its zero channels with torch.cuda.FloatTensor;
    on a CPU-only machine `zeros` (the CPU tensor type, or DoubleTensor for float64 runs) computes
    the same zeros."""
    sys.path.insert(0, checkout)
    torch.cuda.FloatTensor = zeros
    import PyramidNet  # noqa: E402
    return PyramidNet.PyramidNet
