#!/usr/bin/env python3
"""Image decoding and preprocessing fixtures from PIL and torchvision, as PyTorch's data loaders see images.

Writes, under packages/datasets/test/fixtures/pil/:
  cifar-*.jpg                  CIFAR-10 test JPEGs taken unchanged from ../shared/data/cifar10-jpeg.tar.gz
  photo-*.jpg, png-*.png       sample images of several sizes, aspect ratios and encodings, made here
                               from CIFAR-10 test images (a mosaic upscaled with PIL's bicubic filter,
                               with a fine ring pattern that aliases when shrunk without a low-pass)
  expected.json                for every sample: PIL's decoded size and the SHA-256 of its RGB and L
                               pixels (Image.open(f).convert('RGB'|'L').tobytes()); for every
                               preprocessing case: the torchvision transform applied to the PIL image
                               and the output file; the RandomResizedCrop windows drawn by torchvision's
                               own RandomResizedCrop.get_params with its random numbers replaced by
                               given uniforms
  out-*.png                    the preprocessing cases' outputs (lossless)

usage: /usr/bin/python3 tools/reference/make_image_fixtures.py
needs: Debian's python3-pil, python3-torch and python3-torchvision (0.14), run as /usr/bin/python3.
"""
import hashlib
import io
import json
import math
import os
import random
import tarfile

import torch
import torchvision
import torchvision.transforms as T
from PIL import Image, ImageDraw

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'packages', 'datasets', 'test', 'fixtures', 'pil')
ARCHIVE = os.path.join(ROOT, '..', 'shared', 'data', 'cifar10-jpeg.tar.gz')
CIFAR = ['test/airplane/0000.jpg', 'test/cat/0001.jpg', 'test/dog/0002.jpg', 'test/frog/0003.jpg', 'test/ship/0004.jpg', 'test/truck/0005.jpg']


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def cifar_members():
    with tarfile.open(ARCHIVE) as tar:
        names = set(tar.getnames())
        members = {}
        for n in CIFAR:
            # the archive may or may not prefix its members with ./
            name = n if n in names else './' + n
            members[n] = tar.extractfile(name).read()
        mosaic_names = sorted(m for m in names if m.lstrip('./').startswith('test/') and m.endswith('.jpg'))[:48]
        tiles = [Image.open(io.BytesIO(tar.extractfile(m).read())).convert('RGB') for m in mosaic_names]
    return members, tiles


def photo(tiles, width, height, seed):
    """A photo-like image: CIFAR tiles upscaled, plus rings of rising frequency."""
    rng = random.Random(seed)
    cols, rows = 4, 3
    canvas = Image.new('RGB', (cols * 32, rows * 32))
    for r in range(rows):
        for c in range(cols):
            canvas.paste(rng.choice(tiles), (c * 32, r * 32))
    image = canvas.resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(image)
    cx, cy = width * 0.7, height * 0.35
    for radius in range(int(min(width, height) * 0.3), 0, -2):
        shade = 255 if (radius // 2) % 2 else 0
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=(shade, shade, shade))
    return image


def save_jpeg(image, name, **options):
    buffer = io.BytesIO()
    image.save(buffer, 'JPEG', **options)
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(buffer.getvalue())


def save_png(image, name):
    image.save(os.path.join(OUT, name), 'PNG')


class TapeRandom:
    """Stands in for torch.empty(1).uniform_ and torch.randint inside torchvision's get_params."""

    def __init__(self, uniforms):
        self.uniforms = list(uniforms)
        self.used = 0

    def next(self):
        u = self.uniforms[self.used]
        self.used += 1
        return u

    def empty(self, *size, **kwargs):
        tape = self

        class Draw:
            def uniform_(self, low, high):
                # torch draws a float32 tensor: low + (high - low) * u, rounded to float32
                return torch.tensor([float(low) + (float(high) - float(low)) * tape.next()], dtype=torch.float32)

        return Draw()

    def randint(self, low, high, size=None):
        return torch.tensor([low + math.floor(self.next() * (high - low))])


