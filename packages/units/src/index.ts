export {
  additiveWidths,
  multiplicativeWidths,
  widths,
  roundWidth,
  type Widening,
  type WideningSchedule,
  type WidthRounding,
} from './schedules';
export { Module, ModuleList, type ForwardContext, type NamedTensor } from './module';
export { Conv2d, BatchNorm2d, Linear, convOutputSize, convMacs, type ConvSpec } from './layers';
export { UNIT_DESIGNS, DEFAULT_UNIT_DESIGN, type UnitDesign, type UnitDesignName } from './designs';
export { Shortcut, hasProjection, type ShortcutType } from './shortcut';
export { ShakeDrop, linearKeepProbabilities, type ShakeDropGate } from './shakedrop';
export {
  PyramidalUnit,
  BasicUnit,
  BottleneckUnit,
  createUnit,
  unitConvolutions,
  type UnitConvolution,
  UNIT_EXPANSION,
  type UnitOptions,
  type UnitType,
} from './units';
