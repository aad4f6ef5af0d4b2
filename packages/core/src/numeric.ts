/**
 * max |actual - expected| / max(floor, max |expected|): an error relative to the scale of the
 * whole tensor rather than per element, so that values near zero do not dominate. `floor` keeps a
 * tensor of tiny values from being judged against its own tiny scale; with a scale of 0 the
 * absolute error is returned.
 */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 0): number {
  let diff = 0;
  let scale = floor;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? diff : diff / scale;
}
