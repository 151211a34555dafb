/**
 * Flags of the test child programs (`--name value` pairs only): parsed once, with `required` failing
 * loudly on a missing one, so a harness mistake names the flag instead of misbehaving later.
 */
export interface ChildArgs {
  get(name: string): string | undefined;
  required(name: string): string;
}

/** Parses `--flag value` pairs; anything else is a harness bug and throws. */
export function childArgs(argv: readonly string[] = process.argv.slice(2)): ChildArgs {
  const values = new Map<string, string>();
  for (let position = 0; position < argv.length; position += 2) {
    const flag = argv[position]!;
    if (!flag.startsWith('--') || argv[position + 1] === undefined) throw new Error(`bad argument ${flag}`);
    values.set(flag.slice(2), argv[position + 1]!);
  }
  return {
    get: (name) => values.get(name),
    required(name) {
      const value = values.get(name);
      if (value === undefined) throw new Error(`--${name} is required`);
      return value;
    },
  };
}
