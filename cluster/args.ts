/**
 * Command-line arguments: positionals and `--flag value` / `--flag=value` / boolean `--flag`.
 * Unknown flags are refused with INVALID_ARGUMENT so a typo never silently changes behaviour.
 */
import { ClusterError } from './errors.js';

/** Parsed arguments of one command. */
export interface ParsedArgs {
  readonly positional: readonly string[];
  readonly flags: ReadonlyMap<string, string | true>;
}

/** Parses `argv` given which flags take values and which are boolean. */
export function parseArgs(argv: readonly string[], spec: { readonly values: readonly string[]; readonly booleans: readonly string[] }): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index]!;
    if (!argument.startsWith('--') || argument === '--') {
      positional.push(argument);
      continue;
    }
    const equals = argument.indexOf('=');
    const name = argument.slice(2, equals < 0 ? undefined : equals);
    if (spec.booleans.includes(name)) {
      flags.set(name, true);
    } else if (spec.values.includes(name)) {
      const value = equals >= 0 ? argument.slice(equals + 1) : argv[++index];
      if (value === undefined) throw new ClusterError('INVALID_ARGUMENT', `--${name} needs a value`);
      flags.set(name, value);
    } else {
      throw new ClusterError('INVALID_ARGUMENT', `unknown option --${name}`);
    }
  }
  return { positional, flags };
}

/** A string flag, or the environment variable, or the fallback. */
export function flag(args: ParsedArgs, name: string, environment?: string, fallback?: string): string | undefined {
  const value = args.flags.get(name);
  if (typeof value === 'string') return value;
  if (environment !== undefined && process.env[environment] !== undefined && process.env[environment] !== '') return process.env[environment];
  return fallback;
}

/** A comma-separated list flag. */
export function listFlag(args: ParsedArgs, name: string, environment?: string): string[] {
  return (flag(args, name, environment) ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
}

/** A positive integer flag. */
export function numberFlag(args: ParsedArgs, name: string, fallback?: number): number | undefined {
  const value = flag(args, name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new ClusterError('INVALID_ARGUMENT', `--${name} must be a positive number`);
  return parsed;
}
