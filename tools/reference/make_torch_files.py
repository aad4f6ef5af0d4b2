#!/usr/bin/env python3
"""Files written by torch.save, to test reading PyTorch weights as people have them.

The weights are the small reference model of packages/pyramidnet/test/fixtures/cifar-basic-8-a12-odd
.safetensors (PyramidNet-8, alpha 12, 10 classes, global pooling, 17x17 inputs): that fixture's
'weights.' tensors are loaded into the reference PyramidNet (dyhan0920/PyramidNet-PyTorch,
PyramidNet.py, imported from a checkout given on the command line) and saved the ways releases and
the reference's train.py save them. Writes, under packages/pyramidnet/test/fixtures/torch/:
  state-dict.pt              torch.save(model.state_dict())
  data-parallel.pth          torch.save(nn.DataParallel(model).state_dict()): keys prefixed 'module.'
  reference-checkpoint.pth.tar  train.py's save_checkpoint dict: epoch, arch, state_dict (DataParallel),
                             best_err1, best_err5, optimizer (SGD state after one step)
  wrapped-model.pt           {'model': state_dict, 'epoch': 7}
  float16.pt, bfloat16.pt    the state_dict with floating tensors cast to float16 / bfloat16
  float16.safetensors, bfloat16.safetensors  their twins, written by the minimal writer below
  views.pt                   every tensor a view into one shared storage, at an offset; the conv
                             and fc weights with permuted (non-contiguous) strides
  malicious.pt               a torch.save whose pickle calls os.system (must be refused, never run)
  legacy-checkpoint.pth.tar  the reference checkpoint dict in torch.save's legacy (pre-1.6) format,
                             as the reference's releases were saved
  legacy-malicious.pt        malicious.pt's object in the legacy format

usage: /usr/bin/python3 make_torch_files.py PATH/TO/PyramidNet-PyTorch
needs: PyTorch (Debian: apt-get install python3-torch).
"""
import copy
import os
import sys

import torch
import torch.nn as nn

from reference_io import load_reference, reference_weights, write_safetensors

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
FIXTURES = os.path.join(ROOT, 'packages', 'pyramidnet', 'test', 'fixtures')
SOURCE = os.path.join(FIXTURES, 'cifar-basic-8-a12-odd.safetensors')
OUT = os.path.join(FIXTURES, 'torch')







def reference_model(checkout):
    model = load_reference(checkout)('cifar10', 8, 12, 10, False)
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    weights = reference_weights(SOURCE)
    model.load_state_dict(weights)
    return model


def shared_views(state):
    """The same values, each tensor a strided view into one storage at its own offset."""
    floats = [k for k, v in state.items() if v.is_floating_point()]
    pool = torch.zeros(sum(state[k].numel() for k in floats) + 7)
    out, offset = {}, 7
    for k, v in state.items():
        if not v.is_floating_point():
            out[k] = v
            continue
        n = v.numel()
        if v.dim() == 4:
            # Stored as [H, W, I, O] and viewed as [O, I, H, W]: strides not in decreasing order.
            region = pool[offset:offset + n].view(v.shape[2], v.shape[3], v.shape[1], v.shape[0])
            region.copy_(v.permute(2, 3, 1, 0))
            out[k] = region.permute(3, 2, 0, 1)
        elif v.dim() == 2:
            region = pool[offset:offset + n].view(v.shape[1], v.shape[0])
            region.copy_(v.t())
            out[k] = region.t()
        else:
            region = pool[offset:offset + n].view(v.shape)
            region.copy_(v)
            out[k] = region
        assert torch.equal(out[k], v)
        offset += n
    assert not all(t.is_contiguous() for t in out.values())
    return out


class CallsSystem:
    """Unpickling this runs os.system: what a safe reader must refuse."""

    def __reduce__(self):
        return (os.system, ('echo unpickled > pyramid-torch-pwned.txt',))


def main():
    model = reference_model(sys.argv[1])
    os.makedirs(OUT, exist_ok=True)
    state = model.state_dict()
    torch.save(state, os.path.join(OUT, 'state-dict.pt'))

    parallel = nn.DataParallel(model)
    torch.save(parallel.state_dict(), os.path.join(OUT, 'data-parallel.pth'))

    # One step on a copy gives the optimizer momentum buffers; the weights saved stay the fixture's.
    stepped = copy.deepcopy(parallel)
    optimizer = torch.optim.SGD(stepped.parameters(), 0.1, momentum=0.9, weight_decay=1e-4, nesterov=True)
    stepped.train()
    loss = stepped(torch.randn(2, 3, 17, 17, generator=torch.Generator().manual_seed(3))).logsumexp(1).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    torch.save({'epoch': 12, 'arch': 'pyramidnet', 'state_dict': parallel.state_dict(), 'best_err1': 4.31,
                'best_err5': 0.12, 'optimizer': optimizer.state_dict()},
               os.path.join(OUT, 'reference-checkpoint.pth.tar'))
    torch.save({'epoch': 12, 'arch': 'pyramidnet', 'state_dict': parallel.state_dict(), 'best_err1': 4.31,
                'best_err5': 0.12, 'optimizer': optimizer.state_dict()},
               os.path.join(OUT, 'legacy-checkpoint.pth.tar'), _use_new_zipfile_serialization=False)

    torch.save({'model': state, 'epoch': 7}, os.path.join(OUT, 'wrapped-model.pt'))

    for name, dtype in [('float16', torch.float16), ('bfloat16', torch.bfloat16)]:
        cast = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
        torch.save(cast, os.path.join(OUT, f'{name}.pt'))
        write_safetensors(os.path.join(OUT, f'{name}.safetensors'), cast)

    torch.save(shared_views(state), os.path.join(OUT, 'views.pt'))
    torch.save({'conv1.weight': CallsSystem()}, os.path.join(OUT, 'malicious.pt'))
    torch.save({'conv1.weight': CallsSystem()}, os.path.join(OUT, 'legacy-malicious.pt'), _use_new_zipfile_serialization=False)
    print('torch', torch.__version__, 'wrote', sorted(os.listdir(OUT)))


if __name__ == '__main__':
    main()
