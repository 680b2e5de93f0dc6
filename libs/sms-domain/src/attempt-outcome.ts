/**
 * The failure the connector reports when it cannot know whether the SMSC took an attempt (it died between
 * submit_sm and the answer): the attempt may have delivered. The router may send it again on its channel
 * when no other is left; dlr gives it the one delivery receipt to its handset that no submission claimed.
 */
export const OUTCOME_UNKNOWN = 'OUTCOME_UNKNOWN';
