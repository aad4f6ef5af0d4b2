import { type ConvSpec, type UnitType, convMacs, convOutputSize, linearKeepProbabilities, unitConvolutions } from '@pyramid/units';
import type { Architecture } from './architecture';

/** Height and width of a feature map. */
export type Size = [height: number, width: number];

/** A convolution where it sits in the model: state_dict name, input and output sizes. */
export interface ConvGeometry extends ConvSpec {
  /** The convolution's name in the model, e.g. 'layer2.0.conv1'. */
  name: string;
  input: Size;
  output: Size;
  /** Multiply-accumulates per image. */
  macs: number;
}

export interface UnitGeometry {
  /** 'layer1.0': stage 1, unit 0. */
  name: string;
  type: UnitType;
  inChannels: number;
  /** The widening schedule's D_k, before the bottleneck's expansion. */
  width: number;
  outChannels: number;
  stride: 1 | 2;
  input: Size;
  output: Size;
  convs: ConvGeometry[];
  /** ShakeDrop's probability of keeping the residual branch unperturbed; absent without ShakeDrop. */
  shakeDropKeep?: number;
}

/**
 * The layers of a PyramidNet with their shapes, as the paper's Fig. 1 and the reference code lay
 * them out: the model builds from it, and the summary and the benchmarks read it.
 */
export interface ModelGeometry {
  stem: {
    conv: ConvGeometry;
    bn: { name: 'bn1'; channels: number; output: Size };
    /** ImageNet layout: ReLU and a 3x3 max-pool of stride 2 and padding 1 after the stem. */
    maxPool: { kernelSize: 3; stride: 2; padding: 1; output: Size } | null;
  };
  stages: UnitGeometry[][];
  head: {
    bn: { name: 'bn_final'; channels: number; output: Size };
    fc: { name: 'fc'; inFeatures: number; outFeatures: number; macs: number };
  };
  /** Every convolution in the order the forward pass runs them. */
  convs: ConvGeometry[];
  /** Multiply-accumulates of convolutions and fc per image. */
  macs: number;
}

function placed(conv: ConvSpec, name: string, input: Size): ConvGeometry {
  return { ...conv, name, input, output: convOutputSize(conv, ...input), macs: convMacs(conv, ...input) };
}

/** The geometry of the architecture's model, computed from shapes alone. */
export function modelGeometry(arch: Architecture): ModelGeometry {
  const imagenet = arch.layout === 'imagenet';
  const stemSpec: ConvSpec = imagenet
    ? { inChannels: arch.input.channels, outChannels: arch.stemWidth, kernelSize: 7, stride: 2, padding: 3 }
    : { inChannels: arch.input.channels, outChannels: arch.stemWidth, kernelSize: 3, stride: 1, padding: 1 };
  const stemConv = placed(stemSpec, 'conv1', [arch.input.height, arch.input.width]);
  let size = stemConv.output;
  const bn1 = { name: 'bn1' as const, channels: arch.stemWidth, output: size };
  let maxPool: ModelGeometry['stem']['maxPool'] = null;
  if (imagenet) {
    const pool = { kernelSize: 3, stride: 2, padding: 1 } as const;
    size = convOutputSize(pool, ...size);
    maxPool = { ...pool, output: size };
  }

  // The first stage keeps the resolution; every later one halves it in its first unit.
  const keep = arch.shakeDrop ? linearKeepProbabilities(arch.unitWidths.length, arch.shakeDrop.lastKeep) : null;
  let channels = arch.stemWidth;
  let k = 0;
  const stages = arch.stageUnits.map((count, s) => {
    const units: UnitGeometry[] = [];
    for (let i = 0; i < count; i++, k++) {
      const name = `layer${s + 1}.${i}`;
      const stride: 1 | 2 = s > 0 && i === 0 ? 2 : 1;
      const input = size;
      let at = input;
      const specs = unitConvolutions(arch.unit, { inChannels: channels, width: arch.unitWidths[k], stride, shortcut: arch.shortcut });
      const convs = specs.map(({ path, ...conv }) => {
        const placedConv = placed(conv, `${name}.${conv.name}`, path === 'shortcut' ? input : at);
        if (path === 'residual') at = placedConv.output;
        return placedConv;
      });
      const outChannels = specs.filter((c) => c.path === 'residual').at(-1)!.outChannels;
      units.push({
        name,
        type: arch.unit,
        inChannels: channels,
        width: arch.unitWidths[k],
        outChannels,
        stride,
        input,
        output: at,
        convs,
        ...(keep ? { shakeDropKeep: keep[k] } : {}),
      });
      channels = outChannels;
      size = at;
    }
    return units;
  });

  const fc = { name: 'fc' as const, inFeatures: arch.featureChannels, outFeatures: arch.classes, macs: arch.featureChannels * arch.classes };
  const convs = [stemConv, ...stages.flat().flatMap((u) => u.convs)];
  return {
    stem: { conv: stemConv, bn: bn1, maxPool },
    stages,
    head: { bn: { name: 'bn_final', channels: arch.featureChannels, output: size }, fc },
    convs,
    macs: convs.reduce((n, c) => n + c.macs, 0) + fc.macs,
  };
}
