#!/usr/bin/env python3
"""Fine-tuning fixtures: a few full-batch SGD steps of the reference PyramidNet from given weights.

For a basic and a bottleneck model, the weights of the reference fixtures cifar-basic-8-a12-odd and
cifar-bottleneck-11-a8 (packages/pyramidnet/test/fixtures) get a new 3-class head (nn.Linear's
default initialisation, seeded) and are saved with torch.save as the starting point. The reference
PyramidNet (dyhan0920/PyramidNet-PyTorch, PyramidNet.py, from a checkout given on the command line,
with AdaptiveAvgPool2d(1) for its fixed average pool) then takes 3 full-batch steps in float64 on a
3-class folder of 8x8 PNGs, as `pyramid train` runs them: training mode, mean cross-entropy,
torch.optim.SGD (lr 0.05, momentum 0.9, Nesterov, weight decay 1e-4), pixels normalised with the
CIFAR constants, (x - mean) / std on 0-255. Float64, because PyTorch's own float32 CPU steps drift
from it by about 5e-4 over 3 steps. Writes, under packages/pyramidnet/test/fixtures/fine-tune/:
  images/{train,test}/<class>/<n>.png   4 training and 1 test image per class
  <name>-init.pt                        the starting weights (float32 state_dict, torch.save)
  <name>-after.safetensors              the state_dict after the 3 steps (float64; counters int64)

usage: /usr/bin/python3 make_fine_tune_fixture.py PATH/TO/PyramidNet-PyTorch
"""
import os
import struct
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

from reference_io import load_reference, reference_weights, write_safetensors

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
FIXTURES = os.path.join(ROOT, 'packages', 'pyramidnet', 'test', 'fixtures')
OUT = os.path.join(FIXTURES, 'fine-tune')
SIZE, CLASSES, TRAIN_PER_CLASS = 8, ['dark', 'light', 'mid'], 4
LEVELS = {'dark': 40, 'mid': 128, 'light': 215}
MEAN, STD = [125.3, 123.0, 113.9], [63.0, 62.1, 66.7]
STEPS, LR, MOMENTUM, WEIGHT_DECAY = 3, 0.05, 0.9, 1e-4

# name, source fixture, depth, alpha, bottleneck
MODELS = [('basic-8-a12', 'cifar-basic-8-a12-odd', 8, 12, False), ('bottleneck-11-a8', 'cifar-bottleneck-11-a8', 11, 8, True)]







def write_png(path, pixels):
    """An 8-bit RGB PNG of an HxWx3 uint8 tensor (filter 0 rows, one IDAT)."""
    h, w, _ = pixels.shape
    raw = b''.join(b'\x00' + bytes(pixels[y].flatten().tolist()) for y in range(h))

    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body) & 0xffffffff)

    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


def make_images(gen):
    train = []
    for split, count in [('train', TRAIN_PER_CLASS), ('test', 1)]:
        for label, name in enumerate(CLASSES):
            os.makedirs(os.path.join(OUT, 'images', split, name), exist_ok=True)
            for n in range(count):
                noise = torch.randint(-40, 41, (SIZE, SIZE, 3), generator=gen)
                pixels = (LEVELS[name] + noise).clamp(0, 255).to(torch.uint8)
                write_png(os.path.join(OUT, 'images', split, name, f'{n}.png'), pixels)
                if split == 'train':
                    train.append((pixels, label))
    x = torch.stack([p for p, _ in train]).to(torch.float64).permute(0, 3, 1, 2)
    x = (x - torch.tensor(MEAN, dtype=torch.float64).view(1, 3, 1, 1)) / torch.tensor(STD, dtype=torch.float64).view(1, 3, 1, 1)
    return x, torch.tensor([label for _, label in train])


def main():
    reference = load_reference(sys.argv[1], zeros=torch.DoubleTensor)  # its zero channels in float64
    os.makedirs(OUT, exist_ok=True)
    x, labels = make_images(torch.Generator().manual_seed(20240601))
    for index, (name, source, depth, alpha, bottleneck) in enumerate(MODELS):
        weights = reference_weights(os.path.join(FIXTURES, f'{source}.safetensors'))
        model = reference('cifar10', depth, alpha, 10, bottleneck)
        model.avgpool = nn.AdaptiveAvgPool2d(1)
        model.fc = nn.Linear(model.fc.in_features, weights['fc.weight'].shape[0])
        model.load_state_dict(weights)
        torch.manual_seed(77 + index)
        model.fc = nn.Linear(model.fc.in_features, len(CLASSES))  # the new head, nn.Linear's default init
        torch.save(model.state_dict(), os.path.join(OUT, f'{name}-init.pt'))

        model = model.double().train()
        optimizer = torch.optim.SGD(model.parameters(), LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, nesterov=True)
        for _ in range(STEPS):
            loss = F.cross_entropy(model(x), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        write_safetensors(os.path.join(OUT, f'{name}-after.safetensors'), model.state_dict())
        print(name, 'loss after', STEPS - 1, 'updates:', float(loss))
    print('torch', torch.__version__)


if __name__ == '__main__':
    main()
