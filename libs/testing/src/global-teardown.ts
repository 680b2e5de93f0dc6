/** Jest globalTeardown: stops containers the setup started (nothing when TERN_* endpoints were given). */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__ternInfra?.stop();
}
