// Fault drill (support/fault-drill.ts): the dlr killed -9 mid-run and started again 5 s later.
// Runs side by side with other suites: it crashes the run's own processes, and what it asserts (nothing lost,
// twice or shown wrongly) must hold however busy the machine is.
import { describeDrills } from '../support/drill-suite';

describeDrills('kill-dlr', [{ kind: 'kill', service: 'dlr' }]);
