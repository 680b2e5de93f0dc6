// Fault drill (support/fault-drill.ts): Redis stopped mid-run (its AOF kept) and started again 7 s later.
// Runs side by side with other suites: it restarts a Redis server of the drill's own, never the one the
// other runs share, and what it asserts (nothing lost, twice or shown wrongly) must hold however busy the
// machine is.
import { describeDrills } from '../support/drill-suite';

describeDrills('redis-restart', [{ kind: 'redis-restart' }]);
