// Fault drills over the whole platform (see support/fault-drill.ts). CI runs a few of a couple of thousand
// OTPs each; `./tern drill <fault>...` runs any of them (TERN_DRILLS, TERN_DRILL_MESSAGES) at full size.
// Runs side by side with other suites: CI's drills here crash the run's own processes, and what they
// assert (nothing lost, twice or shown wrongly) must hold however busy the machine is.
import { describeDrills } from './drills';
import { ALL_FAULTS, parseFault } from '../support/fault-drill';

/** CI's: a crash of each service on the path of a message and its receipt. */
const CI_DRILLS = ['kill:router', 'kill:smpp-connector', 'kill:dlr'];
const chosen = process.env['TERN_DRILLS'] ?? CI_DRILLS.join(',');

describeDrills(
  process.env['TERN_DRILL_SUITE'] ?? 'fault-drills',
  chosen === 'all'
    ? ALL_FAULTS
    : chosen
        .split(',')
        .filter((f) => f.trim() !== '')
        .map((f) => parseFault(f.trim())),
);
