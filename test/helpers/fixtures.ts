/** The metrics of a simulated telemetry message, sorted: the reference simulator's seven plus uplink_ok. */
export const SIMULATED_METRIC_NAMES = [
  'battery_pct',
  'humidity_pct',
  'pressure_psi',
  'rssi_dbm',
  'snr_db',
  'temp_c',
  'uplink_ok',
  'vibration_g',
];
