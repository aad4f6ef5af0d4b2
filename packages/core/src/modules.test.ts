import { describe, expect, it } from 'vitest';
import { isMissingModule } from './modules';

// The messages are Node 20's own, copied from a project where vega-lite and mnist were not
// installed and vega was present but missed its dependency vega-util.
const nodeError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('isMissingModule', () => {
  it('recognises a package that is not installed, through import and require', () => {
    expect(isMissingModule(nodeError('ERR_MODULE_NOT_FOUND', "Cannot find package 'vega-lite' imported from /tmp/p/[eval]"), 'vega-lite')).toBe(true);
    expect(isMissingModule(nodeError('MODULE_NOT_FOUND', "Cannot find module 'vega-lite'\nRequire stack:\n- /tmp/p/[eval]"), 'vega-lite')).toBe(true);
  });

  it('recognises a file of a package that is not installed', () => {
    expect(isMissingModule(nodeError('MODULE_NOT_FOUND', "Cannot find module 'mnist/package.json'\nRequire stack:\n- /tmp/p/[eval]"), 'mnist')).toBe(true);
  });

  it('does not take a present package that misses a dependency of its own for a missing one', () => {
    const error = nodeError('ERR_MODULE_NOT_FOUND', "Cannot find package 'vega-util' imported from /tmp/p/node_modules/vega/build/vega.js");
    expect(isMissingModule(error, 'vega')).toBe(false);
    expect(isMissingModule(error, 'vega-util')).toBe(true);
  });

  it('does not take one package for another whose name it starts', () => {
    expect(isMissingModule(nodeError('ERR_MODULE_NOT_FOUND', "Cannot find package 'vega-lite' imported from /tmp/p/[eval]"), 'vega')).toBe(false);
  });

  it("recognises a bundler's resolve error, and nothing without a not-found code or wording", () => {
    expect(isMissingModule(new Error('Could not resolve "webgpu"'), 'webgpu')).toBe(true);
    expect(isMissingModule(new Error("'webgpu' failed to initialise"), 'webgpu')).toBe(false);
  });
});
