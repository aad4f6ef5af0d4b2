/**
 * State that every copy of this package in a process shares, kept on globalThis under a
 * registered symbol. A program (or two of its dependencies) may load both the ES module and the
 * CommonJS build, each with its own module-level variables; what must exist once per process (the
 * backend registry, the kernels installed into tfjs's process-wide kernel registry, the memory
 * pools attached to the one tfjs backend) lives here instead. `name` carries a version suffix, to
 * be raised when the shape of its value changes, so that two releases never share a value of
 * another shape.
 */
export function processWide<T>(name: string, create: () => T): T {
  const slots = globalThis as unknown as Record<symbol, T | undefined>;
  const key = Symbol.for(`@pyramid/core.${name}`);
  return (slots[key] ??= create());
}
