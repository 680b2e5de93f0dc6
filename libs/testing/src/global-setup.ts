import { provideInfra, type StartedInfra } from './infra';

declare global {
  var __ternInfra: StartedInfra | undefined;
}

/** Jest globalSetup for the integration and e2e projects. */
export default async function globalSetup(): Promise<void> {
  globalThis.__ternInfra = await provideInfra();
}