def rrc_windows():
    """Windows drawn by torchvision's RandomResizedCrop.get_params from given uniforms."""
    cases = []
    rng = random.Random(16)
    sizes = [(500, 375), (375, 500), (224, 224), (1000, 120), (120, 1000), (33, 17), (640, 427)]
    settings = [((0.08, 1.0), (3 / 4, 4 / 3)), ((0.5, 1.0), (3 / 4, 4 / 3)), ((0.9, 1.0), (1.0, 1.0)), ((0.08, 0.3), (0.5, 2.0))]
    original_empty, original_randint = torch.empty, torch.randint
    try:
        for width, height in sizes:
            for scale, ratio in settings:
                for _ in range(10):
                    uniforms = [rng.random() for _ in range(40)]
                    tape = TapeRandom(uniforms)
                    torch.empty, torch.randint = tape.empty, tape.randint
                    top, left, h, w = T.RandomResizedCrop.get_params(Image.new('RGB', (width, height)), list(scale), list(ratio))
                    torch.empty, torch.randint = original_empty, original_randint
                    cases.append({'width': width, 'height': height, 'scale': list(scale), 'ratio': list(ratio), 'uniforms': uniforms[: tape.used], 'box': {'top': int(top), 'left': int(left), 'height': int(h), 'width': int(w)}})
    finally:
        torch.empty, torch.randint = original_empty, original_randint
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    members, tiles = cifar_members()
    samples = []
    for n in CIFAR:
        name = 'cifar-' + n.split('/')[1] + '-' + n.split('/')[2]
        with open(os.path.join(OUT, name), 'wb') as f:
            f.write(members[n])
        samples.append(name)
    photos = {'photo-500x375.jpg': (500, 375), 'photo-375x500.jpg': (375, 500), 'photo-640x427.jpg': (640, 427), 'photo-300x300.jpg': (300, 300), 'photo-97x61.jpg': (97, 61)}
    for i, (name, (w, h)) in enumerate(photos.items()):
        save_jpeg(photo(tiles, w, h, i), name, quality=90)
        samples.append(name)
    # Other JPEG encodings: progressive, no chroma subsampling, greyscale.
    save_jpeg(photo(tiles, 320, 200, 10), 'photo-progressive-320x200.jpg', quality=85, progressive=True)
    save_jpeg(photo(tiles, 200, 320, 11), 'photo-444-200x320.jpg', quality=95, subsampling=0)
    save_jpeg(photo(tiles, 256, 171, 12).convert('L'), 'photo-grey-256x171.jpg', quality=90)
    samples += ['photo-progressive-320x200.jpg', 'photo-444-200x320.jpg', 'photo-grey-256x171.jpg']
    # PNG: RGB, RGBA, greyscale, palette.
    base = photo(tiles, 120, 90, 13)
    save_png(base, 'png-rgb-120x90.png')
    rgba = base.copy()
    rgba.putalpha(Image.linear_gradient('L').resize((120, 90)))
    save_png(rgba, 'png-rgba-120x90.png')
    save_png(base.convert('L'), 'png-grey-120x90.png')
    save_png(base.convert('P', palette=Image.ADAPTIVE, colors=64), 'png-palette-120x90.png')
    samples += ['png-rgb-120x90.png', 'png-rgba-120x90.png', 'png-grey-120x90.png', 'png-palette-120x90.png']

    decoded = []
    for name in samples:
        image = Image.open(os.path.join(OUT, name))
        rgb, grey = image.convert('RGB'), image.convert('L')
        decoded.append({'file': name, 'width': image.width, 'height': image.height, 'rgb': sha256(rgb.tobytes()), 'l': sha256(grey.tobytes())})

    cases = []

    def case(source, label, transform, spec, mode='RGB'):
        image = Image.open(os.path.join(OUT, source)).convert(mode)
        out = transform(image)
        name = 'out-%s-%s.png' % (source.rsplit('.', 1)[0], label)
        save_png(out, name)
        cases.append({'source': source, 'channels': 3 if mode == 'RGB' else 1, 'transform': spec, 'file': name, 'width': out.width, 'height': out.height})

    eval224 = T.Compose([T.Resize(256), T.CenterCrop(224)])
    for source in ['photo-500x375.jpg', 'photo-375x500.jpg', 'photo-640x427.jpg', 'photo-97x61.jpg']:
        case(source, 'resize256-crop224', eval224, {'resize': 256, 'crop': [224, 224]})
    for source in ['photo-500x375.jpg', 'photo-375x500.jpg', 'photo-300x300.jpg']:
        case(source, 'resize64', T.Resize(64), {'resize': 64})
    case('photo-640x427.jpg', 'resize-50x80', T.Resize((50, 80)), {'resize': [50, 80]})
    case('photo-640x427.jpg', 'resize-37-crop31', T.Compose([T.Resize(37), T.CenterCrop(31)]), {'resize': 37, 'crop': [31, 31]})
    case('photo-97x61.jpg', 'crop-80x120', T.CenterCrop((80, 120)), {'crop': [80, 120]})
    case('photo-300x300.jpg', 'crop-99x100', T.CenterCrop((99, 100)), {'crop': [99, 100]})
    case('photo-grey-256x171.jpg', 'grey-resize28', T.Resize(28), {'resize': 28}, mode='L')
    # RandomResizedCrop's pixels: a fixed window, cropped and resized as torchvision's resized_crop does.
    for source, (top, left, h, w) in [('photo-500x375.jpg', (40, 113, 201, 270)), ('photo-375x500.jpg', (3, 0, 372, 297)), ('photo-640x427.jpg', (100, 300, 60, 45))]:
        case(source, 'resized-crop-%d-%d-%d-%d' % (top, left, h, w), lambda im, b=(top, left, h, w): torchvision.transforms.functional.resized_crop(im, *b, [224, 224]), {'window': {'top': top, 'left': left, 'height': h, 'width': w}, 'size': 224})

    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump({'pil': Image.__version__, 'torchvision': torchvision.__version__, 'decoded': decoded, 'cases': cases, 'randomResizedCrop': rrc_windows()}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
