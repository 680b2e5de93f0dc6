// Fault drills on demand: `./tern drill <fault>...` (TERN_DRILLS: faults by name, or `all`; TERN_DRILL_SUITE
// names the table). CI runs its drills one file each beside it (kill-router, kill-smpp-connector, kill-dlr,
// redis-restart).
// Runs only from ./tern drill (scripts/test-all.sh leaves it out).
import { describeDrills } from '../support/drill-suite';
import { ALL_FAULTS, parseFault } from '../support/fault-drill';

const chosen = process.env['TERN_DRILLS'] ?? '';
if (chosen.trim() === '') throw new Error('name the drills in TERN_DRILLS (`./tern drill <fault>...`)');
describeDrills(
  process.env['TERN_DRILL_SUITE'] ?? 'fault-drills',
  chosen === 'all'
    ? ALL_FAULTS
    : chosen
        .split(',')
        .filter((f) => f.trim() !== '')
        .map((f) => parseFault(f.trim())),
);
