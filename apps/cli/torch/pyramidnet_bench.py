"""PyTorch's side of `pyramid bench --against torch`: the same PyramidNet, batch and steps, timed
the way PyTorch users run it (eager mode, float32), on the CPU. Prints one JSON object.

The network follows the reference PyTorch implementation of Han, Kim & Kim (CVPR 2017) for CIFAR:
basic or bottleneck pyramidal units, additive widening with Python's round(), zero-padded
shortcuts with 2x2 average pooling (ceil mode) where the resolution halves.

usage: python3 pyramidnet_bench.py '<json options>'
  options: depth, alpha, bottleneck, classes, height, width, channels, batch, steps, warmup,
           threads, channels_last (bool), inference (bool)
"""
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicUnit(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)

    def residual(self, x):
        return self.bn3(self.conv2(F.relu(self.bn2(self.conv1(self.bn1(x))))))


class BottleneckUnit(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn4 = nn.BatchNorm2d(width * 4)

    def residual(self, x):
        h = F.relu(self.bn2(self.conv1(self.bn1(x))))
        h = F.relu(self.bn3(self.conv2(h)))
        return self.bn4(self.conv3(h))


class Pyramidal(nn.Module):
    def __init__(self, unit, cin, width, stride):
        super().__init__()
        self.unit = unit(cin, width, stride)
        self.stride = stride
        self.extra = width * unit.expansion - cin

    def forward(self, x):
        shortcut = F.avg_pool2d(x, 2, 2, ceil_mode=True) if self.stride == 2 else x
        if self.extra > 0:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra))
        return self.unit.residual(x) + shortcut


class PyramidNet(nn.Module):
    def __init__(self, depth, alpha, bottleneck, classes, channels):
        super().__init__()
        unit = BottleneckUnit if bottleneck else BasicUnit
        n = (depth - 2) // (9 if bottleneck else 6)
        rate = alpha / (3 * n)
        self.conv1 = nn.Conv2d(channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        width, cin, units = 16.0, 16, []
        for stage in range(3):
            for i in range(n):
                width += rate
                units.append(Pyramidal(unit, cin, int(round(width)), 2 if stage > 0 and i == 0 else 1))
                cin = int(round(width)) * unit.expansion
        self.units = nn.Sequential(*units)
        self.bn_final = nn.BatchNorm2d(cin)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        h = F.relu(self.bn_final(self.units(self.bn1(self.conv1(x)))))
        return self.fc(h.mean((2, 3)))


def timed(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def main():
    o = json.loads(sys.argv[1])
    torch.manual_seed(0)
    if o.get('threads'):
        torch.set_num_threads(int(o['threads']))
    model = PyramidNet(o['depth'], o['alpha'], o['bottleneck'], o['classes'], o['channels'])
    x = torch.randn(o['batch'], o['channels'], o['height'], o['width'])
    y = torch.randint(0, o['classes'], (o['batch'],))
    if o['channels_last']:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    sgd = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)

    def train_step():
        loss = F.cross_entropy(model(x), y)
        sgd.zero_grad(set_to_none=True)
        loss.backward()
        sgd.step()

    train = timed(train_step, o['warmup'], o['steps'])
    train_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    inference = None
    if o['inference']:
        model.eval()
        with torch.no_grad():
            inference = timed(lambda: model(x), o['warmup'], o['steps'])
    print(json.dumps({
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'memoryFormat': 'channels_last' if o['channels_last'] else 'contiguous',
        'params': sum(p.numel() for p in model.parameters()),
        'train': {'msPerStep': train * 1000, 'imagesPerSecond': o['batch'] / train},
        'inference': None if inference is None else {'msPerStep': inference * 1000, 'imagesPerSecond': o['batch'] / inference},
        'trainPeakRssBytes': train_peak,
    }))


if __name__ == '__main__':
    main()
