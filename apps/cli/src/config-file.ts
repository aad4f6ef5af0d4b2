import { readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './output';

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Applies a JSON or YAML file of option values to a command: keys are the long flags' names
 * (`batch-size` or `batchSize`), values what the flag takes. Flags given on the command line win.
 */
export function applyConfigFile(command: Command, file: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  let values: unknown;
  try {
    values = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'} (${(error as Error).message.split('\n')[0]})`);
  }
  if (values === null || typeof values !== 'object' || Array.isArray(values)) throw new UsageError(`${file}: expected a mapping of option names to values`);
  const options = command.options as readonly Option[];
  for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
    // `no-bn-decay: true` names the negating flag itself; `bn-decay: false` its value.
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    const byFlag = options.find((o) => o.long === flag && o.negate);
    const name = byFlag ? byFlag.attributeName() : camel(key);
    const option = byFlag ?? options.find((o) => o.attributeName() === name && !o.negate) ?? options.find((o) => o.attributeName() === name);
    if (!option || name === 'config') throw new UsageError(`${file}: unknown option '${key}' for pyramid ${command.name()}`);
    if (command.getOptionValueSource(name) === 'cli') continue;
    let parsed: unknown = value;
    if (option.argChoices && !option.argChoices.includes(String(value))) {
      throw new UsageError(`${file}: '${key}' must be one of ${option.argChoices.join(', ')}, got '${value}'`);
    }
    if (option.isBoolean() || option.negate) {
      if (typeof value !== 'boolean') throw new UsageError(`${file}: '${key}' must be true or false, got '${value}'`);
      if (byFlag) parsed = !value;
    } else if (option.parseArg && typeof value !== 'object') {
      try {
        parsed = option.parseArg(String(value), undefined as never);
      } catch (error) {
        throw error instanceof UsageError ? new UsageError(`${file}: ${error.message}`) : error;
      }
    } else if (typeof value !== 'string' && typeof value !== 'number') {
      throw new UsageError(`${file}: '${key}' must be a string or a number`);
    }
    command.setOptionValueWithSource(name, parsed, 'config');
  }
}
