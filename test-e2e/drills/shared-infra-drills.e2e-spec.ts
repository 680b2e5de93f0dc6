// The fault drill of infrastructure every platform run shares (see support/fault-drill.ts): Redis
// restarted under traffic. It runs alone, as the restart would reach any suite running beside it.
import { describeDrills } from './drills';

describeDrills('shared-infra-drills', [{ kind: 'redis-restart' }]);
