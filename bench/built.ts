/**
 * The benchmark measures the built package (dist/, what `npm run build` makes and production
 * runs), not a second compilation of src/. Its modules are imported from dist/ at run time and
 * type-checked against their sources: `built<typeof import('../src/x.js')>('x.js')`.
 *
 * (A static import of ../src/ would run a copy compiled into dist-bench/src/, where the paths
 * that modules resolve from their own location, such as proto/ and data/, do not exist.)
 */
const DIST = new URL('../../dist/', import.meta.url);

export async function built<Module>(path: string): Promise<Module> {
  return (await import(new URL(path, DIST).href)) as Module;
}

/** The CLI entry point the benchmark runs as a subprocess. */
export const CLI_BIN = new URL('cli/bin.js', DIST).pathname;
