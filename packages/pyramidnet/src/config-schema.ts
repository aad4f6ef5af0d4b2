import { z } from 'zod';
import type { ModelGeometry } from './geometry';

/**
 * Bounds of what a checkpoint or a run may describe, checked before anything is built. They are
 * far above the paper's models (depth 272, alpha 480, 1000 classes, 224x224 images) and far below
 * what would exhaust memory while a model is being allocated.
 */
export const ARCHITECTURE_LIMITS = {
  depth: 2000,
  alpha: 10_000,
  classes: 100_000,
  imageSide: 8192,
  channels: 4,
  /** Convolution and fc weights of one model (4 GB of float32). */
  weights: 1_000_000_000,
  classNameLength: 1000,
} as const;

const L = ARCHITECTURE_LIMITS;
const count = (max: number) => z.number().int().min(1).max(max);

export const imageShapeSchema = z.object({
  height: count(L.imageSide),
  width: count(L.imageSide),
  channels: count(L.channels),
});

export const architectureSchema = z.object({
  layout: z.enum(['cifar', 'imagenet']),
  depth: count(L.depth),
  alpha: z.number().positive().max(L.alpha),
  classes: count(L.classes),
  unit: z.enum(['basic', 'bottleneck']).optional(),
  widening: z.enum(['additive', 'multiplicative']).optional(),
  rounding: z.enum(['half-even', 'half-up']).optional(),
  design: z.string().optional(),
  shortcut: z.enum(['zero-pad', 'projection']).optional(),
  shakeDrop: z
    .object({ lastKeep: z.number().min(0).max(1), gate: z.enum(['batch', 'image']).optional() })
    .nullable()
    .optional(),
  input: imageShapeSchema.optional(),
});

export const normalizationSchema = z.object({
  mean: z.array(z.number()).min(1).max(L.channels),
  std: z.array(z.number().positive()).min(1).max(L.channels),
  scale: z.union([z.literal(1), z.literal(255)]),
});

export const preprocessingSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('center-crop'), resize: count(L.imageSide) }),
  z.object({ kind: z.literal('stretch') }),
]);

export const inputSpecSchema = z.object({
  shape: imageShapeSchema,
  normalization: normalizationSchema,
  classNames: z.array(z.string().max(L.classNameLength)).min(1).max(L.classes),
  preprocessing: preprocessingSchema.optional(),
});

/** The first problem zod found, as one line: `path: message`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path.map(String).join('.');
  return `${path ? `'${path}'` : 'the document'}: ${issue.message}`;
}

/** Convolution and fc weights of a model, from its geometry alone: nothing is allocated. */
export function weightCount(geometry: ModelGeometry): number {
  const { fc } = geometry.head;
  return geometry.convs.reduce((n, c) => n + c.kernelSize * c.kernelSize * c.inChannels * c.outChannels, 0) + fc.inFeatures * fc.outFeatures;
}
