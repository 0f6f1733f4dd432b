import { inspect } from 'node:util';

/**
 * Names a value for an error message: its type, then a short preview, e.g. `number (42)`,
 * `function (getRows)`, `Map object`, `array of length 4 ([ 'a', 1, 2, 3 ])`.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function (${value.name || 'anonymous'})`;
  if (Array.isArray(value)) return `array of length ${value.length} (${preview(value)})`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return `${name && name !== 'Object' ? `${name} object` : 'object'} (${preview(value)})`;
  }
  return `${typeof value} (${preview(value)})`;
}

function preview(value: unknown): string {
  return inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 4, maxStringLength: 40 });
}
