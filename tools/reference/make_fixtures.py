#!/usr/bin/env python3
"""Test fixtures from the reference PyTorch PyramidNet (dyhan0920/PyramidNet-PyTorch, PyramidNet.py).

The reference module is imported from a checkout given on the command line; nothing of it is copied
here. Writes, under packages/pyramidnet/test/fixtures/:
  param-counts.json            sum(p.numel()) of the reference model for every preset of the paper
  <name>.safetensors           a small model's state_dict (PyTorch layout) with random BN statistics,
                               an input batch, labels, eval- and train-mode logits, the running
                               statistics after one train-mode forward, and the gradients of the
                               mean cross-entropy loss in train mode.

usage: python3 make_fixtures.py PATH/TO/PyramidNet-PyTorch
needs: PyTorch (Debian: apt-get install python3-torch), run as /usr/bin/python3.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from reference_io import load_reference, write_safetensors

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'packages', 'pyramidnet', 'test', 'fixtures')






# (name, dataset, depth, alpha, bottleneck, classes): every PyramidNet of the paper's Tables 4 and 5.
PRESETS = [
    ('cifar10', 110, 48, False, 10), ('cifar10', 110, 84, False, 10), ('cifar10', 110, 270, False, 10),
    ('cifar10', 164, 270, True, 10), ('cifar10', 200, 240, True, 10), ('cifar10', 236, 220, True, 10),
    ('cifar10', 272, 200, True, 10),
    ('cifar100', 110, 48, False, 100), ('cifar100', 110, 84, False, 100), ('cifar100', 110, 270, False, 100),
    ('cifar100', 164, 270, True, 100), ('cifar100', 200, 240, True, 100), ('cifar100', 236, 220, True, 100),
    ('cifar100', 272, 200, True, 100),
    ('imagenet', 200, 300, True, 1000), ('imagenet', 200, 450, True, 1000),
    ('imagenet', 101, 250, True, 1000), ('imagenet', 152, 200, True, 1000),
]

# Small models for numerical comparison; odd input sizes exercise the ceil-mode shortcut pool.
FIXTURES = [
    # name, dataset, depth, alpha, bottleneck, classes, input size, global pool instead of AvgPool2d(8|7)
    ('cifar-basic-20-a12', 'cifar10', 20, 12, False, 10, 32, False),
    ('cifar-basic-8-a12-odd', 'cifar10', 8, 12, False, 10, 17, True),
    ('cifar-bottleneck-11-a8', 'cifar100', 11, 8, True, 5, 16, True),
    ('imagenet-bottleneck-14-a16-odd', 'imagenet', 14, 16, True, 7, 35, True),
]


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = 1 + 0.2 * torch.randn(c, generator=gen)
            m.bias.data = 0.1 * torch.randn(c, generator=gen)
            m.running_mean.data = 0.1 * torch.randn(c, generator=gen)
            m.running_var.data = 0.5 + torch.rand(c, generator=gen)
            m.num_batches_tracked.fill_(int(torch.randint(0, 1000, (1,), generator=gen)))


def main():
    PyramidNet = load_reference(sys.argv[1])
    os.makedirs(OUT, exist_ok=True)
    counts = {}
    for dataset, depth, alpha, bottleneck, classes in PRESETS:
        m = PyramidNet(dataset, depth, alpha, classes, bottleneck)
        total = sum(p.numel() for p in m.parameters())
        bn = sum(p.numel() for mod in m.modules() if isinstance(mod, nn.BatchNorm2d) for p in mod.parameters())
        counts[f'{dataset}-{depth}-a{alpha}-{"bottleneck" if bottleneck else "basic"}'] = {'params': total, 'bnParams': bn}
    with open(os.path.join(OUT, 'param-counts.json'), 'w') as f:
        json.dump({'source': 'reference PyramidNet.py (dyhan0920/PyramidNet-PyTorch), sum(p.numel())', 'torch': torch.__version__, 'counts': counts}, f, indent=2)
        f.write('\n')

    gen = torch.Generator().manual_seed(20170721)
    for index, (name, dataset, depth, alpha, bottleneck, classes, size, global_pool) in enumerate(FIXTURES):
        torch.manual_seed(1000 + index)
        model = PyramidNet(dataset, depth, alpha, classes, bottleneck)
        if global_pool:
            model.avgpool = nn.AdaptiveAvgPool2d(1)
        randomize_bn(model, gen)
        x = torch.randn(4, 3, size, size, generator=gen)
        labels = torch.randint(0, classes, (4,), generator=gen)
        state = {k: v.clone() for k, v in model.state_dict().items()}

        model.eval()
        with torch.no_grad():
            eval_logits = model(x)
        model.train()
        train_logits = model(x)
        loss = F.cross_entropy(train_logits, labels)
        model.zero_grad()
        loss.backward()

        tensors = {f'weights.{k}': v for k, v in state.items()}
        tensors.update({'input.nchw': x, 'labels': labels.to(torch.int64), 'eval_logits': eval_logits,
                        'train_logits': train_logits, 'train_loss': loss.reshape(1)})
        for k, v in model.state_dict().items():
            if 'running_' in k:
                tensors[f'after_train.{k}'] = v
        for k, p in model.named_parameters():
            tensors[f'grad.{k}'] = p.grad
        meta = {'dataset': dataset, 'depth': str(depth), 'alpha': str(alpha), 'bottleneck': str(bottleneck).lower(),
                'classes': str(classes), 'size': str(size), 'torch': torch.__version__}
        write_safetensors(os.path.join(OUT, f'{name}.safetensors'), tensors, meta)
        print(name, sum(p.numel() for p in model.parameters()), 'params')


if __name__ == '__main__':
    main()
