import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow between full collections, in percent of what the last one kept.
 * V8 scales its own factor with the heap's limit: 4 times from an old space of 2 GB up (as Node sizes it on
 * a machine of 24 GB without a limit), down to 1.3 times at 256 MB. A pod's memory limit sizes the heap
 * small (268 MB of old space at 512Mi), and there a service ran a full collection for every third more it
 * kept: the platform took 2.3 ms of CPU a message against 1.7 at 4 times (docs/operations.md, Kubernetes).
 * The factor does not raise the heap's limit: near it V8 collects as it would. 0 leaves V8's own factor.
 * Set before the service allocates much; V8 reads it at each full collection.
 */
export function setHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
